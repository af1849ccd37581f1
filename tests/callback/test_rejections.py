"""What every callback refuses: bad signatures, stale or odd timestamps, hostile bodies,
broken ciphertext, messages for another app; and the control with nothing wrong."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from flask_wechat.crypto import sign
from flask_wechat.parsing import to_xml
from flask_wechat.sandbox import SANDBOX_APP_ID
from flask_wechat.testing import DEFAULT_ORIGINAL_ID, DEFAULT_USER

from .conftest import (
    ALWAYS_ENCRYPTED,
    ENCRYPTED,
    ENCRYPTED_JSON,
    ENCRYPTED_XML,
    PLAIN,
    PLAIN_JSON,
    PLAIN_XML,
    TOKEN,
    XML,
    Fields,
    Platform,
    wrongly_padded,
)

# == the control: nothing wrong ==========================================================


def test_a_good_request_gets_through(platform: Platform) -> None:
    """The control for every rejection below: the same setup with nothing wrong."""
    body, _query = platform.good_request()
    if platform.fmt == "json":
        assert json.loads(body)["ToUserName"] == DEFAULT_ORIGINAL_ID
    result = platform.client.send(platform.client.message("text", Content="hello"))
    assert result.status_code == 200
    assert platform.reply_of(result) == "a handler ran"
    assert [m.content for m in platform.handled] == ["hello"]
    assert len(platform.received.calls) == 1
    assert platform.rejected.calls == []
    if not platform.passive:
        assert (result.status_code, result.response.get_data()) == (200, b"success")
        assert platform.sandbox.sent == [
            {
                "touser": DEFAULT_USER,
                "msgtype": "text",
                "text": {"content": "a handler ran"},
                "kind": "custom",
                "app_id": SANDBOX_APP_ID,
            }
        ]


# == signatures ==========================================================================


@pytest.mark.parametrize("platform", PLAIN, indirect=True)
@pytest.mark.parametrize("tamper", ["wrong-token", "missing", "other-nonce"])
def test_rejects_a_bad_signature(platform: Platform, tamper: str) -> None:
    body, query = platform.good_request()
    if tamper == "missing":
        del query["signature"]
    elif tamper == "wrong-token":
        query["signature"] = sign("not-the-token", query["timestamp"], query["nonce"])
    else:
        query["signature"] = sign(TOKEN, query["timestamp"], "another-nonce")
    response = platform.client.post(body, query)
    platform.assert_rejected(response, 403, "signature")


@pytest.mark.parametrize("platform", ENCRYPTED, indirect=True)
@pytest.mark.parametrize("tamper", ["zeros", "missing", "over-other-ciphertext", "wrong-token"])
def test_rejects_a_bad_msg_signature(platform: Platform, tamper: str) -> None:
    body, query = platform.good_request()
    ts, nonce = query["timestamp"], query["nonce"]
    if tamper == "missing":
        del query["msg_signature"]
    elif tamper == "zeros":
        query["msg_signature"] = "0" * 40
    elif tamper == "over-other-ciphertext":
        query["msg_signature"] = sign(TOKEN, ts, nonce, "other")
    else:
        encrypt = str(platform.parse(body)["Encrypt"])
        query["msg_signature"] = sign("not-the-token", ts, nonce, encrypt)
    response = platform.client.post(body, query)
    platform.assert_rejected(response, 403, "signature")


# == timestamps ==========================================================================


@pytest.mark.parametrize(
    "offset", [-301, -3600, -86400, 3600], ids=["301s-old", "an-hour-old", "a-day-old", "future"]
)
def test_rejects_a_stale_timestamp(platform: Platform, offset: int) -> None:
    body, query = platform.good_request(timestamp=int(time.time()) + offset)
    response = platform.client.post(body, query)
    platform.assert_rejected(response, 403, "timestamp")


@pytest.mark.parametrize("offset", [-120, 60], ids=["2-minutes-old", "a-minute-ahead"])
def test_accepts_a_timestamp_inside_the_window(platform: Platform, offset: int) -> None:
    result = platform.client.send(
        platform.client.message("text", Content="fresh"), timestamp=int(time.time()) + offset
    )
    assert result.status_code == 200
    assert platform.reply_of(result) == "a handler ran"
    assert [m.content for m in platform.handled] == ["fresh"]


@pytest.mark.parametrize("platform", PLAIN, indirect=True)
@pytest.mark.parametrize("timestamp", ["tomorrow", "", "-5", "1.7e9", "17000000000000"])
def test_rejects_a_non_numeric_timestamp(platform: Platform, timestamp: str) -> None:
    body, query = platform.good_request()
    query["timestamp"] = timestamp
    query["signature"] = sign(TOKEN, timestamp, query["nonce"])
    response = platform.client.post(body, query)
    platform.assert_rejected(response, 400, "timestamp")


# == hostile bodies ======================================================================


@pytest.mark.parametrize("platform", PLAIN_XML, indirect=True)
@pytest.mark.parametrize(
    "body",
    [
        b"<xml><ToUserName>unclosed",
        b"this is not xml",
        b"<xml><a>1</a></xml><xml><b>2</b></xml>",
        b"<xml>&undefined;</xml>",
        b"<xml/>",
        b"\xff\xfe\x00<\x00x\x00",
    ],
    ids=["unclosed", "prose", "two-roots", "undefined-entity", "no-fields", "binary"],
)
def test_rejects_malformed_xml(platform: Platform, body: bytes) -> None:
    _body, query = platform.good_request()
    response = platform.client.post(body, query)
    platform.assert_rejected(response, 400, "xml", "utf-8")


@pytest.mark.parametrize("platform", ENCRYPTED_XML, indirect=True)
@pytest.mark.parametrize(
    "body",
    [
        b"<xml><ToUserName>unclosed",
        b'<!DOCTYPE xml [<!ENTITY e "x">]><xml><Encrypt>&e;</Encrypt></xml>',
        b"<xml><ToUserName>ww</ToUserName><AgentID>1</AgentID></xml>",
    ],
    ids=["unclosed", "doctype", "no-encrypt"],
)
def test_a_malformed_envelope_is_refused(platform: Platform, body: bytes) -> None:
    _body, query = platform.good_request()
    response = platform.client.post(body, query)
    platform.assert_rejected(response, 400, "xml", "DOCTYPE", "Encrypt")


@pytest.mark.parametrize("platform", XML, indirect=True)
def test_rejects_a_doctype(platform: Platform) -> None:
    body, query = platform.good_request()
    response = platform.client.post(b"<!DOCTYPE xml [<!ELEMENT xml ANY>]>" + body, query)
    platform.assert_rejected(response, 400, "DOCTYPE")


@pytest.mark.parametrize("platform", XML, indirect=True)
def test_rejects_internal_entities_billion_laughs(platform: Platform) -> None:
    _body, query = platform.good_request()
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    body = (
        f"<?xml version='1.0'?><!DOCTYPE xml [{entities}]>"
        f"<xml><ToUserName>{DEFAULT_ORIGINAL_ID}</ToUserName><FromUserName>u</FromUserName>"
        "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&lol9;</Content></xml>"
    )
    response = platform.client.post(body.encode(), query)
    platform.assert_rejected(response, 400, "entit", "DOCTYPE", "well-formed")


@pytest.mark.parametrize("platform", XML, indirect=True)
@pytest.mark.parametrize("entity", ["general", "parameter"])
def test_rejects_external_entities_xxe(platform: Platform, tmp_path: Path, entity: str) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("TOP-SECRET-CONTENTS")
    _body, query = platform.good_request()
    if entity == "general":
        doctype = f'<!DOCTYPE xml [<!ENTITY xxe SYSTEM "{secret_file.as_uri()}">]>'
        content = "&xxe;"
    else:
        doctype = f'<!DOCTYPE xml [<!ENTITY % xxe SYSTEM "{secret_file.as_uri()}"> %xxe;]>'
        content = "x"
    body = (
        f"{doctype}<xml><ToUserName>{DEFAULT_ORIGINAL_ID}</ToUserName>"
        f"<FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType>"
        f"<Content>{content}</Content></xml>"
    )
    response = platform.client.post(body.encode(), query)
    reason = platform.assert_rejected(response, 400, "DOCTYPE")
    assert "TOP-SECRET" not in reason


def test_rejects_a_body_over_one_mebibyte(platform: Platform) -> None:
    client = platform.client
    body, query = client.encode(client.message("text", Content="x" * (1024 * 1024)))
    assert len(body) > 1024 * 1024
    response = client.post(body, query)
    platform.assert_rejected(response, 413, "large")


def test_rejects_an_empty_body(platform: Platform) -> None:
    _body, query = platform.good_request()
    response = platform.client.post(b"", query)
    platform.assert_rejected(response, 400, "empty")


def test_rejects_a_message_without_msgtype(platform: Platform) -> None:
    fields = platform.client.message("text", Content="typeless")
    del fields["MsgType"]
    body, query = platform.client.encode(fields)
    response = platform.client.post(body, query)
    platform.assert_rejected(response, 400, "MsgType")


# == ciphertext ==========================================================================


@pytest.mark.parametrize("platform", ENCRYPTED, indirect=True)
def test_rejects_a_message_encrypted_for_another_app_id(platform: Platform) -> None:
    plaintext = platform.plaintext(platform.client.message("text", Content="hi"))
    body, query = platform.sealed_request(plaintext, receive_id="wwANOTHERAPP00000001")
    response = platform.client.post(body, query)
    platform.assert_rejected(response, 403, "AppID")


@pytest.mark.parametrize("platform", ENCRYPTED, indirect=True)
def test_the_same_construction_for_our_app_id_is_accepted(platform: Platform) -> None:
    """The control for the AppID rejection: the same construction with the right AppID."""
    plaintext = platform.plaintext(platform.client.message("text", Content="hi"))
    body, query = platform.sealed_request(plaintext)
    response = platform.client.post(body, query)
    assert response.status_code == 200
    assert [message.content for message in platform.handled] == ["hi"]
    if not platform.passive:
        assert response.get_data() == b"success"


@pytest.mark.parametrize("platform", ENCRYPTED, indirect=True)
@pytest.mark.parametrize("style", ["zeros", "over-32", "inconsistent"])
def test_rejects_bad_padding(platform: Platform, style: str) -> None:
    plaintext = platform.plaintext(platform.client.message("text", Content="hi"))
    encrypt = wrongly_padded(plaintext, platform.account.app_id or "", style)
    body, query = platform.with_encrypt(encrypt)
    response = platform.client.post(body, query)
    platform.assert_rejected(response, 400, "padding")


@pytest.mark.parametrize("platform", ENCRYPTED, indirect=True)
@pytest.mark.parametrize(
    ("encrypt", "keyword"),
    [("this is *not* base64!", "base64"), ("QUJD", "32"), ("QUJ", "base64")],
    ids=["bad-alphabet", "too-short", "bad-length"],
)
def test_rejects_broken_base64_in_encrypt(platform: Platform, encrypt: str, keyword: str) -> None:
    body, query = platform.with_encrypt(encrypt)
    response = platform.client.post(body, query)
    platform.assert_rejected(response, 400, keyword)


@pytest.mark.parametrize("platform", PLAIN, indirect=True)
def test_rejects_an_encrypted_request_to_an_account_without_aes_key(platform: Platform) -> None:
    plaintext = platform.plaintext(platform.client.message("text", Content="x"))
    body, query = platform.sealed_request(plaintext)
    response = platform.client.post(body, query)
    platform.assert_rejected(response, 400, "EncodingAESKey")


# == accounts that take only ciphertext ==================================================


@pytest.mark.parametrize("platform", ALWAYS_ENCRYPTED, indirect=True)
def test_a_plain_signature_instead_of_msg_signature_is_refused(platform: Platform) -> None:
    """A plaintext-mode ``signature`` instead of ``msg_signature``."""
    body, query = platform.good_request()
    del query["msg_signature"]
    query["signature"] = sign(TOKEN, query["timestamp"], query["nonce"])
    response = platform.client.post(body, query)
    platform.assert_rejected(response, 403, "signature")


@pytest.mark.parametrize("platform", ALWAYS_ENCRYPTED, indirect=True)
def test_a_plaintext_post_is_refused(platform: Platform) -> None:
    """A signed plaintext message must not get through to an account that is never sent one."""
    fields = platform.client.message("text", Content="unencrypted")
    ts, nonce = str(int(time.time())), "plain-nonce"
    query = {
        "signature": sign(TOKEN, ts, nonce),
        "msg_signature": sign(TOKEN, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
    }
    response = platform.client.post(platform.serialise(fields), query)
    platform.assert_rejected(response, None, "Encrypt", "encrypted")


# == JSON accounts =======================================================================


@pytest.mark.parametrize("platform", PLAIN_JSON, indirect=True)
@pytest.mark.parametrize(
    "body",
    [
        b'{"ToUserName": "gh_0123456789ab", "MsgType": ',
        b"{'ToUserName': 'single quotes'}",
        b'{"MsgType": "text",}',
        b"\xff\xfe\xfa not even text",
    ],
    ids=["truncated", "single-quotes", "trailing-comma", "binary"],
)
def test_rejects_malformed_json(platform: Platform, body: bytes) -> None:
    _body, query = platform.good_request()
    response = platform.client.post(body, query)
    platform.assert_rejected(response, 400, "json")


@pytest.mark.parametrize("platform", PLAIN_JSON, indirect=True)
@pytest.mark.parametrize(
    "body",
    [b"[]", b'[{"MsgType": "text", "FromUserName": "u"}]', b'"text"', b"42", b"null"],
    ids=["empty-array", "array-of-message", "string", "number", "null"],
)
def test_rejects_a_json_value_that_is_not_an_object(platform: Platform, body: bytes) -> None:
    _body, query = platform.good_request()
    response = platform.client.post(body, query)
    platform.assert_rejected(response, 400, "object", "json")


@pytest.mark.parametrize("platform", PLAIN_JSON, indirect=True)
def test_rejects_an_xml_body_to_a_json_account(platform: Platform) -> None:
    client = platform.client
    fields = client.message("text", Content="hello")
    _body, query = client.encode(fields)
    response = client.post(to_xml(fields).encode(), query)
    platform.assert_rejected(response, 400, "json")


@pytest.mark.parametrize("platform", ENCRYPTED_JSON, indirect=True)
def test_rejects_an_xml_envelope_to_a_json_account_in_safe_mode(platform: Platform) -> None:
    body, query = platform.good_request()
    encrypt = json.loads(body)["Encrypt"]
    xml_envelope = (
        f"<xml><ToUserName><![CDATA[{DEFAULT_ORIGINAL_ID}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    )
    response = platform.client.post(xml_envelope, query)
    platform.assert_rejected(response, 400, "json")


@pytest.mark.parametrize("platform", ENCRYPTED_JSON, indirect=True)
@pytest.mark.parametrize(
    "inner", [b"[1, 2, 3]", b"{not json", b"<xml><MsgType>text</MsgType></xml>"]
)
def test_rejects_an_encrypted_payload_that_is_not_a_json_object(
    platform: Platform, inner: bytes
) -> None:
    body, query = platform.sealed_request(inner)
    response = platform.client.post(body, query)
    platform.assert_rejected(response, 400, "json", "object")


@pytest.mark.parametrize("platform", PLAIN_JSON, indirect=True)
@pytest.mark.parametrize(
    "fields",
    [
        {"ToUserName": "gh", "FromUserName": "u", "CreateTime": 1},
        {"ToUserName": "gh", "FromUserName": ["u"], "CreateTime": 1, "MsgType": "text"},
        {"ToUserName": "gh", "FromUserName": "u", "CreateTime": 1, "MsgType": {"x": "text"}},
        {"ToUserName": "gh", "FromUserName": "u", "CreateTime": "yesterday", "MsgType": "text"},
    ],
    ids=["no-msgtype", "sender-list", "msgtype-object", "bad-createtime"],
)
def test_rejects_a_json_object_that_is_not_a_message(platform: Platform, fields: Fields) -> None:
    _body, query = platform.good_request()
    response = platform.client.post(json.dumps(fields), query)
    platform.assert_rejected(response, 400, "MsgType", "FromUserName", "CreateTime")
