"""Platform → user: agents' messages delivered, refused or reported; and the relay settings."""

from __future__ import annotations

import json
import time
import typing as t

import pytest
import requests
from flask import url_for

from flask_wechat.errors import APIError, PermanentFailure
from flask_wechat.relay import (
    MAX_MEDIA_SIZE,
)
from flask_wechat.sandbox import SANDBOX_APP_ID, RelayPlatform, Sandbox

from .conftest import AMR, USER, Relay, relay_app

JPEG = b"\xff\xd8\xff\xe0" + b"fake jpeg body " * 64 + b"\xff\xd9"


def test_agent_text_reply_is_sent_to_the_user(relay: Relay) -> None:
    response = relay.platform.reply(relay.callback_url, USER, "text", "您好，请问有什么可以帮您？")

    assert response.status_code == 200
    assert response.json() == {"code": 0, "message": "ok"}
    assert relay.sandbox.sent == [
        {
            "touser": USER,
            "msgtype": "text",
            "text": {"content": "您好，请问有什么可以帮您？"},
            "kind": "custom",
            "app_id": SANDBOX_APP_ID,
        }
    ]
    [received] = relay.received.calls
    assert received["account"] == "default"
    assert received["message"]["open_id"] == USER
    assert received["message"]["content"] == "您好，请问有什么可以帮您？"
    assert relay.finished.calls == []
    assert relay.failed.calls == []


def test_agent_reply_with_a_seconds_timestamp_is_accepted(relay: Relay) -> None:
    response = relay.platform.reply(
        relay.callback_url, USER, "text", "秒级时间戳", timestamp=int(time.time())
    )

    assert response.status_code == 200
    assert [m["text"]["content"] for m in relay.sandbox.sent] == ["秒级时间戳"]


def test_agent_image_reply_is_uploaded_and_sent(relay: Relay) -> None:
    url = relay.platform.add_file("photo.jpg", JPEG, "image/jpeg")

    response = relay.platform.reply(relay.callback_url, USER, "image", url)

    assert response.status_code == 200
    [sent] = relay.sandbox.sent
    assert sent["touser"] == USER
    assert sent["msgtype"] == "image"
    media = relay.sandbox.media[sent["image"]["media_id"]]
    assert media.data == JPEG
    assert media.type == "image"
    assert relay.platform.downloads("photo.jpg") == 1
    assert relay.failed.calls == []


def test_agent_voice_reply_without_extension_is_named_by_its_type(relay: Relay) -> None:
    url = relay.platform.add_file("v0001", AMR, "audio/amr")

    relay.platform.reply(relay.callback_url, USER, "voice", url)

    [sent] = relay.sandbox.sent
    assert sent["msgtype"] == "voice"
    media = relay.sandbox.media[sent["voice"]["media_id"]]
    assert media.data == AMR
    assert media.filename.endswith(".amr")


def test_agent_finish_signals_and_sends_nothing(relay: Relay) -> None:
    response = relay.platform.reply(relay.callback_url, USER, "finish")

    assert response.status_code == 200
    [finished] = relay.finished.calls
    assert finished["open_id"] == USER
    assert finished["account"] == "default"
    assert finished["message"]["msgType"] == "finish"
    assert len(relay.received.calls) == 1
    assert relay.sandbox.sent == []
    assert relay.sandbox.count("/cgi-bin/message/custom/send") == 0


def test_a_replayed_agent_message_is_delivered_once(relay: Relay) -> None:
    body = relay.platform.signed(USER, "text", "只发一次")

    first = relay.platform.post(relay.callback_url, body)
    second = relay.platform.post(relay.callback_url, body)

    assert (first.status_code, second.status_code) == (200, 200)
    assert [m["text"]["content"] for m in relay.sandbox.sent] == ["只发一次"]
    assert len(relay.received.calls) == 1


def _stale(platform: RelayPlatform) -> t.Any:
    return platform.signed(USER, "text", "old", timestamp=int((time.time() - 3600) * 1000))


def _without(field: str) -> t.Callable[[RelayPlatform], t.Any]:
    def build(platform: RelayPlatform) -> t.Any:
        body = platform.signed(USER, "text", "hi")
        del body[field]
        return body

    return build


REJECTIONS: list[tuple[str, t.Callable[[RelayPlatform], t.Any], int]] = [
    ("bad signature", lambda p: p.signed(USER, "text", "hi", signature="bad"), 403),
    (
        "open_id changed after signing",
        lambda p: {**p.signed(USER, "text", "hi"), "open_id": "x"},
        403,
    ),
    ("stale timestamp", _stale, 403),
    ("malformed JSON", lambda p: b'{"open_id": "oX", "msgType": ', 400),
    ("not UTF-8", lambda p: b"\xff\xfe{}", 400),
    ("JSON array", lambda p: [p.signed(USER, "text", "hi")], 400),
    ("missing open_id", _without("open_id"), 400),
    ("missing msgType", _without("msgType"), 400),
    ("missing timestamp", _without("timestamp"), 400),
    ("missing nonce", _without("nonce"), 400),
    ("missing msg_signature", _without("msg_signature"), 403),
    ("missing content", _without("content"), 400),
    ("open_id not a string", lambda p: {**p.signed(USER, "text", "hi"), "open_id": 42}, 400),
    ("timestamp not a number", lambda p: {**p.signed(USER, "text", "hi"), "timestamp": "x"}, 400),
    ("unknown msgType", lambda p: p.signed(USER, "music", "hi"), 400),
    ("media content not a URL", lambda p: p.signed(USER, "image", "file:///etc/passwd"), 400),
]


@pytest.mark.parametrize(
    ("build", "status"), [(b, s) for _, b, s in REJECTIONS], ids=[n for n, _, _ in REJECTIONS]
)
def test_bad_agent_messages_are_rejected(
    relay: Relay, build: t.Callable[[RelayPlatform], t.Any], status: int
) -> None:
    response = relay.platform.post(relay.callback_url, build(relay.platform))

    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/plain")
    [rejected] = relay.rejected.calls
    assert rejected["account"] == "default"
    assert rejected["reason"] == response.text
    assert relay.received.calls == []
    assert relay.sandbox.sent == []


def test_oversized_agent_message_is_refused(relay: Relay) -> None:
    # Through the Flask test client: over TCP, a server that answers before reading
    # a large body may reset the connection under the client's feet.
    body = json.dumps(relay.platform.signed(USER, "text", "x" * (1024 * 1024)))

    response = relay.app.test_client().post(
        "/wechat/relay", data=body, content_type="application/json"
    )

    assert response.status_code == 413
    assert [c["reason"] for c in relay.rejected.calls] == [response.get_data(as_text=True)]
    assert relay.received.calls == []
    assert relay.sandbox.sent == []


def test_relay_callback_takes_only_post(relay: Relay) -> None:
    response = requests.get(relay.callback_url, timeout=10)

    assert response.status_code == 405
    assert relay.sandbox.sent == []


def test_relay_callback_through_the_flask_test_client(relay: Relay) -> None:
    body = relay.platform.signed(USER, "text", "via test client")

    response = relay.app.test_client().post(
        "/wechat/relay", data=json.dumps(body), content_type="application/json"
    )

    assert response.status_code == 200
    assert [m["text"]["content"] for m in relay.sandbox.sent] == ["via test client"]


# == WeChat-side failures of agent messages ==============================================


def test_wechat_refusing_the_message_is_reported(relay: Relay) -> None:
    relay.sandbox.fail("/cgi-bin/message/custom/send", 45015, times=None)

    response = relay.platform.reply(relay.callback_url, USER, "text", "还在吗？")

    assert response.status_code == 200  # the platform did its part
    [failure] = relay.failed.calls
    assert failure["task"].name == "relay_to_user"
    assert failure["task"].payload["open_id"] == USER
    assert isinstance(failure["exception"], APIError)
    assert failure["exception"].errcode == 45015
    assert relay.sandbox.sent == []
    # 45015 will not change by retrying: tried once.
    assert relay.sandbox.count("/cgi-bin/message/custom/send") == 1


def test_agent_media_missing_on_the_platform_is_reported(relay: Relay) -> None:
    response = relay.platform.reply(
        relay.callback_url, USER, "image", relay.platform.url + "/files/gone.jpg"
    )

    assert response.status_code == 200
    [failure] = relay.failed.calls
    assert isinstance(failure["exception"], PermanentFailure)
    assert relay.sandbox.count("/cgi-bin/media/upload") == 0
    assert relay.sandbox.sent == []


def test_agent_media_over_the_size_limit_is_refused(relay: Relay) -> None:
    url = relay.platform.add_file("huge.mp4", b"\0" * (MAX_MEDIA_SIZE + 1), "video/mp4")

    relay.platform.reply(relay.callback_url, USER, "video", url)

    [failure] = relay.failed.calls
    assert isinstance(failure["exception"], PermanentFailure)
    assert "larger than" in str(failure["exception"])
    assert relay.sandbox.count("/cgi-bin/media/upload") == 0
    assert relay.sandbox.sent == []


# == configuration =======================================================================


def test_routes_exist_only_with_a_relay(sandbox: Sandbox, platform: RelayPlatform) -> None:
    with_relay, _ = relay_app(sandbox, platform)
    without, _ = relay_app(sandbox, platform, WECHAT_RELAY_URL=None)

    endpoints = {rule.endpoint for rule in with_relay.url_map.iter_rules()}
    assert {"wechat.relay_default", "wechat.relay_media_default"} <= endpoints
    assert not any("relay" in rule.endpoint for rule in without.url_map.iter_rules())
    with with_relay.test_request_context():
        assert url_for("wechat.relay_default") == "/wechat/relay"
    assert without.test_client().post("/wechat/relay", data=b"{}").status_code == 404


def test_relay_callback_url_can_be_configured(sandbox: Sandbox, platform: RelayPlatform) -> None:
    app, _ = relay_app(sandbox, platform, WECHAT_RELAY_CALLBACK_URL="/hooks/7moor")
    body = platform.signed(USER, "text", "custom url")

    response = app.test_client().post(
        "/hooks/7moor", data=json.dumps(body), content_type="application/json"
    )

    assert response.status_code == 200
    assert [m["text"]["content"] for m in sandbox.sent] == ["custom url"]
