"""The signals a callback sends: message_received, the type signals, reply_sent."""

from __future__ import annotations

import typing as t

import pytest

from flask_wechat import TextReply, signals
from flask_wechat.sandbox import SANDBOX_APP_ID
from flask_wechat.testing import Recorder, WeChatTestClient

from .conftest import Platform


def test_message_received_for_every_verified_message(bare_platform: Platform) -> None:
    platform = bare_platform
    client = platform.client
    received = Recorder()
    with signals.message_received.connected_to(received, platform.app):
        client.text("one")
        client.event("CLICK", EventKey="K")
        client.send(client.message("image", MediaId="m"))
    assert [call["sender"] for call in received.calls] == [platform.app] * 3
    assert [call["account"] for call in received.calls] == ["default"] * 3
    assert [message.dispatch_name for message in received.messages] == ["text", "click", "image"]
    assert [message.source for message in received.messages] == [client.user] * 3


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
    bare_platform: Platform,
    signal: t.Any,
    send: t.Callable[[WeChatTestClient], object],
    name: str,
) -> None:
    app, client = bare_platform.app, bare_platform.client
    got = Recorder()
    with signal.connected_to(got, app):
        client.send(client.message("voice", MediaId="other"))  # some other type first
        send(client)
    assert [(call["sender"], call["account"]) for call in got.calls] == [(app, "default")]
    assert got.messages[0].dispatch_name == name


def test_location_event_does_not_fire_the_location_message_signal(
    bare_platform: Platform,
) -> None:
    app = bare_platform.app
    message_signal, event_signal = Recorder(), Recorder()
    with (
        signals.location.connected_to(message_signal, app),
        signals.location_event.connected_to(event_signal, app),
    ):
        bare_platform.client.event("LOCATION", Latitude="1", Longitude="2")
    assert message_signal.calls == []
    assert len(event_signal.calls) == 1


def test_reply_sent(bare_platform: Platform) -> None:
    platform = bare_platform
    platform.wechat.on("text", match="^ping")(lambda message: "pong")
    platform.wechat.on("text", match="^reply")(lambda message: TextReply("delivered"))
    platform.wechat.on("text")(lambda message: None)
    sent = Recorder(on_call=lambda: list(platform.sandbox.sent))
    with signals.reply_sent.connected_to(sent, platform.app):
        assert platform.reply_of(platform.client.text("ping")) == "pong"
        platform.client.text("silence")
        platform.client.text("reply please")
    first, second = sent.calls
    assert first["sender"] is second["sender"] is platform.app
    assert [call["message"].content for call in sent.calls] == ["ping", "reply please"]
    assert [call["reply"] for call in sent.calls] == [TextReply("pong"), TextReply("delivered")]
    assert [call["account"] for call in sent.calls] == ["default", "default"]
    if not platform.passive:
        # When the signal fired, the message had already reached the API.
        assert second["observed"][-1] == {
            "touser": platform.client.user,
            "msgtype": "text",
            "text": {"content": "delivered"},
            "kind": "custom",
            "app_id": SANDBOX_APP_ID,
        }
        assert len(second["observed"]) == 2
