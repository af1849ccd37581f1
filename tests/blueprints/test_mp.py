"""Official Account (公众号) callbacks, driven the way WeChat drives them.

URL verification; every message and event type in plaintext, compatible and safe
mode; every reply type; the rejection rules; handler failures and logging; signals;
dedup of WeChat's retries; and property tests that no input answers 5xx.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import string
import struct
import time
import typing as t
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from Crypto.Cipher import AES
from flask import Flask, Response
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from flask_wechat import (
    Article,
    ImageReply,
    Message,
    MusicReply,
    NewsReply,
    Reply,
    TextReply,
    TransferCustomerServiceReply,
    VideoReply,
    VoiceReply,
    WeChat,
    signals,
)
from flask_wechat.crypto import MessageCrypto, sign
from flask_wechat.testing import DEFAULT_ORIGINAL_ID, DEFAULT_USER, Recorder, WeChatTestClient

from ..conftest import AES_KEY, APP_ID, APP_SECRET, TOKEN, AppFactory, create_app, production
from ..rejections import assert_refused

ModeClient = tuple[WeChat, WeChatTestClient]
Fields = dict[str, t.Any]

ENVELOPE = ("ToUserName", "FromUserName", "CreateTime")


def stringify(value: t.Any) -> t.Any:
    """What sent fields look like after the XML round trip: every leaf a string."""
    if isinstance(value, dict):
        return {key: stringify(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [stringify(item) for item in value]
    return str(value)


def plaintext_xml(client: WeChatTestClient, fields: Fields) -> bytes:
    """The plaintext XML of a message, as WeChat writes it."""
    body, _query = WeChatTestClient(client.app, mode="plain").encode(fields)
    return body


def encrypted_request(
    encrypt: str, *, token: str = TOKEN, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """A safe-mode request carrying ``encrypt``, with both signatures correct."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = "n" + secrets.token_hex(5)
    query = {
        "signature": sign(token, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": sign(token, ts, nonce, encrypt),
    }
    body = (
        f"<xml><ToUserName><![CDATA[{DEFAULT_ORIGINAL_ID}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    )
    return body.encode(), query


def envelope_request(crypto: MessageCrypto, plaintext: bytes) -> tuple[bytes, dict[str, str]]:
    """A safe-mode request made from ``crypto.encrypt``'s envelope, as a sender would."""
    ts = str(int(time.time()))
    nonce = "e" + secrets.token_hex(5)
    envelope = ET.fromstring(crypto.encrypt(plaintext, ts, nonce))
    encrypt = envelope.findtext("Encrypt") or ""
    query = {
        "signature": sign(crypto.token, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": envelope.findtext("MsgSignature") or "",
    }
    assert query["msg_signature"] == sign(crypto.token, ts, nonce, encrypt)
    body = f"<xml><ToUserName>{DEFAULT_ORIGINAL_ID}</ToUserName><Encrypt>{encrypt}</Encrypt></xml>"
    return body.encode(), query


def reply_payload(reply: Fields | None) -> Fields:
    """A reply's fields without the envelope every reply carries."""
    assert reply is not None
    return {key: value for key, value in reply.items() if key not in ENVELOPE}


def assert_addressed_back(reply: Fields | None, client: WeChatTestClient) -> None:
    """The reply goes to the sender, from the account: ToUserName/FromUserName swapped."""
    assert reply is not None
    assert reply["ToUserName"] == client.user
    assert reply["FromUserName"] == client.original_id
    assert reply["CreateTime"].isdigit()


# == URL verification ===================================================================


@pytest.mark.parametrize("echostr", ["7308961539282573212", "abc-XYZ_09", "a b+c/d=e"])
@pytest.mark.parametrize("aes_key", [None, AES_KEY], ids=["plain", "aes"])
def test_url_verification_answers_echostr(
    make_app: AppFactory, echostr: str, aes_key: str | None
) -> None:
    app, _wechat = make_app(WECHAT_ENCODING_AES_KEY=aes_key)
    response = WeChatTestClient(app).verify_url(echostr)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == echostr
    assert response.mimetype == "text/plain"


@pytest.mark.parametrize(
    "tamper",
    ["wrong token", "missing", "stale"],
)
def test_url_verification_refuses_bad_requests(
    plain_app: tuple[Flask, WeChat], tamper: str
) -> None:
    app, _wechat = plain_app
    ts = str(int(time.time()) - (301 if tamper == "stale" else 0))
    query = {
        "signature": sign("wrong token" if tamper == "wrong token" else TOKEN, ts, "nonce"),
        "timestamp": ts,
        "nonce": "nonce",
        "echostr": "secret-echo",
    }
    if tamper == "missing":
        del query["signature"]
    rejected = Recorder()
    with signals.request_rejected.connected_to(rejected, app):
        response = app.test_client().get("/wechat", query_string=query)
    assert response.status_code == 403
    assert "secret-echo" not in response.get_data(as_text=True)
    assert [call["account"] for call in rejected.calls] == ["default"]
    assert rejected.calls[0]["reason"] == response.get_data(as_text=True)


def test_url_verification_with_a_superscript_timestamp_is_refused(
    plain_app: tuple[Flask, WeChat],
) -> None:
    app, _wechat = plain_app
    query = {"signature": sign(TOKEN, "²", "n"), "timestamp": "²", "nonce": "n", "echostr": "e"}
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/wechat", query_string=query)
    assert 400 <= response.status_code < 500


# == messages ===========================================================================

MESSAGE_CASES: list[tuple[str, Fields, Fields]] = [
    # (MsgType, fields WeChat sends, attributes the handler sees)
    ("text", {"Content": "你好, world"}, {"content": "你好, world"}),
    (
        "image",
        {"PicUrl": "http://mmbiz.qpic.cn/pic.jpg", "MediaId": "media-image"},
        {"pic_url": "http://mmbiz.qpic.cn/pic.jpg", "media_id": "media-image", "content": None},
    ),
    (
        "voice",
        {"MediaId": "media-voice", "Format": "amr", "Recognition": "腾讯微信团队"},
        {"media_id": "media-voice", "format": "amr", "recognition": "腾讯微信团队"},
    ),
    (
        "video",
        {"MediaId": "media-video", "ThumbMediaId": "thumb-video"},
        {"media_id": "media-video", "thumb_media_id": "thumb-video"},
    ),
    (
        "shortvideo",
        {"MediaId": "media-short", "ThumbMediaId": "thumb-short"},
        {"media_id": "media-short", "thumb_media_id": "thumb-short"},
    ),
    (
        "location",
        {"Location_X": "23.134521", "Location_Y": "113.358803", "Scale": "20", "Label": "位置信息"},
        {"location_x": "23.134521", "location_y": "113.358803", "scale": "20", "label": "位置信息"},
    ),
    (
        "link",
        {"Title": "公众平台官网", "Description": "官网链接", "Url": "https://mp.weixin.qq.com/"},
        {"title": "公众平台官网", "description": "官网链接", "url": "https://mp.weixin.qq.com/"},
    ),
]


@pytest.mark.parametrize(
    ("msg_type", "fields", "attributes"), MESSAGE_CASES, ids=[c[0] for c in MESSAGE_CASES]
)
def test_message_round_trip(
    mode_client: ModeClient, mode: str, msg_type: str, fields: Fields, attributes: Fields
) -> None:
    wechat, client = mode_client
    seen: list[Message] = []

    @wechat.on(msg_type)
    def handle(message: Message) -> TextReply:
        seen.append(message)
        return TextReply(f"got {message.type}")

    sent = client.message(msg_type, **fields)
    result = client.send(sent)

    assert result.status_code == 200
    assert result.encrypted is (mode != "plain")
    assert result.msg_type == "text"
    assert result.content == f"got {msg_type}"
    assert_addressed_back(result.reply, client)

    [message] = seen
    assert message.type == msg_type
    assert message.event is None
    assert message.is_event is False
    assert message.source == DEFAULT_USER
    assert message.target == DEFAULT_ORIGINAL_ID
    assert message.create_time == sent["CreateTime"]
    assert message.id == sent["MsgId"]
    assert isinstance(message.id, int)
    assert message.account == "default"
    for name, value in attributes.items():
        assert getattr(message, name) == value, name
    assert message.raw == stringify(sent)


SCAN_INFO = {"ScanType": "qrcode", "ScanResult": "https://weixin.qq.com/r/abc"}
PICS = {
    "Count": 2,
    "PicList": [{"PicMd5Sum": "1b5f7c23b5bf75682a53e7b6d163e185"}, {"PicMd5Sum": "0f3e1c"}],
}
PICS_EXPECTED = {
    "count": "2",
    "pic_list": [{"PicMd5Sum": "1b5f7c23b5bf75682a53e7b6d163e185"}, {"PicMd5Sum": "0f3e1c"}],
    "send_pics_info": stringify(PICS),
}
ONE_PIC = {"Count": 1, "PicList": [{"PicMd5Sum": "aa11"}]}
SENT_LOCATION = {
    "Location_X": "23",
    "Location_Y": "113",
    "Scale": "15",
    "Label": " 广州市海珠区客村艺苑路 106号",
    "Poiname": "艺苑",
}

EVENT_CASES: list[tuple[str, str, str, Fields, Fields]] = [
    # (id, Event as WeChat spells it, handler name, fields, attributes the handler sees)
    ("subscribe", "subscribe", "subscribe", {}, {"event_key": None, "qr_scene": None}),
    (
        "subscribe-qrscene",
        "subscribe",
        "subscribe",
        {"EventKey": "qrscene_123123", "Ticket": "TICKET"},
        {"event_key": "qrscene_123123", "ticket": "TICKET", "qr_scene": "123123"},
    ),
    ("unsubscribe", "unsubscribe", "unsubscribe", {}, {"event_key": None}),
    (
        "scan",
        "SCAN",
        "scan",
        {"EventKey": "123123", "Ticket": "TICKET"},
        {"event_key": "123123", "ticket": "TICKET", "qr_scene": "123123"},
    ),
    (
        "location-event",
        "LOCATION",
        "location_event",
        {"Latitude": "23.137466", "Longitude": "113.352425", "Precision": "119.385040"},
        {"latitude": "23.137466", "longitude": "113.352425", "precision": "119.385040"},
    ),
    ("click", "CLICK", "click", {"EventKey": "V1001_GOOD"}, {"event_key": "V1001_GOOD"}),
    (
        "view",
        "VIEW",
        "view",
        {"EventKey": "https://www.qq.com/", "MenuId": "208396938"},
        {"event_key": "https://www.qq.com/", "menu_id": "208396938"},
    ),
    (
        "scancode-push",
        "scancode_push",
        "scancode_push",
        {"EventKey": "6", "ScanCodeInfo": SCAN_INFO},
        {"event_key": "6", "scan_type": "qrcode", "scan_result": SCAN_INFO["ScanResult"]},
    ),
    (
        "scancode-waitmsg",
        "scancode_waitmsg",
        "scancode_waitmsg",
        {"EventKey": "6", "ScanCodeInfo": SCAN_INFO},
        {"scan_code_info": SCAN_INFO, "scan_type": "qrcode"},
    ),
    ("pic-sysphoto", "pic_sysphoto", "pic_sysphoto", {"SendPicsInfo": PICS}, PICS_EXPECTED),
    (
        "pic-photo-or-album",
        "pic_photo_or_album",
        "pic_photo_or_album",
        {"EventKey": "6", "SendPicsInfo": PICS},
        PICS_EXPECTED,
    ),
    (
        "pic-weixin-one-picture",
        "pic_weixin",
        "pic_weixin",
        {"EventKey": "6", "SendPicsInfo": ONE_PIC},
        {"count": "1", "pic_list": [{"PicMd5Sum": "aa11"}]},
    ),
    (
        "location-select",
        "location_select",
        "location_select",
        {"EventKey": "6", "SendLocationInfo": SENT_LOCATION},
        {
            "location_x": "23",
            "location_y": "113",
            "scale": "15",
            "label": SENT_LOCATION["Label"],
            "poiname": "艺苑",
            "send_location_info": SENT_LOCATION,
        },
    ),
    (
        "templatesendjobfinish",
        "TEMPLATESENDJOBFINISH",
        "templatesendjobfinish",
        {"MsgID": 200163836, "Status": "success"},
        {"id": 200163836, "msg_id": "200163836", "status": "success"},
    ),
    (
        "masssendjobfinish",
        "MASSSENDJOBFINISH",
        "masssendjobfinish",
        {
            "MsgID": 1988,
            "Status": "sendsuccess",
            "TotalCount": 100,
            "FilterCount": 80,
            "SentCount": 75,
            "ErrorCount": 5,
        },
        {
            "id": 1988,
            "status": "sendsuccess",
            "total_count": "100",
            "filter_count": "80",
            "sent_count": "75",
            "error_count": "5",
        },
    ),
]


@pytest.mark.parametrize(
    ("event", "name", "fields", "attributes"),
    [case[1:] for case in EVENT_CASES],
    ids=[case[0] for case in EVENT_CASES],
)
def test_event_round_trip(
    mode_client: ModeClient,
    mode: str,
    event: str,
    name: str,
    fields: Fields,
    attributes: Fields,
) -> None:
    wechat, client = mode_client
    seen: list[Message] = []

    @wechat.on(name)
    def handle(message: Message) -> TextReply:
        seen.append(message)
        return TextReply(f"{message.dispatch_name} handled")

    sent = client.event_message(event, **fields)
    result = client.send(sent)

    assert result.status_code == 200
    assert result.encrypted is (mode != "plain")
    assert result.content == f"{name} handled"
    assert_addressed_back(result.reply, client)

    [message] = seen
    assert message.type == "event"
    assert message.is_event is True
    assert message.event == event.lower()
    assert message.dispatch_name == name
    assert message.source == DEFAULT_USER
    assert message.target == DEFAULT_ORIGINAL_ID
    assert message.create_time == sent["CreateTime"]
    for attribute, value in attributes.items():
        assert getattr(message, attribute) == value, attribute
    assert message.raw == stringify(sent)


def test_click_key_filter_in_every_mode(mode_client: ModeClient) -> None:
    wechat, client = mode_client
    keys: list[str] = []

    @wechat.on("click", key="V1001_GOOD")
    def good(message: Message) -> str:
        keys.append(message.event_key or "")
        return "thanks"

    assert client.event("CLICK", EventKey="V1001_GOOD").content == "thanks"
    assert client.event("CLICK", EventKey="V1002_OTHER").is_success
    assert keys == ["V1001_GOOD"]


def test_location_event_is_not_the_location_message(mode_client: ModeClient) -> None:
    wechat, client = mode_client
    names: list[str] = []

    @wechat.on("location")
    def location_message(message: Message) -> None:
        names.append("message")

    assert client.event("LOCATION", Latitude="1", Longitude="2", Precision="3").is_success
    assert names == []


FUTURE_FIELDS: Fields = {"BrandNewField": "value", "Nested": {"Depth": "2", "Label": "inner"}}


@pytest.mark.parametrize("registration", ["named", "default"])
@pytest.mark.parametrize(
    ("kind", "spelt", "name"),
    [("event", "SomeFutureEvent", "somefutureevent"), ("message", "hologram", "hologram")],
    ids=["future-event", "future-msgtype"],
)
def test_unknown_types_still_reach_handlers(
    mode_client: ModeClient, registration: str, kind: str, spelt: str, name: str
) -> None:
    wechat, client = mode_client
    seen: list[Message] = []

    def handle(message: Message) -> str:
        seen.append(message)
        return f"{registration} took {message.dispatch_name}"

    if registration == "named":
        wechat.on(name)(handle)
        wechat.on()(lambda message: "the default must not answer")
    else:
        wechat.on()(handle)
        wechat.on("text")(lambda message: "the text handler must not answer")

    if kind == "event":
        sent = client.event_message(spelt, EventKey="future-key", **FUTURE_FIELDS)
    else:
        sent = client.message(spelt, **FUTURE_FIELDS)
    result = client.send(sent)

    assert result.content == f"{registration} took {name}"
    [message] = seen
    assert message.dispatch_name == name
    assert message.type == ("event" if kind == "event" else name)
    assert message.raw == stringify(sent)
    # Every field is an attribute, nested ones too, whatever the type.
    assert message.field("brand_new_field") == "value"
    assert message.field("nested") == {"Depth": "2", "Label": "inner"}
    assert message.field("depth") == "2"
    assert message.label == "inner"
    if kind == "event":
        assert message.event_key == "future-key"
    with pytest.raises(AttributeError):
        _ = getattr(message, "field_nobody_sent")  # noqa: B009


def test_compatible_mode_trusts_the_encrypted_copy(aes_app: tuple[Flask, WeChat]) -> None:
    app, wechat = aes_app
    seen: list[str] = []

    @wechat.on("text")
    def handle(message: Message) -> str:
        seen.append(message.content or "")
        return "ok"

    client = WeChatTestClient(app, mode="compatible")
    body, query = client.encode(client.message("text", Content="genuine"))
    forged = body.replace(b"genuine", b"forged!")
    assert forged != body
    response = client.post(forged, query)
    assert response.status_code == 200
    assert seen == ["genuine"]


# == replies ============================================================================

ARTICLES = [
    Article(
        f"标题 {i}", f"描述 {i}", f"https://img.example.com/{i}.jpg", f"https://example.com/{i}"
    )
    for i in range(8)
]

REPLY_CASES: list[tuple[str, Reply | str, Fields]] = [
    # (id, what the handler returns, the reply fields besides the envelope)
    ("text", TextReply("回复 ]]> 😀"), {"MsgType": "text", "Content": "回复 ]]> 😀"}),
    ("str", "just a string", {"MsgType": "text", "Content": "just a string"}),
    ("image", ImageReply("img-media"), {"MsgType": "image", "Image": {"MediaId": "img-media"}}),
    ("voice", VoiceReply("voc-media"), {"MsgType": "voice", "Voice": {"MediaId": "voc-media"}}),
    (
        "video",
        VideoReply("vid-media", title="标题", description="描述"),
        {
            "MsgType": "video",
            "Video": {"MediaId": "vid-media", "Title": "标题", "Description": "描述"},
        },
    ),
    (
        "video-bare",
        VideoReply("vid-media"),
        {"MsgType": "video", "Video": {"MediaId": "vid-media"}},
    ),
    (
        "music",
        MusicReply("Song", "A song", "http://m.example/a.mp3", "http://m.example/a-hq.mp3", "th"),
        {
            "MsgType": "music",
            "Music": {
                "Title": "Song",
                "Description": "A song",
                "MusicUrl": "http://m.example/a.mp3",
                "HQMusicUrl": "http://m.example/a-hq.mp3",
                "ThumbMediaId": "th",
            },
        },
    ),
    (
        "news-8",
        NewsReply(ARTICLES),
        {
            "MsgType": "news",
            "ArticleCount": "8",
            "Articles": [
                {"Title": a.title, "Description": a.description, "PicUrl": a.pic_url, "Url": a.url}
                for a in ARTICLES
            ],
        },
    ),
    (
        "transfer",
        TransferCustomerServiceReply(),
        {"MsgType": "transfer_customer_service"},
    ),
    (
        "transfer-kf-account",
        TransferCustomerServiceReply(kf_account="kf2001@gh_0123456789ab"),
        {
            "MsgType": "transfer_customer_service",
            "TransInfo": {"KfAccount": "kf2001@gh_0123456789ab"},
        },
    ),
]


@pytest.mark.parametrize(
    ("returned", "expected"), [case[1:] for case in REPLY_CASES], ids=[c[0] for c in REPLY_CASES]
)
def test_reply_round_trip(
    mode_client: ModeClient, mode: str, returned: Reply | str, expected: Fields
) -> None:
    wechat, client = mode_client
    wechat.on("text")(lambda message: returned)
    result = client.text("anything")
    assert result.status_code == 200
    assert result.encrypted is (mode != "plain")
    assert reply_payload(result.reply) == expected
    assert_addressed_back(result.reply, client)
    # The reply is XML, encrypted or not.
    assert result.response.mimetype in ("application/xml", "text/xml")


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
def test_an_aes_account_answers_in_the_request_s_mode(
    aes_app: tuple[Flask, WeChat], mode: str
) -> None:
    app, wechat = aes_app
    wechat.on("text")(lambda message: ImageReply("media"))
    result = WeChatTestClient(app, mode=mode).text("which mode?")
    assert result.encrypted is (mode != "plain")
    assert result.reply is not None
    assert result.reply["Image"] == {"MediaId": "media"}
    if mode == "plain":
        assert b"<Encrypt>" not in result.response.get_data()


def test_reply_to_an_event_is_addressed_back(mode_client: ModeClient) -> None:
    wechat, client = mode_client
    wechat.on("subscribe")(lambda message: NewsReply([ARTICLES[0]]))
    result = client.event("subscribe")
    assert result.msg_type == "news"
    assert_addressed_back(result.reply, client)


def test_none_answers_success(mode_client: ModeClient) -> None:
    wechat, client = mode_client
    ran: list[bool] = []

    @wechat.on("text")
    def quiet(message: Message) -> None:
        ran.append(True)

    result = client.text("no answer")
    assert ran == [True]
    assert result.status_code == 200
    assert result.is_success
    assert result.text == "success"
    assert result.encrypted is False


def test_no_handler_answers_success(mode_client: ModeClient) -> None:
    _wechat, client = mode_client
    result = client.text("nobody listens")
    assert (result.status_code, result.text) == (200, "success")


def test_response_is_sent_as_is(mode_client: ModeClient) -> None:
    wechat, client = mode_client

    @wechat.on("text")
    def custom(message: Message) -> Response:
        return Response(
            "<xml>custom body</xml>", 202, {"X-Handler": "custom"}, mimetype="application/xml"
        )

    body, query = client.encode(client.message("text", Content="raw"))
    response = client.post(body, query)
    assert response.status_code == 202
    assert response.get_data() == b"<xml>custom body</xml>"
    assert response.headers["X-Handler"] == "custom"
    assert response.mimetype == "application/xml"


def test_news_reply_carries_at_most_eight_articles() -> None:
    with pytest.raises(ValueError, match="8"):
        NewsReply([*ARTICLES, Article("ninth")])
    with pytest.raises(ValueError, match="1"):
        NewsReply([])


SURVIVING_TEXTS = [
    pytest.param("]]>", id="cdata-end"),
    pytest.param("a]]>b]]>]]>c", id="cdata-ends"),
    pytest.param("emoji 😀👍🏽🇨🇳", id="emoji"),
    pytest.param("中文，标点！", id="chinese"),
    pytest.param("bell\x07 esc\x1b unit\x1f", id="control-chars"),
    pytest.param("nul\x00inside", id="nul"),
    pytest.param("tab\tand\nnewline", id="tab-newline"),
    pytest.param("<xml><Content>&amp;</Content></xml>", id="markup"),
    pytest.param("  padded  ", id="spaces"),
    pytest.param("legacy emoji \ue00e without control characters", id="private-use"),
    pytest.param("carriage\rreturn and\r\nwindows", id="carriage-return"),
    pytest.param("\x01 then legacy emoji \ue00e\ue001", id="control-and-private-use"),
]


@pytest.mark.parametrize("text", SURVIVING_TEXTS)
def test_any_text_survives_the_round_trip(mode_client: ModeClient, text: str) -> None:
    wechat, client = mode_client
    seen: list[str] = []

    @wechat.on("text")
    def echo(message: Message) -> TextReply:
        seen.append(message.content or "")
        return TextReply(message.content or "")

    result = client.text(text)
    assert seen == [text]
    assert result.content == text


# == rejections =========================================================================


class Guarded(t.NamedTuple):
    """An app whose handlers and signals all record what reached them."""

    app: Flask
    client: WeChatTestClient
    handled: list[Message]
    received: Recorder
    rejected: Recorder

    def assert_rejected(self, response: t.Any, status: int, *keywords: str) -> str:
        """``response`` is a 4xx with a short reason naming one of ``keywords``; nothing ran."""
        assert 400 <= status < 500
        return assert_refused(
            response,
            status,
            keywords,
            app=self.app,
            account=self.client.account.name,
            rejected=self.rejected,
            handled=self.handled,
            received=self.received,
        )


def guard(app: Flask, wechat: WeChat, mode: str) -> Iterator[Guarded]:
    handled: list[Message] = []

    @wechat.on()
    @wechat.on("text")
    def record(message: Message) -> str:
        handled.append(message)
        return "a handler ran"

    received, rejected = Recorder(), Recorder()
    with (
        signals.message_received.connected_to(received, app),
        signals.request_rejected.connected_to(rejected, app),
    ):
        yield Guarded(app, WeChatTestClient(app, mode=mode), handled, received, rejected)


@pytest.fixture
def plain_guard(plain_app: tuple[Flask, WeChat]) -> Iterator[Guarded]:
    yield from guard(*plain_app, "plain")


@pytest.fixture
def safe_guard(aes_app: tuple[Flask, WeChat]) -> Iterator[Guarded]:
    yield from guard(*aes_app, "safe")


def text_request(client: WeChatTestClient, **options: t.Any) -> tuple[bytes, dict[str, str]]:
    return client.encode(client.message("text", Content="hello"), **options)


@pytest.mark.parametrize("offset", [-120, 60], ids=["2-minutes-old", "a-minute-ahead"])
def test_accepts_a_timestamp_inside_the_window(plain_guard: Guarded, offset: int) -> None:
    result = plain_guard.client.send(
        plain_guard.client.message("text", Content="fresh"), timestamp=int(time.time()) + offset
    )
    assert result.content == "a handler ran"


@pytest.mark.parametrize("timestamp", [1, 1_000_000_000, 4_102_444_800], ids=str)
def test_replay_window_zero_disables_the_age_check(make_app: AppFactory, timestamp: int) -> None:
    app, wechat = make_app(WECHAT_REPLAY_WINDOW=0, WECHAT_ENCODING_AES_KEY=AES_KEY)
    wechat.on("text")(lambda message: "accepted")
    client = WeChatTestClient(app)
    assert client.send(client.message("text", Content="old"), timestamp=timestamp).content == (
        "accepted"
    )
    assert client.verify_url("echo", timestamp=timestamp).get_data(as_text=True) == "echo"


@pytest.mark.parametrize("timestamp", ["tomorrow", "", "-5", "1.7e9", "17000000000000"])
def test_rejects_a_non_numeric_timestamp(plain_guard: Guarded, timestamp: str) -> None:
    body, query = text_request(plain_guard.client)
    query["timestamp"] = timestamp
    query["signature"] = sign(TOKEN, timestamp, query["nonce"])
    response = plain_guard.client.post(body, query)
    plain_guard.assert_rejected(response, 400, "timestamp")


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
def test_rejects_malformed_xml(plain_guard: Guarded, body: bytes) -> None:
    _body, query = text_request(plain_guard.client)
    response = plain_guard.client.post(body, query)
    plain_guard.assert_rejected(response, 400, "xml", "utf-8")


def test_rejects_a_doctype(plain_guard: Guarded) -> None:
    body, query = text_request(plain_guard.client)
    response = plain_guard.client.post(b"<!DOCTYPE xml [<!ELEMENT xml ANY>]>" + body, query)
    plain_guard.assert_rejected(response, 400, "DOCTYPE")


def test_rejects_internal_entities_billion_laughs(plain_guard: Guarded) -> None:
    _body, query = text_request(plain_guard.client)
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    body = (
        f"<?xml version='1.0'?><!DOCTYPE xml [{entities}]>"
        f"<xml><ToUserName>{DEFAULT_ORIGINAL_ID}</ToUserName><FromUserName>u</FromUserName>"
        "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&lol9;</Content></xml>"
    )
    response = plain_guard.client.post(body.encode(), query)
    plain_guard.assert_rejected(response, 400, "entit", "DOCTYPE", "well-formed")


@pytest.mark.parametrize("entity", ["general", "parameter"])
def test_rejects_external_entities_xxe(plain_guard: Guarded, tmp_path: Path, entity: str) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("TOP-SECRET-CONTENTS")
    _body, query = text_request(plain_guard.client)
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
    response = plain_guard.client.post(body.encode(), query)
    reason = plain_guard.assert_rejected(response, 400, "DOCTYPE")
    assert "TOP-SECRET" not in reason


def test_rejects_a_body_over_one_mebibyte(plain_guard: Guarded) -> None:
    client = plain_guard.client
    body, query = client.encode(client.message("text", Content="x" * (1024 * 1024)))
    assert len(body) > 1024 * 1024
    response = client.post(body, query)
    plain_guard.assert_rejected(response, 413, "large")


def test_rejects_an_empty_body(plain_guard: Guarded) -> None:
    _body, query = text_request(plain_guard.client)
    response = plain_guard.client.post(b"", query)
    plain_guard.assert_rejected(response, 400, "empty")


def test_rejects_a_message_encrypted_for_another_app_id(safe_guard: Guarded) -> None:
    plaintext = plaintext_xml(safe_guard.client, safe_guard.client.message("text", Content="hi"))
    other = MessageCrypto(TOKEN, AES_KEY, "wxOTHER")
    body, query = envelope_request(other, plaintext)
    response = safe_guard.client.post(body, query)
    safe_guard.assert_rejected(response, 403, "AppID")


def test_an_envelope_from_message_crypto_is_accepted(safe_guard: Guarded) -> None:
    """The control for the AppID rejection: the same construction with the right AppID."""
    plaintext = plaintext_xml(safe_guard.client, safe_guard.client.message("text", Content="hi"))
    body, query = envelope_request(MessageCrypto(TOKEN, AES_KEY, APP_ID), plaintext)
    response = safe_guard.client.post(body, query)
    assert response.status_code == 200
    assert [message.content for message in safe_guard.handled] == ["hi"]


def wrongly_padded(plaintext: bytes, style: str) -> str:
    """WeChat's ciphertext of ``plaintext`` with broken PKCS#7 padding."""
    key = base64.b64decode(AES_KEY + "=")
    body = secrets.token_bytes(16) + struct.pack(">I", len(plaintext)) + plaintext + APP_ID.encode()
    gap = 32 - len(body) % 32  # what correct padding would add: 1..32 bytes
    if style == "zeros":
        padding = bytes(gap)
    elif style == "over-32":
        padding = bytes((64,)) * gap
    else:  # says 2, but the byte before is not 2
        room = gap if gap >= 2 else gap + 32
        padding = bytes(room - 1) + b"\x02"
    encrypted = AES.new(key, AES.MODE_CBC, key[:16]).encrypt(body + padding)
    return base64.b64encode(encrypted).decode()


@pytest.mark.parametrize("style", ["zeros", "over-32", "inconsistent"])
def test_rejects_bad_padding(safe_guard: Guarded, style: str) -> None:
    plaintext = plaintext_xml(safe_guard.client, safe_guard.client.message("text", Content="hi"))
    body, query = encrypted_request(wrongly_padded(plaintext, style))
    response = safe_guard.client.post(body, query)
    safe_guard.assert_rejected(response, 400, "padding")


@pytest.mark.parametrize(
    ("encrypt", "keyword"),
    [("this is *not* base64!", "base64"), ("QUJD", "32"), ("QUJ", "base64")],
    ids=["bad-alphabet", "too-short", "bad-length"],
)
def test_rejects_broken_base64_in_encrypt(safe_guard: Guarded, encrypt: str, keyword: str) -> None:
    body, query = encrypted_request(encrypt)
    response = safe_guard.client.post(body, query)
    safe_guard.assert_rejected(response, 400, keyword)


def test_rejects_an_encrypted_request_to_an_account_without_aes_key(plain_guard: Guarded) -> None:
    plaintext = plaintext_xml(plain_guard.client, plain_guard.client.message("text", Content="x"))
    body, query = envelope_request(MessageCrypto(TOKEN, AES_KEY, APP_ID), plaintext)
    response = plain_guard.client.post(body, query)
    plain_guard.assert_rejected(response, 400, "EncodingAESKey")


@pytest.mark.parametrize("where", ["plain", "safe"])
def test_rejects_a_message_without_msgtype(
    plain_guard: Guarded, safe_guard: Guarded, where: str
) -> None:
    guarded = plain_guard if where == "plain" else safe_guard
    fields = guarded.client.message("text", Content="typeless")
    del fields["MsgType"]
    body, query = guarded.client.encode(fields)
    response = guarded.client.post(body, query)
    guarded.assert_rejected(response, 400, "MsgType")


# == handler failures and logs ==========================================================


def test_a_failing_handler_answers_success(
    mode_client: ModeClient, caplog: pytest.LogCaptureFixture
) -> None:
    wechat, client = mode_client
    production(client.app)
    boom = RuntimeError("the handler broke")

    @wechat.on("text")
    def broken(message: Message) -> str:
        raise boom

    failed = Recorder()
    caplog.set_level(logging.DEBUG, logger="flask_wechat")
    with signals.handler_failed.connected_to(failed, client.app):
        result = client.text("trigger")

    assert result.status_code == 200
    assert result.text == "success"
    assert result.is_success
    [call] = failed.calls
    assert call["sender"] is client.app
    assert call["exception"] is boom
    assert call["message"].content == "trigger"
    errors = [r for r in caplog.records if r.name == "flask_wechat" and r.levelno >= logging.ERROR]
    assert errors
    assert any(r.exc_info is not None and r.exc_info[1] is boom for r in errors)


def test_a_handler_returning_nonsense_answers_success(plain_app: tuple[Flask, WeChat]) -> None:
    app, wechat = plain_app
    production(app)
    wechat.on("text")(lambda message: 42)  # type: ignore[type-var]  # nonsense on purpose
    failed = Recorder()
    with signals.handler_failed.connected_to(failed, app):
        result = WeChatTestClient(app).text("x")
    assert (result.status_code, result.text) == (200, "success")
    [call] = failed.calls
    assert isinstance(call["exception"], TypeError)


def test_secrets_never_reach_the_log(
    aes_app: tuple[Flask, WeChat], caplog: pytest.LogCaptureFixture
) -> None:
    app, wechat = aes_app
    production(app)
    caplog.set_level(logging.DEBUG)

    @wechat.on("text", match="^fail")
    def broken(message: Message) -> str:
        raise ValueError("handler failure for the log")

    wechat.on("text")(lambda message: "fine")

    safe = WeChatTestClient(app, mode="safe")
    for mode in ("plain", "compatible", "safe"):
        assert WeChatTestClient(app, mode=mode).text("hello").content == "fine"
    assert safe.verify_url("echo").status_code == 200
    assert safe.text("fail now").is_success
    plaintext = plaintext_xml(safe, safe.message("text", Content="x"))
    hostile: list[tuple[bytes, dict[str, str]]] = [
        envelope_request(MessageCrypto(TOKEN, AES_KEY, "wxOTHER"), plaintext),
        encrypted_request(wrongly_padded(plaintext, "zeros")),
        encrypted_request("not base64"),
        text_request(safe, timestamp=int(time.time()) - 1000),
    ]
    body, query = text_request(safe)
    hostile += [
        (body, {**query, "msg_signature": "0" * 40}),
        (body, {**query, "signature": "f" * 40}),
        (b"<!DOCTYPE x><xml/>", query),
        (b"garbage", query),
    ]
    for hostile_body, hostile_query in hostile:
        assert 400 <= safe.post(hostile_body, hostile_query).status_code < 500
    bad_get = {"signature": "0" * 40, "timestamp": str(int(time.time())), "nonce": "n"}
    assert app.test_client().get("/wechat", query_string=bad_get).status_code == 403

    records = caplog.records
    # The failing handler was logged (with its traceback), so the log is really there.
    assert any(r.name == "flask_wechat" and r.exc_info for r in records)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    logged = "\n".join(formatter.format(record) for record in records)
    for secret in (TOKEN, APP_SECRET, AES_KEY, base64.b64decode(AES_KEY + "=").hex()):
        assert secret not in logged


# == signals ============================================================================


def test_message_received_for_every_verified_message(mode_client: ModeClient) -> None:
    _wechat, client = mode_client
    received = Recorder()
    with signals.message_received.connected_to(received, client.app):
        client.text("one")
        client.event("CLICK", EventKey="K")
        client.send(client.message("image", MediaId="m"))
    assert [call["sender"] for call in received.calls] == [client.app] * 3
    assert [call["account"] for call in received.calls] == ["default"] * 3
    assert [message.dispatch_name for message in received.messages] == ["text", "click", "image"]


TYPE_SIGNAL_CASES: list[tuple[str, t.Any, t.Callable[[WeChatTestClient], object], str]] = [
    ("text", signals.text, lambda c: c.text("hi"), "text"),
    ("click", signals.click, lambda c: c.event("CLICK", EventKey="K"), "click"),
    (
        "location-event",
        signals.location_event,
        lambda c: c.event("LOCATION", Latitude="1", Longitude="2"),
        "location_event",
    ),
    (
        "future-event",
        signals.signal_for("somefutureevent"),
        lambda c: c.event("SomeFutureEvent", EventKey="x"),
        "somefutureevent",
    ),
    (
        "future-msgtype",
        signals.signal_for("Hologram"),
        lambda c: c.send(c.message("hologram", Beam="on")),
        "hologram",
    ),
]


@pytest.mark.parametrize(
    ("signal", "send", "name"),
    [case[1:] for case in TYPE_SIGNAL_CASES],
    ids=[case[0] for case in TYPE_SIGNAL_CASES],
)
def test_type_signals(
    plain_app: tuple[Flask, WeChat],
    signal: t.Any,
    send: t.Callable[[WeChatTestClient], object],
    name: str,
) -> None:
    app, _wechat = plain_app
    client = WeChatTestClient(app)
    got = Recorder()
    with signal.connected_to(got, app):
        client.send(client.message("voice", MediaId="other"))  # some other type first
        send(client)
    assert [(call["sender"], call["account"]) for call in got.calls] == [(app, "default")]
    assert got.messages[0].dispatch_name == name


def test_signal_for_is_case_insensitive_and_stable() -> None:
    assert signals.signal_for("CLICK") is signals.click
    assert signals.signal_for("SomeFutureEvent") is signals.signal_for("somefutureevent")
    assert signals.signal_for("text", account="shop") is signals.signal_for("TEXT", account="shop")
    assert signals.signal_for("text", account="shop") is not signals.text


def test_location_event_does_not_fire_the_location_message_signal(
    plain_app: tuple[Flask, WeChat],
) -> None:
    app, _wechat = plain_app
    message_signal, event_signal = Recorder(), Recorder()
    with (
        signals.location.connected_to(message_signal, app),
        signals.location_event.connected_to(event_signal, app),
    ):
        WeChatTestClient(app).event("LOCATION", Latitude="1", Longitude="2")
    assert message_signal.calls == []
    assert len(event_signal.calls) == 1


def test_account_scoped_type_signal(make_app: AppFactory) -> None:
    app, _wechat = make_app(
        WECHAT_ACCOUNTS={
            "shop": {"token": "shop-token", "app_id": "wxshop0000000001"},
            "blog": {"token": "blog-token", "app_id": "wxblog0000000002"},
        }
    )
    shop_only, every = Recorder(), Recorder()
    with (
        signals.signal_for("text", account="shop").connected_to(shop_only, app),
        signals.text.connected_to(every, app),
    ):
        WeChatTestClient(app, "blog").text("to the blog")
        WeChatTestClient(app, "shop").text("to the shop")
        WeChatTestClient(app).text("to the default account")
        WeChatTestClient(app, "shop").event("subscribe")
    assert [(m.account, m.content) for m in shop_only.messages] == [("shop", "to the shop")]
    assert [call["account"] for call in shop_only.calls] == ["shop"]
    assert [m.account for m in every.messages] == ["blog", "shop", "default"]


def test_reply_sent(mode_client: ModeClient) -> None:
    wechat, client = mode_client
    wechat.on("text", match="^ping")(lambda message: "pong")
    wechat.on("text")(lambda message: None)
    sent = Recorder()
    with signals.reply_sent.connected_to(sent, client.app):
        client.text("ping")
        client.text("silence")
    [call] = sent.calls
    assert call["sender"] is client.app
    assert call["message"].content == "ping"
    assert call["reply"] == TextReply("pong")
    assert call["account"] == "default"


# == dedup ==============================================================================


class Counter:
    """A handler that answers which call it is."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def __call__(self, message: Message) -> str:
        self.messages.append(message)
        return f"call {len(self.messages)}"


def test_a_retried_response_gets_the_same_answer(plain_app: tuple[Flask, WeChat]) -> None:
    app, wechat = plain_app
    counter = Counter()

    @wechat.on("text")
    def custom(message: Message) -> Response:
        counter(message)
        return Response("<xml>as is</xml>", 202, {"X-Handler": "custom"}, mimetype="text/xml")

    client = WeChatTestClient(app)
    message = client.message("text", Content="respond")
    first = client.post(*client.encode(message))
    retry = client.post(*client.encode(message))
    assert len(counter.messages) == 1
    assert retry.get_data() == first.get_data() == b"<xml>as is</xml>"
    assert (retry.status_code, retry.headers.get("X-Handler")) == (202, "custom")


def test_a_new_msgid_runs_again(plain_app: tuple[Flask, WeChat]) -> None:
    app, wechat = plain_app
    counter = Counter()
    wechat.on("text")(counter)
    client = WeChatTestClient(app)
    assert client.text("same words").content == "call 1"
    assert client.text("same words").content == "call 2"


def test_duplicate_ignored_fires_for_retries_only(mode_client: ModeClient) -> None:
    wechat, client = mode_client
    wechat.on("text")(Counter())
    ignored = Recorder()
    message = client.message("text", Content="again")
    with signals.duplicate_ignored.connected_to(ignored, client.app):
        client.send(message)
        assert ignored.calls == []
        client.send(message)
    [call] = ignored.calls
    assert call["sender"] is client.app
    assert call["message"].id == message["MsgId"]


EVENT_CHANGES: list[tuple[str, Fields]] = [
    ("another user", {"FromUserName": "oAnotherUser000000000000000"}),
    ("another time", {"CreateTime": 1_700_000_001}),
    ("another event", {"Event": "VIEW"}),
    ("another key", {"EventKey": "V1002_OTHER"}),
]


@pytest.mark.parametrize("change", [c[1] for c in EVENT_CHANGES], ids=[c[0] for c in EVENT_CHANGES])
def test_events_dedup_by_user_time_event_and_key(
    plain_app: tuple[Flask, WeChat], change: Fields
) -> None:
    app, wechat = plain_app
    counter = Counter()
    wechat.on()(counter)
    client = WeChatTestClient(app)
    ignored = Recorder()
    event = client.event_message("CLICK", EventKey="V1001_GOOD", CreateTime=1_700_000_000)
    with signals.duplicate_ignored.connected_to(ignored, app):
        first = client.send(event)
        retry = client.send(dict(event))
        other = client.send({**event, **change})
    assert first.content == "call 1"
    assert retry.content == "call 1"
    assert other.content == "call 2"
    assert len(counter.messages) == 2
    assert len(ignored.calls) == 1


def test_retries_of_silent_or_failing_handlers_do_not_run_them_again(
    plain_app: tuple[Flask, WeChat],
) -> None:
    app, wechat = plain_app
    production(app)
    runs: list[str] = []

    @wechat.on("text", match="^quiet")
    def quiet(message: Message) -> None:
        runs.append("quiet")

    @wechat.on("text")
    def broken(message: Message) -> str:
        runs.append("broken")
        raise RuntimeError("once is enough")

    client = WeChatTestClient(app)
    for content in ("quiet please", "break"):
        message = client.message("text", Content=content)
        assert client.send(message).text == "success"
        assert client.send(message).text == "success"
    assert runs == ["quiet", "broken"]


def test_the_same_msgid_on_two_accounts_is_two_messages(make_app: AppFactory) -> None:
    app, wechat = make_app(
        WECHAT_ACCOUNTS={"shop": {"token": "shop-token", "app_id": "wxshop0000000001"}}
    )
    counter = Counter()
    wechat.on("text")(counter)
    default, shop = WeChatTestClient(app), WeChatTestClient(app, "shop")
    message = default.message("text", Content="shared id")
    assert default.send(message).content == "call 1"
    assert shop.send(message).content == "call 2"


def test_dedup_ttl_zero_disables_dedup(make_app: AppFactory) -> None:
    app, wechat = make_app(WECHAT_DEDUP_TTL=0, WECHAT_ENCODING_AES_KEY=AES_KEY)
    counter = Counter()
    wechat.on()(counter)
    client = WeChatTestClient(app)
    ignored = Recorder()
    message = client.message("text", Content="no memory")
    event = client.event_message("CLICK", EventKey="K", CreateTime=1_700_000_000)
    with signals.duplicate_ignored.connected_to(ignored, app):
        replies = [client.send(m).content for m in (message, message, event, event)]
    assert replies == ["call 1", "call 2", "call 3", "call 4"]
    assert ignored.calls == []


# == property tests: nothing answers 5xx ================================================

QUERY_KEYS = (
    "signature",
    "timestamp",
    "nonce",
    "echostr",
    "encrypt_type",
    "msg_signature",
    "openid",
)
XML_FRAGMENTS = (
    "<xml>",
    "</xml>",
    "<ToUserName>",
    "</ToUserName>",
    "<FromUserName>",
    "</FromUserName>",
    "<MsgType>",
    "</MsgType>",
    "<Event>",
    "</Event>",
    "<Content>",
    "</Content>",
    "<CreateTime>",
    "</CreateTime>",
    "<MsgId>",
    "</MsgId>",
    "<Encrypt>",
    "</Encrypt>",
    "<item>",
    "</item>",
    "<![CDATA[",
    "]]>",
    "<!DOCTYPE xml>",
    '<!ENTITY e "x">',
    "&e;",
    "&amp;",
    "&#0;",
    "&#x1F600;",
    "<?xml version='1.0' encoding='gbk'?>",
    "<!-- c -->",
    "text",
    "event",
    "1700000000",
    "\x00",
    "\x01",
    "<",
    ">",
    "/",
)
FIELD_NAMES = (
    "ToUserName",
    "FromUserName",
    "CreateTime",
    "MsgType",
    "MsgId",
    "MsgID",
    "Content",
    "Event",
    "EventKey",
    "AgentID",
    "Encrypt",
    "PicList",
)


def now_plus(offset: int) -> str:
    return str(int(time.time()) + offset)


hex40 = st.text("0123456789abcdef", min_size=40, max_size=40)
query_values = st.one_of(
    st.text(max_size=40),
    hex40,
    st.integers(-400, 400).map(now_plus),
    st.sampled_from(["aes", "AES", "raw", "", "0", "-1", "99999999999999999999"]),
    st.integers().map(str),
)
queries = st.dictionaries(
    st.one_of(st.sampled_from(QUERY_KEYS), st.text(min_size=1, max_size=8)),
    query_values,
    max_size=8,
)
content_types = st.one_of(
    st.sampled_from(
        [
            "text/xml",
            "application/xml",
            "application/json",
            "text/plain; charset=utf-8",
            "text/xml; charset=gbk",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=xyz",
            "application/octet-stream",
        ]
    ),
    st.text(string.ascii_letters + string.digits + "/;=-+. ", max_size=40),
)
xmlish = st.lists(st.one_of(st.sampled_from(XML_FRAGMENTS), st.text(max_size=12)), max_size=40).map(
    "".join
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
leaf_values = st.one_of(st.text(max_size=30), st.integers(), st.sampled_from(["text", "event"]))
field_values = st.recursive(
    leaf_values,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(FIELD_NAMES), inner, max_size=3)
    ),
    max_leaves=10,
)
odd_fields = st.dictionaries(
    st.one_of(
        st.sampled_from(FIELD_NAMES),
        st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,10}\Z"),
        st.text(max_size=6),
    ),
    field_values,
    max_size=4,
)
message_fields = st.builds(
    lambda base, odd: {**base, **odd},
    st.fixed_dictionaries(
        {
            "ToUserName": st.just(DEFAULT_ORIGINAL_ID) | st.text(max_size=10),
            "FromUserName": st.just(DEFAULT_USER) | st.text(min_size=1, max_size=20),
            "CreateTime": st.integers(0, 2**40) | st.text(max_size=5),
            "MsgType": st.sampled_from(["text", "event", "image", "TEXT", "hologram"])
            | st.text(max_size=8),
        },
        optional={
            "MsgId": st.integers(-(2**70), 2**70) | st.text(max_size=5),
            "Event": st.sampled_from(["CLICK", "subscribe", "LOCATION"]) | st.text(max_size=8),
            "EventKey": field_values,
            "Content": field_values,
        },
    ),
    odd_fields,
)
raw_bodies = st.one_of(
    st.binary(max_size=2000),
    xmlish.map(str.encode),
    xmlish.map(lambda s: f"<xml>{s}</xml>".encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
)


@st.composite
def post_requests(draw: st.DrawFn, app: Flask) -> tuple[bytes, dict[str, str]]:
    """A hostile, odd or half-valid POST: body and query string."""
    shape = draw(st.sampled_from(["raw", "raw-signed", "message", "sealed"]))
    query = draw(queries)
    if shape in ("raw", "raw-signed"):
        body = draw(raw_bodies)
        if shape == "raw-signed":
            ts, nonce = now_plus(0), draw(st.text(max_size=10))
            query.update(timestamp=ts, nonce=nonce, signature=sign(TOKEN, ts, nonce))
        return body, query
    if shape == "message":
        # Random fields, signed (and encrypted when the account has a key) as WeChat would.
        has_key = app.config["WECHAT_ENCODING_AES_KEY"] is not None
        mode = draw(st.sampled_from(["plain", "compatible", "safe"] if has_key else ["plain"]))
        body, signed = WeChatTestClient(app, mode=mode).encode(draw(message_fields))
        extra = draw(st.dictionaries(st.sampled_from(["openid", "echostr", "x"]), query_values))
        return body, {**signed, **extra}
    # A correct envelope around an arbitrary plaintext, for any AppID.
    random_message = message_fields.map(
        lambda fields: WeChatTestClient(app, mode="plain").encode(fields)[0]
    )
    plaintext = draw(st.one_of(raw_bodies, random_message))
    receive_id = draw(st.sampled_from([APP_ID, "wxOTHER", ""]))
    return envelope_request(MessageCrypto(TOKEN, AES_KEY, receive_id), plaintext)


def not_a_known_bug(query: dict[str, str]) -> bool:
    """Leave out timestamps like '²' (``isdigit`` but not decimal): their 500 on GET is
    pinned by test_url_verification_with_a_superscript_timestamp_is_refused."""
    ts = query.get("timestamp", "")
    return not (ts.isdigit() and not ts.isdecimal())


@pytest.fixture(params=["plain", "aes"])
def fuzz_app(request: pytest.FixtureRequest) -> Flask:
    app, wechat = create_app(WECHAT_ENCODING_AES_KEY=AES_KEY if request.param == "aes" else None)
    production(app)  # a handler returning nonsense is answered, not raised

    @wechat.on()
    def echo(message: Message) -> t.Any:
        _ = (message.dispatch_name, message.source, message.id, message.event_key, message.raw)
        return message.raw.get("Content")  # a str, None, or nonsense (a dict/list)

    return app


FUZZ_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ_SETTINGS
@given(data=st.data(), content_type=content_types)
def test_no_post_answers_5xx(fuzz_app: Flask, data: st.DataObject, content_type: str) -> None:
    body, query = data.draw(post_requests(fuzz_app))
    response = WeChatTestClient(fuzz_app).post(body, query, content_type=content_type)
    event(f"status {response.status_code}: {response.get_data()[:30]!r}")
    assert response.status_code < 500
    if response.status_code >= 400:
        assert response.mimetype == "text/plain"
        assert len(response.get_data()) <= 80


@FUZZ_SETTINGS
@given(query=queries.filter(not_a_known_bug), signed=st.booleans(), body=st.binary(max_size=64))
def test_no_get_answers_5xx(
    fuzz_app: Flask, query: dict[str, str], signed: bool, body: bytes
) -> None:
    if signed:
        query.setdefault("timestamp", now_plus(0))
        query.setdefault("nonce", "nonce")
        query["signature"] = sign(TOKEN, query["timestamp"], query["nonce"])
    response = fuzz_app.test_client().get("/wechat", query_string=query, data=body)
    event(f"status {response.status_code}")
    assert response.status_code < 500
    if response.status_code == 200:
        assert response.get_data(as_text=True) == query.get("echostr", "")
