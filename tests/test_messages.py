"""The inbound message model (flask_wechat.messages.Message)."""

from __future__ import annotations

import typing as t

import pytest

from flask_wechat import Message
from flask_wechat.errors import MalformedBody
from flask_wechat.messages import snake_case
from flask_wechat.parsing import parse_xml


def _message(xml: str, account: str = "default") -> Message:
    return Message(parse_xml(xml.encode()), account=account)


def _envelope(msg_type: str, body: str, *, source: str = "oUser", created: int = 1348831860) -> str:
    return (
        "<xml>\n"
        "  <ToUserName><![CDATA[gh_account]]></ToUserName>\n"
        f"  <FromUserName><![CDATA[{source}]]></FromUserName>\n"
        f"  <CreateTime>{created}</CreateTime>\n"
        f"  <MsgType><![CDATA[{msg_type}]]></MsgType>\n"
        f"{body}\n"
        "</xml>"
    )


# Every message and event the seed documents, written the way WeChat sends them:
# (xml, type, event, name, id, {attribute: value}).
Case = tuple[str, str, str | None, str, int | None, dict[str, t.Any]]

CASES: dict[str, Case] = {
    "text": (
        _envelope(
            "text",
            "<Content><![CDATA[this is a test]]></Content><MsgId>1234567890123456</MsgId>",
        ),
        "text",
        None,
        "text",
        1234567890123456,
        {"content": "this is a test", "msg_id": "1234567890123456"},
    ),
    "image": (
        _envelope(
            "image",
            "<PicUrl><![CDATA[http://mmbiz.qpic.cn/x.jpg]]></PicUrl>"
            "<MediaId><![CDATA[media_id]]></MediaId><MsgId>1234567890123457</MsgId>",
        ),
        "image",
        None,
        "image",
        1234567890123457,
        {"pic_url": "http://mmbiz.qpic.cn/x.jpg", "media_id": "media_id"},
    ),
    "voice": (
        _envelope(
            "voice",
            "<MediaId><![CDATA[voice_media]]></MediaId><Format><![CDATA[amr]]></Format>"
            "<MsgId>1234567890123458</MsgId><Recognition><![CDATA[腾讯微信团队]]></Recognition>",
        ),
        "voice",
        None,
        "voice",
        1234567890123458,
        {"media_id": "voice_media", "format": "amr", "recognition": "腾讯微信团队"},
    ),
    "video": (
        _envelope(
            "video",
            "<MediaId><![CDATA[video_media]]></MediaId>"
            "<ThumbMediaId><![CDATA[thumb_media_id]]></ThumbMediaId><MsgId>1234567890123459</MsgId>",
        ),
        "video",
        None,
        "video",
        1234567890123459,
        {"media_id": "video_media", "thumb_media_id": "thumb_media_id"},
    ),
    "shortvideo": (
        _envelope(
            "shortvideo",
            "<MediaId><![CDATA[short_media]]></MediaId>"
            "<ThumbMediaId><![CDATA[short_thumb]]></ThumbMediaId><MsgId>1234567890123460</MsgId>",
        ),
        "shortvideo",
        None,
        "shortvideo",
        1234567890123460,
        {"media_id": "short_media", "thumb_media_id": "short_thumb"},
    ),
    "location": (
        _envelope(
            "location",
            "<Location_X>23.134521</Location_X><Location_Y>113.358803</Location_Y>"
            "<Scale>20</Scale><Label><![CDATA[位置信息]]></Label><MsgId>1234567890123461</MsgId>",
        ),
        "location",
        None,
        "location",
        1234567890123461,
        {"location_x": "23.134521", "location_y": "113.358803", "scale": "20", "label": "位置信息"},
    ),
    "link": (
        _envelope(
            "link",
            "<Title><![CDATA[公众平台官网链接]]></Title>"
            "<Description><![CDATA[公众平台官网链接描述]]></Description>"
            "<Url><![CDATA[https://mp.weixin.qq.com]]></Url><MsgId>1234567890123462</MsgId>",
        ),
        "link",
        None,
        "link",
        1234567890123462,
        {
            "title": "公众平台官网链接",
            "description": "公众平台官网链接描述",
            "url": "https://mp.weixin.qq.com",
        },
    ),
    "subscribe": (
        _envelope("event", "<Event><![CDATA[subscribe]]></Event>"),
        "event",
        "subscribe",
        "subscribe",
        None,
        {"event_key": None, "ticket": None, "qr_scene": None},
    ),
    "unsubscribe": (
        _envelope("event", "<Event><![CDATA[unsubscribe]]></Event>"),
        "event",
        "unsubscribe",
        "unsubscribe",
        None,
        {"event_key": None},
    ),
    "subscribe-qrscene": (
        _envelope(
            "event",
            "<Event><![CDATA[subscribe]]></Event><EventKey><![CDATA[qrscene_123]]></EventKey>"
            "<Ticket><![CDATA[TICKET]]></Ticket>",
        ),
        "event",
        "subscribe",
        "subscribe",
        None,
        {"event_key": "qrscene_123", "ticket": "TICKET", "qr_scene": "123"},
    ),
    "scan": (
        _envelope(
            "event",
            "<Event><![CDATA[SCAN]]></Event><EventKey><![CDATA[123]]></EventKey>"
            "<Ticket><![CDATA[TICKET]]></Ticket>",
        ),
        "event",
        "scan",
        "scan",
        None,
        {"event_key": "123", "ticket": "TICKET", "qr_scene": "123"},
    ),
    "location-event": (
        _envelope(
            "event",
            "<Event><![CDATA[LOCATION]]></Event><Latitude>23.137466</Latitude>"
            "<Longitude>113.352425</Longitude><Precision>119.385040</Precision>",
        ),
        "event",
        "location",
        "location_event",
        None,
        {"latitude": "23.137466", "longitude": "113.352425", "precision": "119.385040"},
    ),
    "click": (
        _envelope(
            "event", "<Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[EVENTKEY]]></EventKey>"
        ),
        "event",
        "click",
        "click",
        None,
        {"event_key": "EVENTKEY", "qr_scene": None},
    ),
    "view": (
        _envelope(
            "event",
            "<Event><![CDATA[VIEW]]></Event><EventKey><![CDATA[www.qq.com]]></EventKey>"
            "<MenuId>208379533</MenuId>",
        ),
        "event",
        "view",
        "view",
        None,
        {"event_key": "www.qq.com", "menu_id": "208379533"},
    ),
    "scancode_push": (
        _envelope(
            "event",
            "<Event><![CDATA[scancode_push]]></Event><EventKey><![CDATA[6]]></EventKey>\n"
            "<ScanCodeInfo><ScanType><![CDATA[qrcode]]></ScanType>\n"
            "<ScanResult><![CDATA[1]]></ScanResult>\n</ScanCodeInfo>",
        ),
        "event",
        "scancode_push",
        "scancode_push",
        None,
        {
            "event_key": "6",
            "scan_type": "qrcode",
            "scan_result": "1",
            "scan_code_info": {"ScanType": "qrcode", "ScanResult": "1"},
        },
    ),
    "scancode_waitmsg": (
        _envelope(
            "event",
            "<Event><![CDATA[scancode_waitmsg]]></Event><EventKey><![CDATA[6]]></EventKey>\n"
            "<ScanCodeInfo><ScanType><![CDATA[barcode]]></ScanType>\n"
            "<ScanResult><![CDATA[EAN_13,6901234567892]]></ScanResult>\n</ScanCodeInfo>",
        ),
        "event",
        "scancode_waitmsg",
        "scancode_waitmsg",
        None,
        {"scan_type": "barcode", "scan_result": "EAN_13,6901234567892"},
    ),
    **{
        event: (
            _envelope(
                "event",
                f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[6]]></EventKey>\n"
                "<SendPicsInfo><Count>2</Count>\n"
                "<PicList><item><PicMd5Sum><![CDATA[1b5f7c23b5bf75682a53e7b6d163e185]]></PicMd5Sum>\n"
                "</item>\n<item><PicMd5Sum><![CDATA[5a75aaca956d97be686719218f275c6b]]></PicMd5Sum>\n"
                "</item>\n</PicList>\n</SendPicsInfo>",
            ),
            "event",
            event,
            event,
            None,
            {
                "event_key": "6",
                "count": "2",
                "pic_list": [
                    {"PicMd5Sum": "1b5f7c23b5bf75682a53e7b6d163e185"},
                    {"PicMd5Sum": "5a75aaca956d97be686719218f275c6b"},
                ],
            },
        )
        for event in ("pic_sysphoto", "pic_photo_or_album", "pic_weixin")
    },
    "location_select": (
        _envelope(
            "event",
            "<Event><![CDATA[location_select]]></Event><EventKey><![CDATA[6]]></EventKey>\n"
            "<SendLocationInfo><Location_X><![CDATA[23]]></Location_X>\n"
            "<Location_Y><![CDATA[113]]></Location_Y>\n<Scale><![CDATA[15]]></Scale>\n"
            "<Label><![CDATA[ 广州市海珠区客村艺苑路 106号]]></Label>\n"
            "<Poiname><![CDATA[]]></Poiname>\n</SendLocationInfo>",
        ),
        "event",
        "location_select",
        "location_select",
        None,
        {
            "location_x": "23",
            "location_y": "113",
            "scale": "15",
            "label": " 广州市海珠区客村艺苑路 106号",
            "poiname": "",
        },
    ),
    "templatesendjobfinish": (
        _envelope(
            "event",
            "<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>200163836</MsgID>"
            "<Status><![CDATA[success]]></Status>",
        ),
        "event",
        "templatesendjobfinish",
        "templatesendjobfinish",
        200163836,
        {"msg_id": "200163836", "status": "success"},
    ),
    "masssendjobfinish": (
        _envelope(
            "event",
            "<Event><![CDATA[MASSSENDJOBFINISH]]></Event><MsgID>1000001625</MsgID>"
            "<Status><![CDATA[send success]]></Status><TotalCount>100</TotalCount>"
            "<FilterCount>80</FilterCount><SentCount>75</SentCount><ErrorCount>5</ErrorCount>",
        ),
        "event",
        "masssendjobfinish",
        "masssendjobfinish",
        1000001625,
        {
            "status": "send success",
            "total_count": "100",
            "filter_count": "80",
            "sent_count": "75",
            "error_count": "5",
        },
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_documented_messages_and_events(case: Case) -> None:
    xml, msg_type, event, name, msg_id, attributes = case
    message = _message(xml)
    assert message.type == msg_type
    assert message.event == event
    assert message.dispatch_name == name
    assert message.is_event is (msg_type == "event")
    assert message.source == "oUser"
    assert message.target == "gh_account"
    assert message.create_time == 1348831860
    assert type(message.create_time) is int
    assert message.id == msg_id
    assert message.id is None or type(message.id) is int
    assert message.account == "default"
    for attribute, value in attributes.items():
        assert getattr(message, attribute) == value, attribute
    assert message.raw == parse_xml(xml.encode())
    assert message.raw["FromUserName"] == "oUser"
    assert message.field("from_user_name") == "oUser"
    assert message.field("to_user_name") == "gh_account"
    assert message.field("msg_type") == message.raw["MsgType"]


def test_raw_keeps_wechat_names_and_nesting() -> None:
    message = _message(CASES["pic_weixin"][0])
    assert message.raw["Event"] == "pic_weixin"
    assert message.raw["SendPicsInfo"]["PicList"][1]["PicMd5Sum"] == (
        "5a75aaca956d97be686719218f275c6b"
    )
    assert message.send_pics_info == message.raw["SendPicsInfo"]
    location = _message(CASES["location_select"][0])
    assert location.raw["SendLocationInfo"]["Location_X"] == "23"
    assert "Location_X" not in location.raw


def test_event_names_are_lower_cased_but_raw_is_untouched() -> None:
    message = _message(CASES["templatesendjobfinish"][0])
    assert message.event == "templatesendjobfinish"
    assert message.raw["Event"] == "TEMPLATESENDJOBFINISH"
    assert _message(CASES["location-event"][0]).raw["Event"] == "LOCATION"


def test_upper_case_msg_type_is_lower_cased() -> None:
    message = _message(_envelope("TEXT", "<Content>x</Content><MsgId>1</MsgId>"))
    assert message.type == "text"
    assert message.dispatch_name == "text"


def test_account_name_is_kept() -> None:
    message = _message(CASES["text"][0], account="shop")
    assert message.account == "shop"
    assert "shop" in repr(message)


def test_wecom_message_has_agent_id() -> None:
    xml = _envelope("text", "<Content>hello</Content><MsgId>4561255354251345929</MsgId>")
    message = _message(xml.replace("</xml>", "<AgentID>218</AgentID></xml>"))
    assert message.agent_id == "218"
    assert message.id == 4561255354251345929


def test_wecom_event_without_agent_id_reads_none() -> None:
    assert _message(CASES["click"][0]).agent_id is None


# -- unknown and absent fields --------------------------------------------------------


def test_unknown_msg_type_keeps_every_field() -> None:
    xml = _envelope(
        "hologram",
        "<HoloId><![CDATA[h-1]]></HoloId><Depth>3</Depth><MsgId>99</MsgId>"
        "<Frame><FrameRate>60</FrameRate></Frame>",
    )
    message = _message(xml)
    assert message.type == "hologram"
    assert message.dispatch_name == "hologram"
    assert message.event is None
    assert message.id == 99
    assert message.field("holo_id") == "h-1"
    assert message.field("depth") == "3"
    assert message.field("frame") == {"FrameRate": "60"}
    assert message.field("frame_rate") == "60"
    assert message.raw["HoloId"] == "h-1"


def test_unknown_event_keeps_every_field() -> None:
    xml = _envelope(
        "event",
        "<Event><![CDATA[Some_Future_Event]]></Event><EventKey><![CDATA[k1]]></EventKey>"
        "<NewField><![CDATA[new value]]></NewField>"
        "<Details><InnerCode>7</InnerCode><HQThing>x</HQThing></Details>",
    )
    message = _message(xml)
    assert message.type == "event"
    assert message.event == "some_future_event"
    assert message.dispatch_name == "some_future_event"
    assert message.event_key == "k1"
    assert message.field("new_field") == "new value"
    assert message.field("details") == {"InnerCode": "7", "HQThing": "x"}
    assert message.field("inner_code") == "7"
    assert message.field("hq_thing") == "x"
    assert message.qr_scene is None


def test_top_level_field_wins_over_a_nested_one_of_the_same_name() -> None:
    xml = _envelope("event", "<Event>x</Event><Count>1</Count><Info><Count>2</Count></Info>")
    message = _message(xml)
    assert message.count == "1"
    assert message.field("info") == {"Count": "2"}


@pytest.mark.parametrize(
    ("case", "attribute"),
    [
        ("image", "content"),
        ("text", "media_id"),
        ("text", "event_key"),
        ("voice", "thumb_media_id"),
        ("location", "latitude"),
        ("click", "menu_id"),
        ("click", "scan_result"),
        ("subscribe", "ticket"),
        ("text", "pic_list"),
        ("text", "status"),
    ],
)
def test_documented_but_absent_field_is_none(case: str, attribute: str) -> None:
    assert getattr(_message(CASES[case][0]), attribute) is None


def test_voice_without_recognition_reads_none() -> None:
    xml = _envelope("voice", "<MediaId>m</MediaId><Format>amr</Format><MsgId>5</MsgId>")
    assert _message(xml).recognition is None


@pytest.mark.parametrize("attribute", ["no_such_field", "contents", "EventKey", "from_user"])
def test_unknown_attribute_raises_attribute_error(attribute: str) -> None:
    message = _message(CASES["text"][0])
    with pytest.raises(AttributeError, match=attribute):
        getattr(message, attribute)
    assert getattr(message, attribute, "fallback") == "fallback"
    assert not hasattr(message, attribute)


def test_scene_only_for_subscribe_and_scan() -> None:
    assert _message(CASES["subscribe-qrscene"][0]).qr_scene == "123"
    assert _message(CASES["scan"][0]).qr_scene == "123"
    assert _message(CASES["click"][0]).qr_scene is None
    assert _message(CASES["text"][0]).qr_scene is None
    plain_key = _envelope("event", "<Event>subscribe</Event><EventKey>last_trade_no</EventKey>")
    # Not a QR code's key (a payment-style event key): no QR scene.
    assert _message(plain_key).qr_scene is None


# -- malformed messages ---------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        {"ToUserName": "gh", "FromUserName": "oUser", "CreateTime": "1"},
        {"ToUserName": "gh", "FromUserName": "oUser", "CreateTime": "1", "MsgType": ""},
        {"ToUserName": "gh", "FromUserName": "oUser", "CreateTime": "1", "MsgType": {"x": "y"}},
        {"ToUserName": "gh", "FromUserName": ["a", "b"], "CreateTime": "1", "MsgType": "text"},
        {"FromUserName": "oUser", "CreateTime": "yesterday", "MsgType": "text"},
        {"FromUserName": "oUser", "CreateTime": "1.5", "MsgType": "text"},
        {"FromUserName": "oUser", "CreateTime": "1", "MsgType": "text", "MsgId": "abc"},
    ],
    ids=[
        "no-msgtype",
        "empty-msgtype",
        "nested-msgtype",
        "list-from",
        "text-createtime",
        "float-createtime",
        "text-msgid",
    ],
)
def test_malformed_message_is_rejected(raw: dict[str, t.Any]) -> None:
    with pytest.raises(MalformedBody):
        Message(raw)


@pytest.mark.parametrize("source", [None, ""])
def test_a_message_without_a_sender_is_valid(source: str | None) -> None:
    """WeCom 微信客服 kf_msg_or_event and some sys events carry no FromUserName."""
    raw: dict[str, t.Any] = {"ToUserName": "ww", "CreateTime": "1", "MsgType": "event"}
    raw["Event"] = "kf_msg_or_event"
    if source is not None:
        raw["FromUserName"] = source
    message = Message(raw)
    assert message.source is None
    assert message.dispatch_name == "kf_msg_or_event"


def test_malformed_message_from_xml() -> None:
    xml = _envelope("text", "<Content>x</Content>").replace(
        "<CreateTime>1348831860</CreateTime>", "<CreateTime>soon</CreateTime>"
    )
    with pytest.raises(MalformedBody):
        _message(xml)


# -- snake_case -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("FromUserName", "from_user_name"),
        ("ToUserName", "to_user_name"),
        ("HQMusicUrl", "hq_music_url"),
        ("Location_X", "location_x"),
        ("Location_Y", "location_y"),
        ("MsgID", "msg_id"),
        ("MsgId", "msg_id"),
        ("PicMd5Sum", "pic_md5_sum"),
        ("AgentID", "agent_id"),
        ("EventKey", "event_key"),
        ("ScanCodeInfo", "scan_code_info"),
        ("Content", "content"),
        ("content", "content"),
    ],
)
def test_snake_case(name: str, expected: str) -> None:
    assert snake_case(name) == expected


def test_a_message_type_is_its_msg_type_even_with_a_stray_event_field() -> None:
    text = Message({"MsgType": "text", "Event": "subscribe", "Content": "hi", "MsgId": "1"})
    assert text.type == "text"
    assert text.event is None
    assert text.dispatch_names == ("text",)
    assert not text.is_event
    device = Message({"MsgType": "device_event", "Event": "bind"})
    assert device.dispatch_names == ("bind", "device_event")
