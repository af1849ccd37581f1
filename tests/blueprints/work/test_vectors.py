"""The WeCom account, URL verification, and WeChat's own published vectors (token
``QDG6eK``) played byte for byte."""

from __future__ import annotations

import typing as t
import xml.etree.ElementTree as ET
from urllib.parse import quote

from flask import Flask

from flask_wechat import (
    Message,
    TextReply,
    WeChat,
    signals,
)
from flask_wechat.crypto import MessageCrypto, sign
from flask_wechat.sandbox import SANDBOX_CORP_ID
from flask_wechat.testing import Recorder

from .conftest import AGENT_ID, Work, answering

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
