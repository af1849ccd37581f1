"""Official Account (公众号) callbacks, driven the way WeChat drives them.

URL verification; every message and event type in plaintext, compatible and safe
mode; every reply type; the rejection rules; handler failures and logging; signals;
dedup of WeChat's retries; and property tests that no input answers 5xx.
"""

from __future__ import annotations

import time
import typing as t

import pytest
from flask import Flask, Response

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
from flask_wechat.crypto import sign
from flask_wechat.testing import DEFAULT_ORIGINAL_ID, DEFAULT_USER, Recorder, WeChatTestClient

from ..conftest import AES_KEY, TOKEN, AppFactory

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
        keys.append(message.event_key)
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
    assert message.brand_new_field == "value"
    assert message.nested == {"Depth": "2", "Label": "inner"}
    assert message.depth == "2"
    assert message.label == "inner"
    if kind == "event":
        assert message.event_key == "future-key"
    with pytest.raises(AttributeError):
        _ = message.field_nobody_sent


def test_compatible_mode_trusts_the_encrypted_copy(aes_app: tuple[Flask, WeChat]) -> None:
    app, wechat = aes_app
    seen: list[str] = []

    @wechat.on("text")
    def handle(message: Message) -> str:
        seen.append(message.content)
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


# == rejections =========================================================================


@pytest.mark.parametrize("timestamp", [1, 1_000_000_000, 4_102_444_800], ids=str)
def test_replay_window_zero_disables_the_age_check(make_app: AppFactory, timestamp: int) -> None:
    app, wechat = make_app(WECHAT_REPLAY_WINDOW=0, WECHAT_ENCODING_AES_KEY=AES_KEY)
    wechat.on("text")(lambda message: "accepted")
    client = WeChatTestClient(app)
    assert client.send(client.message("text", Content="old"), timestamp=timestamp).content == (
        "accepted"
    )
    assert client.verify_url("echo", timestamp=timestamp).get_data(as_text=True) == "echo"


# == handler failures and logs ==========================================================


# == signals ============================================================================


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
