"""WeCom (企业微信) application callbacks: always encrypted.

URL verification answers the *decrypted* echostr; POSTs carry
``<ToUserName/><AgentID/><Encrypt/>`` signed into ``msg_signature``; passive
replies are encrypted XML addressed back (UserID ← CorpID). WeChat's own
published vectors (token ``QDG6eK``) are played byte for byte, then every
message and event type round-trips through an app configured for a
:class:`~flask_wechat.sandbox.Sandbox` WeCom corp.
"""

from __future__ import annotations

import secrets
import time
import typing as t
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from flask import Flask

from flask_wechat import (
    Article,
    ImageReply,
    Message,
    NewsReply,
    Reply,
    TextReply,
    VideoReply,
    VoiceReply,
    WeChat,
    signals,
)
from flask_wechat.crypto import MessageCrypto, sign
from flask_wechat.parsing import to_xml
from flask_wechat.sandbox import SANDBOX_CORP_ID, Sandbox
from flask_wechat.testing import Recorder, WeChatTestClient

from ..rejections import assert_refused

Fields = dict[str, t.Any]

TOKEN = "wecom-callback-token"
# 43 characters, as the WeCom admin console generates an EncodingAESKey.
AES_KEY = "abcdefghijABCDEFGHIJ0123456789klmnopqrstuvw"
AGENT_ID = 1000002
OTHER_AGENT_ID = 1000099
USER = "ZhangSan"

# -- WeChat's published WeCom vectors (加解密方案说明, the official WXBizMsgCrypt samples) --
VECTOR_TOKEN = "QDG6eK"
VECTOR_CORP_ID = "wx5823bf96d3bd56c7"
VECTOR_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
VECTOR_AGENT_ID = 218

VERIFY_SIGNATURE = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
VERIFY_TIMESTAMP = "1409659589"
VERIFY_NONCE = "263014780"
VERIFY_ECHOSTR = (
    "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
)
VERIFY_PLAIN = "1616140317555161061"

POST_SIGNATURE = "477715d11cdb4164915debcba66cb864d751f3e6"
POST_TIMESTAMP = "1409659813"
POST_NONCE = "1372623149"
POST_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3Qczcd"
    "CUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd"
    "4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2"
    "r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Nc"
    "x4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2u"
    "yPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
POST_BODY = (
    f"<xml><ToUserName><![CDATA[{VECTOR_CORP_ID}]]></ToUserName>"
    f"<Encrypt><![CDATA[{POST_ENCRYPT}]]></Encrypt>"
    f"<AgentID><![CDATA[{VECTOR_AGENT_ID}]]></AgentID></xml>"
)
POST_MESSAGE = {
    "ToUserName": VECTOR_CORP_ID,
    "FromUserName": "mycreate",
    "CreateTime": "1409659813",
    "MsgType": "text",
    "Content": "hello",
    "MsgId": "4561255354251345929",
    "AgentID": "218",
}

# The second key set of the WeCom Python sample (sbzhu/weworkapi_python callback/Sample.py);
# both signatures are published; the plaintexts were computed from them.
SECOND_TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
SECOND_AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
SECOND_CORP_ID = "ww1436e0e65a779aee"
SECOND_VERIFY = (
    "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
    "1476416373",
    "47744683",
    "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==",
)
SECOND_VERIFY_PLAIN = "1288432023552776189"
SECOND_POST = ("0c3914025cb4b4d68103f6bfc8db550f79dcf48e", "1476422779", "1597212914")
SECOND_ENCRYPT = (
    "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAg"
    "GzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9"
    "U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qAR"
    "R4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6a"
    "SDPOYuPDGOCI8jmnKiypE+"
)
SECOND_BODY = (
    f"<xml><ToUserName><![CDATA[{SECOND_CORP_ID}]]></ToUserName>\n"
    f"<Encrypt><![CDATA[{SECOND_ENCRYPT}]]></Encrypt>\n"
    "<AgentID><![CDATA[1000002]]></AgentID>\n</xml>"
)


def stringify(value: t.Any) -> t.Any:
    """Sent fields after the XML round trip: every leaf a string."""
    if isinstance(value, dict):
        return {key: stringify(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [stringify(item) for item in value]
    return str(value)


def answering(log: list[str], answer: str) -> t.Callable[[Message], str]:
    """A handler that notes ``answer`` in ``log`` and replies with it."""

    def handler(message: Message) -> str:
        log.append(answer)
        return answer

    return handler


class Work(t.NamedTuple):
    """A WeCom app on the sandbox's corp, and a client playing WeCom against it."""

    app: Flask
    wechat: WeChat
    client: WeChatTestClient


def make_work(sandbox: Sandbox, **config: t.Any) -> Work:
    app = Flask("wecom_test_app")
    app.config.update(sandbox.flask_config("work"))
    app.config.update(
        TESTING=True,
        WECHAT_TOKEN=TOKEN,
        WECHAT_ENCODING_AES_KEY=AES_KEY,
        WECHAT_AGENT_ID=AGENT_ID,
    )
    app.config.update(config)
    wechat = WeChat(app)
    return Work(app, wechat, WeChatTestClient(app, user=USER))


@pytest.fixture
def work(sandbox: Sandbox) -> Work:
    return make_work(sandbox)


def vector_app(**config: t.Any) -> tuple[Flask, WeChat]:
    """The corp of WeChat's published vectors; their timestamps are from 2014."""
    app = Flask("wecom_vector_app")
    app.config.update(
        TESTING=True,
        WECHAT_KIND="work",
        WECHAT_APP_ID=VECTOR_CORP_ID,
        WECHAT_APP_SECRET="vector-secret",
        WECHAT_TOKEN=VECTOR_TOKEN,
        WECHAT_ENCODING_AES_KEY=VECTOR_AES_KEY,
        WECHAT_AGENT_ID=VECTOR_AGENT_ID,
        WECHAT_REPLAY_WINDOW=0,
    )
    app.config.update(config)
    return app, WeChat(app)


def assert_encrypted_reply_to(work: Work, response: t.Any, user: str = USER) -> Fields:
    """The answer is an encrypted passive reply to ``user`` from the corp; its fields."""
    assert response.status_code == 200
    assert response.mimetype in ("application/xml", "text/xml")
    envelope = ET.fromstring(response.get_data())
    assert sorted(child.tag for child in envelope) == sorted(
        ["Encrypt", "MsgSignature", "TimeStamp", "Nonce"]
    )
    reply, encrypted = work.client.decode_reply(response)  # checks MsgSignature too
    assert encrypted is True
    assert reply is not None
    assert reply["ToUserName"] == user
    assert reply["FromUserName"] == SANDBOX_CORP_ID
    assert reply["CreateTime"].isdigit()
    return reply


# == configuration ======================================================================


def test_the_account_is_a_wecom_app(work: Work) -> None:
    account = work.app.extensions["wechat"].account()
    assert account.kind == "work"
    assert account.app_id == SANDBOX_CORP_ID
    assert account.receive_id == SANDBOX_CORP_ID
    assert account.agent_id == AGENT_ID
    assert work.client.mode == "safe"
    assert work.client.original_id == SANDBOX_CORP_ID


def test_messages_from_the_test_client_carry_the_agent_id(work: Work) -> None:
    body, query = work.client.encode(work.client.message("text", Content="hi"))
    envelope = ET.fromstring(body)
    assert envelope.findtext("AgentID") == str(AGENT_ID)
    assert envelope.findtext("ToUserName") == SANDBOX_CORP_ID
    assert envelope.findtext("Content") is None  # only the ciphertext travels
    assert set(query) == {"msg_signature", "timestamp", "nonce"}


# == URL verification ===================================================================


@pytest.mark.parametrize(
    "echostr", ["6123587443208154101", "echo-短语-😀", "with spaces + plus / slash="]
)
def test_url_verification_answers_the_decrypted_echostr(work: Work, echostr: str) -> None:
    response = work.client.verify_url(echostr)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == echostr


def test_url_verification_never_echoes_the_ciphertext(work: Work) -> None:
    crypto = work.client.crypto
    assert crypto is not None
    ts, nonce = str(int(time.time())), "verify-nonce"
    encrypted = crypto.encrypt_raw("the-plaintext")
    query = {
        "msg_signature": sign(TOKEN, ts, nonce, encrypted),
        "timestamp": ts,
        "nonce": nonce,
        "echostr": encrypted,
    }
    response = work.app.test_client().get("/wechat", query_string=query)
    assert response.get_data(as_text=True) == "the-plaintext"
    assert encrypted not in response.get_data(as_text=True)


def published_query(echostr: str = VERIFY_ECHOSTR) -> dict[str, str]:
    return {
        "msg_signature": VERIFY_SIGNATURE,
        "timestamp": VERIFY_TIMESTAMP,
        "nonce": VERIFY_NONCE,
        "echostr": echostr,
    }


def test_published_url_vector() -> None:
    app, _wechat = vector_app()
    response = app.test_client().get("/wechat", query_string=published_query())
    assert response.status_code == 200
    assert response.get_data(as_text=True) == VERIFY_PLAIN


def test_published_url_vector_as_the_published_request_line() -> None:
    app, _wechat = vector_app()
    encoded = quote(VERIFY_ECHOSTR, safe="")
    assert "%2B" in encoded
    assert "%2F" in encoded
    url = (
        f"/wechat?msg_signature={VERIFY_SIGNATURE}&timestamp={VERIFY_TIMESTAMP}"
        f"&nonce={VERIFY_NONCE}&echostr={encoded}"
    )
    response = app.test_client().get(url)
    assert (response.status_code, response.get_data(as_text=True)) == (200, VERIFY_PLAIN)


def test_published_url_vector_with_plus_decoded_as_spaces() -> None:
    """A proxy that decoded the query once already leaves "+" unescaped; URL-decoding
    it again turns every "+" into a space."""
    app, _wechat = vector_app()
    mangled = VERIFY_ECHOSTR.replace("+", " ")
    assert mangled.count(" ") == 2
    response = app.test_client().get("/wechat", query_string=published_query(mangled))
    assert (response.status_code, response.get_data(as_text=True)) == (200, VERIFY_PLAIN)


def test_published_url_vector_with_a_literal_plus_in_the_url() -> None:
    app, _wechat = vector_app()
    raw_echostr = VERIFY_ECHOSTR.replace("/", "%2F").replace("=", "%3D")  # "+" left raw
    url = (
        f"/wechat?msg_signature={VERIFY_SIGNATURE}&timestamp={VERIFY_TIMESTAMP}"
        f"&nonce={VERIFY_NONCE}&echostr={raw_echostr}"
    )
    response = app.test_client().get(url)
    assert (response.status_code, response.get_data(as_text=True)) == (200, VERIFY_PLAIN)


def test_published_url_vector_is_stale_inside_the_default_replay_window() -> None:
    """Why the vector tests set WECHAT_REPLAY_WINDOW=0: its timestamp is from 2014."""
    app, _wechat = vector_app(WECHAT_REPLAY_WINDOW=300)
    rejected = Recorder()
    with signals.request_rejected.connected_to(rejected, app):
        response = app.test_client().get("/wechat", query_string=published_query())
    assert response.status_code == 403
    assert VERIFY_PLAIN not in response.get_data(as_text=True)
    assert "timestamp" in response.get_data(as_text=True)
    assert len(rejected.calls) == 1


def test_second_published_url_vector() -> None:
    app, _wechat = vector_app(
        WECHAT_APP_ID=SECOND_CORP_ID,
        WECHAT_TOKEN=SECOND_TOKEN,
        WECHAT_ENCODING_AES_KEY=SECOND_AES_KEY,
        WECHAT_AGENT_ID=1000002,
    )
    signature, ts, nonce, echostr = SECOND_VERIFY
    query = {"msg_signature": signature, "timestamp": ts, "nonce": nonce, "echostr": echostr}
    response = app.test_client().get("/wechat", query_string=query)
    assert (response.status_code, response.get_data(as_text=True)) == (200, SECOND_VERIFY_PLAIN)


# == the published POST vector ============================================================


def test_published_post_vector_reaches_a_text_handler() -> None:
    app, wechat = vector_app()
    seen: list[Message] = []

    @wechat.on("text")
    def echo(message: Message) -> TextReply:
        seen.append(message)
        return TextReply(f"you said {message.content}")

    query = {"msg_signature": POST_SIGNATURE, "timestamp": POST_TIMESTAMP, "nonce": POST_NONCE}
    response = app.test_client().post(
        "/wechat", query_string=query, data=POST_BODY, content_type="text/xml"
    )
    assert response.status_code == 200

    [message] = seen
    assert message.type == "text"
    assert message.content == "hello"
    assert message.source == "mycreate"
    assert message.target == VECTOR_CORP_ID
    assert message.id == 4561255354251345929
    assert message.create_time == 1409659813
    assert message.agent_id == "218"
    assert message.raw == POST_MESSAGE

    crypto = MessageCrypto(VECTOR_TOKEN, VECTOR_AES_KEY, VECTOR_CORP_ID)
    envelope = ET.fromstring(response.get_data())
    encrypt = envelope.findtext("Encrypt") or ""
    assert envelope.findtext("MsgSignature") == sign(
        VECTOR_TOKEN,
        envelope.findtext("TimeStamp") or "",
        envelope.findtext("Nonce") or "",
        encrypt,
    )
    reply = ET.fromstring(crypto.decrypt_raw(encrypt))
    assert reply.findtext("ToUserName") == "mycreate"
    assert reply.findtext("FromUserName") == VECTOR_CORP_ID
    assert reply.findtext("MsgType") == "text"
    assert reply.findtext("Content") == "you said hello"


def test_published_post_vector_with_agent_id_filters() -> None:
    app, wechat = vector_app()
    chosen: list[str] = []
    wechat.on("text", agent_id=999)(answering(chosen, "other"))
    wechat.on("text", agent_id=VECTOR_AGENT_ID)(answering(chosen, "218"))
    query = {"msg_signature": POST_SIGNATURE, "timestamp": POST_TIMESTAMP, "nonce": POST_NONCE}
    response = app.test_client().post("/wechat", query_string=query, data=POST_BODY)
    assert response.status_code == 200
    assert chosen == ["218"]


def test_second_published_post_vector() -> None:
    app, wechat = vector_app(
        WECHAT_APP_ID=SECOND_CORP_ID,
        WECHAT_TOKEN=SECOND_TOKEN,
        WECHAT_ENCODING_AES_KEY=SECOND_AES_KEY,
        WECHAT_AGENT_ID=1000002,
    )
    seen: list[Message] = []
    wechat.on("text")(seen.append)
    signature, ts, nonce = SECOND_POST
    query = {"msg_signature": signature, "timestamp": ts, "nonce": nonce}
    response = app.test_client().post("/wechat", query_string=query, data=SECOND_BODY)
    assert (response.status_code, response.get_data()) == (200, b"success")
    [message] = seen
    assert (message.source, message.content, message.id) == ("ChenJiaShun", "你好", 1456453720)
    assert message.agent_id == "1000002"
    assert message.target == SECOND_CORP_ID


# == rejections ===========================================================================


class Guarded(t.NamedTuple):
    """A WeCom app whose handlers and signals record everything that reaches them."""

    work: Work
    handled: list[Message]
    received: Recorder
    rejected: Recorder

    @property
    def client(self) -> WeChatTestClient:
        return self.work.client

    def good_post(self) -> tuple[bytes, dict[str, str]]:
        return self.client.encode(self.client.message("text", Content="hello"))

    def assert_rejected(self, response: t.Any, *keywords: str, status: int | None = None) -> str:
        return assert_refused(
            response,
            status,
            keywords,
            app=self.work.app,
            account="default",
            rejected=self.rejected,
            handled=self.handled,
            received=self.received,
        )


@pytest.fixture
def guarded(work: Work) -> Iterator[Guarded]:
    handled: list[Message] = []

    @work.wechat.on()
    @work.wechat.on("text")
    def record(message: Message) -> str:
        handled.append(message)
        return "a handler ran"

    received, rejected = Recorder(), Recorder()
    with (
        signals.message_received.connected_to(received, work.app),
        signals.request_rejected.connected_to(rejected, work.app),
    ):
        yield Guarded(work, handled, received, rejected)


def verify_query(crypto: MessageCrypto, plaintext: str = "echo-me") -> dict[str, str]:
    """A correct WeCom verification query for ``plaintext`` sealed by ``crypto``."""
    ts, nonce = str(int(time.time())), "v" + secrets.token_hex(4)
    echostr = crypto.encrypt_raw(plaintext)
    return {
        "msg_signature": sign(crypto.token, ts, nonce, echostr),
        "timestamp": ts,
        "nonce": nonce,
        "echostr": echostr,
    }


def test_guard_lets_good_requests_through(guarded: Guarded) -> None:
    """The control for every rejection below: the same app with nothing wrong."""
    crypto = guarded.client.crypto
    assert crypto is not None
    get = guarded.work.app.test_client().get("/wechat", query_string=verify_query(crypto))
    assert (get.status_code, get.get_data(as_text=True)) == (200, "echo-me")
    result = guarded.client.text("hello")
    assert result.content == "a handler ran"
    assert [m.content for m in guarded.handled] == ["hello"]
    assert guarded.rejected.calls == []


@pytest.mark.parametrize(
    "tamper", ["zeros", "missing", "other-echostr", "without-echostr", "wrong-token"]
)
def test_get_with_a_bad_msg_signature_is_refused(guarded: Guarded, tamper: str) -> None:
    crypto = guarded.client.crypto
    assert crypto is not None
    query = verify_query(crypto, "do-not-leak")
    ts, nonce = query["timestamp"], query["nonce"]
    if tamper == "zeros":
        query["msg_signature"] = "0" * 40
    elif tamper == "missing":
        del query["msg_signature"]
    elif tamper == "other-echostr":
        query["msg_signature"] = sign(TOKEN, ts, nonce, crypto.encrypt_raw("do-not-leak"))
    elif tamper == "without-echostr":  # an Official Account's signature, not WeCom's
        query["msg_signature"] = sign(TOKEN, ts, nonce)
    else:
        query["msg_signature"] = sign("not-the-token", ts, nonce, query["echostr"])
    response = guarded.work.app.test_client().get("/wechat", query_string=query)
    reason = guarded.assert_rejected(response, "signature", status=403)
    assert "do-not-leak" not in reason


@pytest.mark.parametrize("echostr", [None, ""], ids=["absent", "empty"])
def test_get_without_echostr_is_refused(guarded: Guarded, echostr: str | None) -> None:
    ts, nonce = str(int(time.time())), "nonce"
    query = {"msg_signature": sign(TOKEN, ts, nonce, ""), "timestamp": ts, "nonce": nonce}
    if echostr is not None:
        query["echostr"] = echostr
    response = guarded.work.app.test_client().get("/wechat", query_string=query)
    guarded.assert_rejected(response, "echostr")


def test_get_with_an_echostr_for_another_corp_is_refused(guarded: Guarded) -> None:
    other = MessageCrypto(TOKEN, AES_KEY, "wwANOTHERCORP00001")
    response = guarded.work.app.test_client().get(
        "/wechat", query_string=verify_query(other, "secret-echo")
    )
    reason = guarded.assert_rejected(response, "AppID", "CorpID", status=403)
    assert "secret-echo" not in reason


def test_get_with_a_stale_timestamp_is_refused(guarded: Guarded) -> None:
    crypto = guarded.client.crypto
    assert crypto is not None
    ts, nonce = str(int(time.time()) - 3600), "nonce"
    echostr = crypto.encrypt_raw("too-old")
    query = {
        "msg_signature": sign(TOKEN, ts, nonce, echostr),
        "timestamp": ts,
        "nonce": nonce,
        "echostr": echostr,
    }
    response = guarded.work.app.test_client().get("/wechat", query_string=query)
    guarded.assert_rejected(response, "timestamp", status=403)


def test_post_with_an_official_account_signature_is_refused(guarded: Guarded) -> None:
    """A plaintext-mode ``signature`` instead of ``msg_signature`` (the other tampers are
    in tests/test_callback.py)."""
    body, query = guarded.good_post()
    del query["msg_signature"]
    query["signature"] = sign(TOKEN, query["timestamp"], query["nonce"])
    response = guarded.client.post(body, query)
    guarded.assert_rejected(response, "signature", status=403)


def test_a_plaintext_post_is_refused(guarded: Guarded) -> None:
    """WeCom never sends plaintext; a signed plaintext message must not get through."""
    fields = guarded.client.message("text", Content="unencrypted")
    ts, nonce = str(int(time.time())), "plain-nonce"
    query = {
        "signature": sign(TOKEN, ts, nonce),
        "msg_signature": sign(TOKEN, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
    }
    response = guarded.client.post(to_xml(fields).encode(), query)
    guarded.assert_rejected(response, "Encrypt", "encrypted")


# == messages =============================================================================

MESSAGE_CASES: list[tuple[str, Fields, Fields]] = [
    # (MsgType, fields WeCom sends, attributes the handler reads)
    ("text", {"Content": "你好，企业微信 ]]> 😀"}, {"content": "你好，企业微信 ]]> 😀"}),
    (
        "image",
        {"PicUrl": "https://wework.qpic.cn/photo.jpg", "MediaId": "wecom-image-media"},
        {"pic_url": "https://wework.qpic.cn/photo.jpg", "media_id": "wecom-image-media"},
    ),
    (
        "voice",
        {"MediaId": "wecom-voice-media", "Format": "amr"},
        {"media_id": "wecom-voice-media", "format": "amr", "content": None},
    ),
    (
        "video",
        {"MediaId": "wecom-video-media", "ThumbMediaId": "wecom-thumb"},
        {"media_id": "wecom-video-media", "thumb_media_id": "wecom-thumb"},
    ),
    (
        "location",
        {
            "Location_X": "23.134",
            "Location_Y": "113.358",
            "Scale": "20",
            "Label": "广州市海珠区",
            "AppType": "wxwork",
        },
        {
            "location_x": "23.134",
            "location_y": "113.358",
            "scale": "20",
            "label": "广州市海珠区",
            "app_type": "wxwork",
        },
    ),
    (
        "link",
        {
            "Title": "企业微信",
            "Description": "链接描述",
            "Url": "https://work.weixin.qq.com/",
            "PicUrl": "https://work.weixin.qq.com/logo.png",
        },
        {
            "title": "企业微信",
            "description": "链接描述",
            "url": "https://work.weixin.qq.com/",
            "pic_url": "https://work.weixin.qq.com/logo.png",
        },
    ),
]


@pytest.mark.parametrize(
    ("msg_type", "fields", "attributes"), MESSAGE_CASES, ids=[case[0] for case in MESSAGE_CASES]
)
def test_message_round_trip(work: Work, msg_type: str, fields: Fields, attributes: Fields) -> None:
    seen: list[Message] = []

    @work.wechat.on(msg_type)
    def handle(message: Message) -> TextReply:
        seen.append(message)
        return TextReply(f"got {message.type} from {message.source}")

    work.wechat.on()(lambda message: "the default handler must not answer")

    sent = work.client.message(msg_type, **fields)
    result = work.client.send(sent)

    reply = assert_encrypted_reply_to(work, result.response)
    assert reply["MsgType"] == "text"
    assert reply["Content"] == f"got {msg_type} from {USER}"
    [message] = seen
    assert message.type == msg_type
    assert message.event is None
    assert message.source == USER
    assert message.target == SANDBOX_CORP_ID
    assert message.id == sent["MsgId"]
    assert message.create_time == sent["CreateTime"]
    assert message.agent_id == str(AGENT_ID)
    assert message.account == "default"
    for name, value in attributes.items():
        assert getattr(message, name) == value, name
    assert message.raw == stringify(sent)


# == events ===============================================================================

SCAN_INFO = {"ScanType": "qrcode", "ScanResult": "https://work.weixin.qq.com/scan"}
PICS = {
    "Count": 2,
    "PicList": [{"PicMd5Sum": "5a75aaca956d97be686719218f275c6b"}, {"PicMd5Sum": "e2"}],
}
SENT_LOCATION = {
    "Location_X": "23.106",
    "Location_Y": "113.320",
    "Scale": "15",
    "Label": "广州市海珠区客村艺苑路 106号",
    "Poiname": "艺苑",
}
BATCH_JOB = {"JobId": "S0MrnndvRG5fadSlLwiBqiDDbM143UqTmKP3152FZk4", "JobType": "sync_user"}

EVENT_CASES: list[tuple[str, str, str, Fields, Fields]] = [
    # (id, Event as WeCom spells it, handler name, fields, attributes the handler reads)
    ("subscribe", "subscribe", "subscribe", {}, {"event_key": None}),
    ("enter-agent", "enter_agent", "enter_agent", {"EventKey": ""}, {"event_key": ""}),
    (
        "location-event",
        "LOCATION",
        "location_event",
        {"Latitude": "23.104", "Longitude": "113.320", "Precision": "65.0", "AppType": "wxwork"},
        {"latitude": "23.104", "longitude": "113.320", "precision": "65.0", "app_type": "wxwork"},
    ),
    ("click", "click", "click", {"EventKey": "MENU_KEY_1"}, {"event_key": "MENU_KEY_1"}),
    (
        "view",
        "view",
        "view",
        {"EventKey": "https://work.weixin.qq.com/"},
        {"event_key": "https://work.weixin.qq.com/"},
    ),
    (
        "scancode-push",
        "scancode_push",
        "scancode_push",
        {"EventKey": "scan-1", "ScanCodeInfo": SCAN_INFO},
        {"event_key": "scan-1", "scan_type": "qrcode", "scan_result": SCAN_INFO["ScanResult"]},
    ),
    (
        "scancode-waitmsg",
        "scancode_waitmsg",
        "scancode_waitmsg",
        {"EventKey": "scan-2", "ScanCodeInfo": SCAN_INFO},
        {"scan_code_info": SCAN_INFO, "scan_result": SCAN_INFO["ScanResult"]},
    ),
    (
        "pic-sysphoto",
        "pic_sysphoto",
        "pic_sysphoto",
        {"EventKey": "photo", "SendPicsInfo": PICS},
        {"count": "2", "pic_list": stringify(PICS["PicList"]), "send_pics_info": stringify(PICS)},
    ),
    (
        "pic-photo-or-album",
        "pic_photo_or_album",
        "pic_photo_or_album",
        {"EventKey": "album", "SendPicsInfo": PICS},
        {"count": "2", "event_key": "album"},
    ),
    (
        "pic-weixin",
        "pic_weixin",
        "pic_weixin",
        {"EventKey": "wx", "SendPicsInfo": {"Count": 1, "PicList": [{"PicMd5Sum": "aa11"}]}},
        {"count": "1", "pic_list": [{"PicMd5Sum": "aa11"}]},
    ),
    (
        "location-select",
        "location_select",
        "location_select",
        {"EventKey": "where", "SendLocationInfo": SENT_LOCATION},
        {
            "location_x": "23.106",
            "location_y": "113.320",
            "label": SENT_LOCATION["Label"],
            "poiname": "艺苑",
            "send_location_info": SENT_LOCATION,
        },
    ),
    (
        "batch-job-result",
        "batch_job_result",
        "batch_job_result",
        {"BatchJob": {**BATCH_JOB, "ErrCode": 0, "ErrMsg": "ok"}},
        {
            "job_id": BATCH_JOB["JobId"],
            "job_type": "sync_user",
            "err_code": "0",
            "err_msg": "ok",
            "batch_job": {**BATCH_JOB, "ErrCode": "0", "ErrMsg": "ok"},
        },
    ),
    (
        "batch-job-result-failed",
        "batch_job_result",
        "batch_job_result",
        {
            "BatchJob": {
                "JobId": "job-2",
                "JobType": "replace_party",
                "ErrCode": 60001,
                "ErrMsg": "x",
            }
        },
        {"job_id": "job-2", "job_type": "replace_party", "err_code": "60001", "err_msg": "x"},
    ),
]


@pytest.mark.parametrize(
    ("event", "name", "fields", "attributes"),
    [case[1:] for case in EVENT_CASES],
    ids=[case[0] for case in EVENT_CASES],
)
def test_event_round_trip(
    work: Work, event: str, name: str, fields: Fields, attributes: Fields
) -> None:
    seen: list[Message] = []

    @work.wechat.on(name)
    def handle(message: Message) -> str:
        seen.append(message)
        return f"{message.dispatch_name} handled"

    work.wechat.on()(lambda message: "the default handler must not answer")

    sent = work.client.event_message(event, **fields)
    result = work.client.send(sent)

    reply = assert_encrypted_reply_to(work, result.response)
    assert reply["Content"] == f"{name} handled"
    [message] = seen
    assert message.type == "event"
    assert message.is_event is True
    assert message.event == event.lower()
    assert message.dispatch_name == name
    assert message.source == USER
    assert message.target == SANDBOX_CORP_ID
    assert message.agent_id == str(AGENT_ID)
    for attribute, value in attributes.items():
        assert getattr(message, attribute) == value, attribute
    assert message.raw == stringify(sent)


CONTACT_CHANGES: list[tuple[str, Fields, Fields]] = [
    # (ChangeType, fields besides ChangeType, attributes the handler reads)
    (
        "create_user",
        {
            "UserID": "lisi",
            "Name": "李四",
            "Department": "1,2,3",
            "MainDepartment": "1",
            "IsLeaderInDept": "1,0,0",
            "Position": "产品经理",
            "Mobile": "13800000000",
            "Gender": "1",
            "Email": "lisi@example.com",
            "Status": "1",
            "Alias": "lisi-alias",
        },
        {
            "user_id": "lisi",
            "department": "1,2,3",
            "main_department": "1",
            "is_leader_in_dept": "1,0,0",
            "position": "产品经理",
            "mobile": "13800000000",
            "status": "1",
        },
    ),
    (
        "update_user",
        {"UserID": "lisi", "NewUserID": "lisi2", "Position": "总监"},
        {"user_id": "lisi", "new_user_id": "lisi2", "position": "总监"},
    ),
    ("delete_user", {"UserID": "lisi"}, {"user_id": "lisi"}),
    (
        "create_party",
        {"Id": "2", "Name": "研发部", "ParentId": "1", "Order": "1"},
        {"parent_id": "1", "order": "1"},
    ),
    ("update_party", {"Id": "2", "Name": "研发中心", "ParentId": "1"}, {"parent_id": "1"}),
    ("delete_party", {"Id": "2"}, {}),
    (
        "update_tag",
        {
            "TagId": "1",
            "AddUserItems": "zhangsan,lisi",
            "DelUserItems": "wangwu",
            "AddPartyItems": "1,2",
            "DelPartyItems": "3",
        },
        {
            "tag_id": "1",
            "add_user_items": "zhangsan,lisi",
            "del_user_items": "wangwu",
            "add_party_items": "1,2",
            "del_party_items": "3",
        },
    ),
]


@pytest.mark.parametrize(
    ("change_type", "fields", "attributes"),
    CONTACT_CHANGES,
    ids=[case[0] for case in CONTACT_CHANGES],
)
def test_change_contact(work: Work, change_type: str, fields: Fields, attributes: Fields) -> None:
    seen: list[Message] = []

    @work.wechat.on("change_contact")
    def contact(message: Message) -> None:
        seen.append(message)

    typed = Recorder()
    sent = work.client.event_message("change_contact", ChangeType=change_type, **fields)
    with signals.change_contact.connected_to(typed, work.app):
        result = work.client.send(sent)

    assert (result.status_code, result.text) == (200, "success")
    [message] = seen
    assert message.dispatch_name == "change_contact"
    assert message.event == "change_contact"
    assert message.change_type == change_type
    for attribute, value in attributes.items():
        assert getattr(message, attribute) == value, attribute
    # Every field is kept with WeCom's own names (``Name`` and ``Id`` too).
    assert message.raw == stringify(sent)
    assert [call["message"].change_type for call in typed.calls] == [change_type]


def test_click_key_filter(work: Work) -> None:
    keys: list[str] = []

    @work.wechat.on("click", key="MENU_GOOD")
    def good(message: Message) -> str:
        keys.append(message.event_key)
        return "thanks"

    @work.wechat.on("CLICK")
    def other(message: Message) -> str:
        keys.append("other:" + message.event_key)
        return "other key"

    assert work.client.event("click", EventKey="MENU_GOOD").content == "thanks"
    assert work.client.event("click", EventKey="MENU_ELSE").content == "other key"
    assert keys == ["MENU_GOOD", "other:MENU_ELSE"]


def test_the_location_event_is_not_the_location_message(work: Work) -> None:
    names: list[str] = []
    work.wechat.on("location")(answering(names, "message"))
    work.wechat.on("location_event")(answering(names, "event"))
    event_signal, message_signal = Recorder(), Recorder()
    with (
        signals.location_event.connected_to(event_signal, work.app),
        signals.location.connected_to(message_signal, work.app),
    ):
        result = work.client.event("LOCATION", Latitude="1", Longitude="2", Precision="3")
    assert result.content == "event"
    assert names == ["event"]
    assert len(event_signal.calls) == 1
    assert message_signal.calls == []


# == the agent_id filter ==================================================================


def test_a_handler_for_another_agent_is_skipped(work: Work) -> None:
    ran: list[str] = []

    @work.wechat.on("text", agent_id=OTHER_AGENT_ID)
    def other_agent(message: Message) -> str:
        ran.append("other")
        return "from the other agent's handler"

    @work.wechat.on("text", agent_id=AGENT_ID)
    def this_agent(message: Message) -> str:
        ran.append("this")
        return "from this agent's handler"

    result = work.client.text("which agent?")
    assert result.content == "from this agent's handler"
    assert ran == ["this"]


def test_agent_id_filter_follows_the_message_s_agent(work: Work) -> None:
    work.wechat.on("text", agent_id=OTHER_AGENT_ID)(lambda message: "other agent")
    work.wechat.on("text")(lambda message: "any agent")
    to_other = work.client.message("text", Content="hi", AgentID=OTHER_AGENT_ID)
    assert work.client.send(to_other).content == "other agent"
    assert work.client.text("hi").content == "any agent"


def test_agent_id_filter_on_events_and_the_default_handler(work: Work) -> None:
    seen: list[str] = []
    work.wechat.on("enter_agent", agent_id=OTHER_AGENT_ID)(answering(seen, "wrong agent"))
    work.wechat.on(agent_id=AGENT_ID)(answering(seen, "welcome"))
    result = work.client.event("enter_agent", EventKey="")
    assert result.content == "welcome"
    assert seen == ["welcome"]


def test_no_handler_for_this_agent_answers_success(work: Work) -> None:
    work.wechat.on("text", agent_id=OTHER_AGENT_ID)(lambda message: "not for you")
    result = work.client.text("anyone?")
    assert (result.status_code, result.text) == (200, "success")


# == replies ==============================================================================

REPLY_CASES: list[tuple[str, Reply | str, Fields]] = [
    ("text", TextReply("已收到 ]]> 😀"), {"MsgType": "text", "Content": "已收到 ]]> 😀"}),
    ("str", "a plain string", {"MsgType": "text", "Content": "a plain string"}),
    ("image", ImageReply("wecom-img"), {"MsgType": "image", "Image": {"MediaId": "wecom-img"}}),
    ("voice", VoiceReply("wecom-voc"), {"MsgType": "voice", "Voice": {"MediaId": "wecom-voc"}}),
    (
        "video",
        VideoReply("wecom-vid", title="标题", description="描述"),
        {
            "MsgType": "video",
            "Video": {"MediaId": "wecom-vid", "Title": "标题", "Description": "描述"},
        },
    ),
    (
        "news",
        NewsReply([Article("公告", "内容", "https://img.example/1.png", "https://example/1")]),
        {
            "MsgType": "news",
            "ArticleCount": "1",
            "Articles": [
                {
                    "Title": "公告",
                    "Description": "内容",
                    "PicUrl": "https://img.example/1.png",
                    "Url": "https://example/1",
                }
            ],
        },
    ),
]


@pytest.mark.parametrize(
    ("returned", "expected"), [case[1:] for case in REPLY_CASES], ids=[c[0] for c in REPLY_CASES]
)
def test_replies_are_encrypted_and_addressed_back(
    work: Work, returned: Reply | str, expected: Fields
) -> None:
    work.wechat.on("text")(lambda message: returned)
    result = work.client.text("reply please")
    reply = assert_encrypted_reply_to(work, result.response)
    assert {
        k: v for k, v in reply.items() if k not in ("ToUserName", "FromUserName", "CreateTime")
    } == expected
    body = result.response.get_data()
    assert b"<MsgType>" not in body
    assert USER.encode() not in body


def test_a_reply_to_another_user_goes_to_that_user(work: Work) -> None:
    work.wechat.on("text")(lambda message: f"hello {message.source}")
    other = WeChatTestClient(work.app, user="WangWu")
    result = other.text("hi")
    reply = assert_encrypted_reply_to(work, result.response, user="WangWu")
    assert reply["Content"] == "hello WangWu"
