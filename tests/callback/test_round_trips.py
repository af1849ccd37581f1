"""What a user writes reaches the handler intact, and the reply reaches the user intact."""

from __future__ import annotations

import typing as t
import xml.etree.ElementTree as ET

import pytest

from flask_wechat import Message, Reply, TextReply

from .cases import EVENT_CASES, MESSAGE_CASES, REPLY_CASES, Fields
from .conftest import SEND_PATH, TARGETS, VARIANTS, WORK_AGENT_ID, Platform, text_sent, variants

SURVIVING_TEXTS = [
    pytest.param("plain words", id="plain"),
    pytest.param('{"json": "inside", "q": "\\""}', id="json-like"),
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
def test_any_text_survives_the_round_trip(bare_platform: Platform, text: str) -> None:
    platform = bare_platform
    seen: list[str] = []

    @platform.wechat.on("text")
    def echo(message: Message) -> TextReply:
        seen.append(message.content or "")
        return TextReply(message.content or "")

    result = platform.client.text(text)
    assert seen == [text]
    assert platform.reply_of(result) == text
    if not platform.passive:
        assert result.encrypted is False
        assert platform.sandbox.sent == [text_sent(platform, text)]
        assert platform.sandbox.count(SEND_PATH) == 1


def by_platform(cases: dict[str, list[t.Any]]) -> list[t.Any]:
    """``(variant, *case)`` params: each platform with the cases of its kind."""
    return [
        pytest.param(variant, *case, id=f"{'-'.join(variant)}-{case[0]}")
        for variant in VARIANTS
        for case in cases.get(variant[0], [])
    ]


@pytest.mark.parametrize(
    ("bare_platform", "msg_type", "fields", "attributes"),
    by_platform(MESSAGE_CASES),
    indirect=["bare_platform"],
)
def test_message_round_trip(
    bare_platform: Platform, msg_type: str, fields: Fields, attributes: Fields
) -> None:
    platform = bare_platform
    seen: list[Message] = []

    @platform.wechat.on(msg_type)
    def handle(message: Message) -> TextReply:
        seen.append(message)
        return TextReply(f"got {message.type} from {message.source}")

    platform.wechat.on()(lambda message: "the default handler must not answer")

    sent = platform.client.message(msg_type, **fields)
    result = platform.client.send(sent)

    platform.assert_reply(result, sent, f"got {msg_type} from {platform.client.user}")
    [message] = seen
    assert message.type == msg_type
    assert message.dispatch_name == msg_type
    assert message.event is None
    assert message.is_event is False
    assert message.source == platform.client.user
    assert message.target == sent["ToUserName"] == TARGETS[platform.kind]
    assert message.create_time == sent["CreateTime"]
    assert message.id == sent["MsgId"]
    assert isinstance(message.id, int)
    assert message.account == "default"
    if "AgentID" in sent:
        assert message.agent_id == str(sent["AgentID"]) == WORK_AGENT_ID
    for name, value in attributes.items():
        assert getattr(message, name) == value, name
    assert message.raw == platform.expected_raw(sent)


@pytest.mark.parametrize(
    ("bare_platform", "case_id", "event", "name", "fields", "attributes"),
    by_platform(EVENT_CASES),
    indirect=["bare_platform"],
)
def test_event_round_trip(
    bare_platform: Platform, case_id: str, event: str, name: str, fields: Fields, attributes: Fields
) -> None:
    platform = bare_platform
    seen: list[Message] = []

    @platform.wechat.on(name)
    def handle(message: Message) -> str:
        seen.append(message)
        return f"{message.dispatch_name} handled"

    platform.wechat.on()(lambda message: "the default handler must not answer")

    sent = platform.client.event_message(event, **fields)
    result = platform.client.send(sent)

    platform.assert_reply(result, sent, f"{name} handled")
    [message] = seen
    assert message.type == "event"
    assert message.is_event is True
    assert message.event == event.lower()
    assert message.dispatch_name == name
    assert message.source == platform.client.user
    assert message.target == sent["ToUserName"] == TARGETS[platform.kind]
    assert message.create_time == sent["CreateTime"]
    assert message.account == "default"
    if "AgentID" in sent:
        assert message.agent_id == str(sent["AgentID"]) == WORK_AGENT_ID
    for attribute, value in attributes.items():
        assert getattr(message, attribute) == value, attribute
    assert message.raw == platform.expected_raw(sent)


ENVELOPE = ("ToUserName", "FromUserName", "CreateTime")

FUTURE_FIELDS: Fields = {"BrandNewField": "value", "Nested": {"Depth": "2", "Label": "inner"}}


@pytest.mark.parametrize("registration", ["named", "default"])
@pytest.mark.parametrize(
    ("kind", "spelt", "name"),
    [("event", "SomeFutureEvent", "somefutureevent"), ("message", "hologram", "hologram")],
    ids=["future-event", "future-msgtype"],
)
def test_unknown_types_still_reach_handlers(
    bare_platform: Platform, registration: str, kind: str, spelt: str, name: str
) -> None:
    platform = bare_platform
    client = platform.client
    seen: list[Message] = []

    def handle(message: Message) -> str:
        seen.append(message)
        return f"{registration} took {message.dispatch_name}"

    if registration == "named":
        platform.wechat.on(name)(handle)
        platform.wechat.on()(lambda message: "the default must not answer")
    else:
        platform.wechat.on()(handle)
        platform.wechat.on("text")(lambda message: "the text handler must not answer")

    if kind == "event":
        sent = client.event_message(spelt, EventKey="future-key", **FUTURE_FIELDS)
    else:
        sent = client.message(spelt, **FUTURE_FIELDS)
    result = client.send(sent)

    platform.assert_reply(result, sent, f"{registration} took {name}")
    [message] = seen
    assert message.dispatch_name == name
    assert message.type == ("event" if kind == "event" else name)
    assert message.raw == platform.expected_raw(sent)
    # Every field is an attribute, nested ones too, whatever the type.
    assert message.field("brand_new_field") == "value"
    assert message.field("nested") == {"Depth": "2", "Label": "inner"}
    assert message.field("depth") == "2"
    assert message.label == "inner"
    if kind == "event":
        assert message.event_key == "future-key"
    with pytest.raises(AttributeError):
        _ = getattr(message, "field_nobody_sent")  # noqa: B009


def test_click_key_filter(bare_platform: Platform) -> None:
    platform = bare_platform
    keys: list[str] = []

    @platform.wechat.on("click", key="V1001_GOOD")
    def good(message: Message) -> str:
        keys.append(message.event_key or "")
        return "thanks"

    @platform.wechat.on("CLICK")
    def other(message: Message) -> str:
        keys.append("other:" + (message.event_key or ""))
        return "other key"

    assert platform.reply_of(platform.client.event("CLICK", EventKey="V1001_GOOD")) == "thanks"
    other_key = platform.client.event("click", EventKey="V1002_OTHER")
    assert platform.reply_of(other_key) == "other key"
    assert keys == ["V1001_GOOD", "other:V1002_OTHER"]


def test_the_location_event_is_not_the_location_message(bare_platform: Platform) -> None:
    platform = bare_platform
    names: list[str] = []

    @platform.wechat.on("location")
    def location_message(message: Message) -> str:
        names.append("message")
        return "message"

    @platform.wechat.on("location_event")
    def location_event(message: Message) -> str:
        names.append("event")
        return "event"

    result = platform.client.event("LOCATION", Latitude="1", Longitude="2", Precision="3")
    assert platform.reply_of(result) == "event"
    assert names == ["event"]


@pytest.mark.parametrize(
    "bare_platform",
    variants(lambda kind, fmt, mode: mode == "compatible"),
    indirect=True,
)
def test_compatible_mode_trusts_the_encrypted_copy(bare_platform: Platform) -> None:
    platform = bare_platform
    seen: list[str] = []

    @platform.wechat.on("text")
    def handle(message: Message) -> None:
        seen.append(message.content or "")

    client = platform.client
    body, query = client.encode(client.message("text", Content="genuine"))
    forged = body.replace(b"genuine", b"forged!")
    assert forged != body
    response = client.post(forged, query)
    assert (response.status_code, response.get_data()) == (200, b"success")
    assert seen == ["genuine"]


@pytest.mark.parametrize(
    ("bare_platform", "case_id", "returned", "expected"),
    by_platform(REPLY_CASES),
    indirect=["bare_platform"],
)
def test_reply_round_trip(
    bare_platform: Platform, case_id: str, returned: Reply | str, expected: Fields
) -> None:
    platform = bare_platform
    platform.wechat.on("text")(lambda message: returned)
    sent = platform.client.message("text", Content="reply please")
    result = platform.client.send(sent)
    assert result.status_code == 200
    assert result.encrypted is platform.encrypted
    assert result.reply is not None
    assert {k: v for k, v in result.reply.items() if k not in ENVELOPE} == expected
    # Addressed back: to the sender, from the account.
    assert result.reply["ToUserName"] == sent["FromUserName"] == platform.client.user
    assert result.reply["FromUserName"] == sent["ToUserName"] == TARGETS[platform.kind]
    assert result.reply["CreateTime"].isdigit()
    # The reply is XML, encrypted or not.
    assert result.response.mimetype in ("application/xml", "text/xml")
    body = result.response.get_data()
    if platform.encrypted:
        envelope = ET.fromstring(body)
        assert sorted(child.tag for child in envelope) == sorted(
            ["Encrypt", "MsgSignature", "TimeStamp", "Nonce"]
        )
        assert b"<MsgType>" not in body
        assert platform.client.user.encode() not in body
