"""The 7moor customer-service relay, end to end over real HTTP on loopback.

Three servers take part: the fake WeChat API (:class:`Sandbox`), the fake
platform (:class:`RelayPlatform`) and the app itself, served by werkzeug so that
the platform reaches its relay callback and media proxy exactly as 7moor would.
Tasks run inline (``InlineRunner``), so every forward and delivery has happened
by the time the request that caused it is answered.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
import time
import typing as t
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from blinker import Signal
from flask import Flask, url_for
from werkzeug.serving import WSGIRequestHandler, make_server

from flask_wechat import Message, WeChat, signals
from flask_wechat.crypto import sign
from flask_wechat.errors import APIError, PermanentFailure, RelayError
from flask_wechat.relay import (
    MAX_MEDIA_SIZE,
    forward_payload,
    media_signature,
    relay_signature,
)
from flask_wechat.sandbox import SANDBOX_APP_ID, RelayPlatform, Sandbox
from flask_wechat.tasks import InlineRunner
from flask_wechat.testing import Recorder, WeChatTestClient

TOKEN = "relay-callback-token"
RELAY_TOKEN = "c2aed800324911e8"
USER = "oRelayUser00000000000000001"
JPEG = b"\xff\xd8\xff\xe0" + b"fake jpeg body " * 64 + b"\xff\xd9"
AMR = b"#!AMR\n" + bytes(range(256)) * 8


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: t.Any) -> None:
        return


@dataclasses.dataclass
class Relay:
    """One test's world: the app (served on loopback), its WeChat test client,
    the fake WeChat API, the fake platform and recorders of the relay signals."""

    app: Flask
    wechat: WeChat
    client: WeChatTestClient
    base_url: str
    sandbox: Sandbox
    platform: RelayPlatform
    received: Recorder
    finished: Recorder
    forwarded: Recorder
    failed: Recorder
    rejected: Recorder

    @property
    def callback_url(self) -> str:
        """The relay callback as the platform reaches it."""
        return self.base_url + "/wechat/relay"

    def upload(self, media_type: str, data: bytes, filename: str) -> str:
        """Put media on the fake WeChat; its media_id."""
        with self.app.app_context():
            answer = self.wechat.client().media.upload(media_type, data, filename)
        return str(answer["media_id"])


@pytest.fixture
def platform() -> Iterator[RelayPlatform]:
    with RelayPlatform(RELAY_TOKEN) as fake:
        yield fake


def relay_app(sandbox: Sandbox, platform: RelayPlatform, **config: t.Any) -> tuple[Flask, WeChat]:
    sandbox.user_wrote(USER)  # the user whose messages are relayed wrote to the account
    app = Flask("relay_test")
    app.config.update(
        TESTING=True,
        **sandbox.flask_config("mp"),
        WECHAT_TOKEN=TOKEN,
        WECHAT_RELAY_URL=platform.receive_url,
        WECHAT_RELAY_TOKEN=RELAY_TOKEN,
    )
    app.config.update(config)
    return app, WeChat(app, task_runner=InlineRunner(attempts=3, backoff=0.01))


@pytest.fixture
def relay(sandbox: Sandbox, platform: RelayPlatform) -> Iterator[Relay]:
    app, wechat = relay_app(sandbox, platform)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    # Requests of the test client and URLs built by url_for then name the live server.
    app.config["SERVER_NAME"] = f"127.0.0.1:{server.port}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    recorders = {
        signal: Recorder()
        for signal in (
            signals.relay_message_received,
            signals.relay_session_finished,
            signals.relay_forwarded,
            signals.delivery_failed,
            signals.request_rejected,
        )
    }
    for signal, recorder in recorders.items():
        signal.connect(recorder, app, weak=False)
    try:
        yield Relay(
            app=app,
            wechat=wechat,
            client=WeChatTestClient(app, user=USER),
            base_url=f"http://127.0.0.1:{server.port}",
            sandbox=sandbox,
            platform=platform,
            received=recorders[signals.relay_message_received],
            finished=recorders[signals.relay_session_finished],
            forwarded=recorders[signals.relay_forwarded],
            failed=recorders[signals.delivery_failed],
            rejected=recorders[signals.request_rejected],
        )
    finally:
        for signal, recorder in recorders.items():
            t.cast(Signal, signal).disconnect(recorder, app)
        server.shutdown()
        thread.join()
        server.server_close()


# == user → platform ==================================================================


def test_unanswered_text_is_forwarded_with_a_valid_signature(relay: Relay) -> None:
    result = relay.client.text("你好，我要退货 😀")

    assert result.is_success
    [forward] = relay.platform.received
    assert forward["signature_ok"] is True
    assert forward["status"] == 200
    assert forward["app_id"] == SANDBOX_APP_ID
    assert forward["open_id"] == USER
    assert forward["nick_name"] == USER
    assert forward["msgType"] == "text"
    assert forward["content"] == "你好，我要退货 😀"
    assert "mediaUrl" not in forward
    # The timestamp is in milliseconds (the seed's JS and Java examples) ...
    assert forward["timestamp"] > 10**12
    assert abs(forward["timestamp"] / 1000 - time.time()) < 300
    # ... and the signature covers exactly token, timestamp, nonce and open_id.
    expected = sign(RELAY_TOKEN, str(forward["timestamp"]), forward["nonce"], USER)
    assert forward["msg_signature"] == expected
    assert [c["message"]["content"] for c in relay.forwarded.calls] == ["你好，我要退货 😀"]
    assert [c["account"] for c in relay.forwarded.calls] == ["default"]
    assert relay.failed.calls == []


def test_relay_signature_is_the_sorted_sha1() -> None:
    # The platform's Node.js example: sha1 of the sorted values, joined, in hex.
    parts = ["c2aed800324911e8", "1454299783079", "0.123", "oBxq1wMfjWsDdDgHLRST6aiXqwas"]
    expected = hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()
    assert relay_signature(*parts) == expected


def test_handled_messages_are_not_forwarded(relay: Relay) -> None:
    @relay.wechat.on("text")
    def answer(message: Message) -> str:
        return "收到"

    result = relay.client.text("hello")

    assert result.content == "收到"
    assert relay.platform.received == []
    assert relay.forwarded.calls == []


def test_a_handler_can_forward_explicitly_once(relay: Relay) -> None:
    @relay.wechat.on("text")
    def transfer(message: Message) -> None:
        relay.wechat.relay_forward(message)

    result = relay.client.text("转人工")

    assert result.is_success
    assert [f["content"] for f in relay.platform.received] == ["转人工"]
    assert len(relay.forwarded.calls) == 1


def test_a_handler_can_forward_and_still_reply(relay: Relay) -> None:
    @relay.wechat.on("text")
    def transfer(message: Message) -> str:
        relay.wechat.relay_forward(message)
        return "正在为您转接人工客服"

    result = relay.client.text("人工")

    assert result.content == "正在为您转接人工客服"
    assert [f["content"] for f in relay.platform.accepted] == ["人工"]


def test_image_is_forwarded_with_its_pic_url(relay: Relay) -> None:
    pic = "http://mmbiz.qpic.cn/mmbiz_jpg/abc/0"
    relay.client.send(relay.client.message("image", PicUrl=pic, MediaId="media-1"))

    [forward] = relay.platform.accepted
    assert forward["msgType"] == "image"
    assert forward["mediaUrl"] == pic
    assert forward["signature_ok"] is True


def test_voice_is_forwarded_with_a_media_proxy_url(relay: Relay) -> None:
    media_id = relay.upload("voice", AMR, "hello.amr")
    relay.client.send(
        relay.client.message("voice", MediaId=media_id, Format="amr", Recognition="我要退款")
    )

    [forward] = relay.platform.accepted
    assert forward["msgType"] == "voice"
    assert forward["content"] == "我要退款"
    url = forward["mediaUrl"]
    assert url.startswith(relay.callback_url + "/media/")
    assert "access_token" not in url
    # The platform fetches the voice from the proxy: the sandbox's bytes come back.
    fetched = requests.get(url, timeout=10)
    assert fetched.status_code == 200
    assert fetched.content == AMR
    assert fetched.headers["Content-Type"] == "audio/amr"
    assert relay.rejected.calls == []


def test_media_proxy_refuses_a_bad_signature(relay: Relay) -> None:
    media_id = relay.upload("voice", AMR, "hello.amr")
    relay.client.send(relay.client.message("voice", MediaId=media_id))
    url = relay.platform.accepted[0]["mediaUrl"]
    good_sig = parse_qs(urlsplit(url).query)["sig"][0]

    tampered = requests.get(url.replace(good_sig, "0" * len(good_sig)), timeout=10)
    unsigned = requests.get(url.split("?", 1)[0], timeout=10)

    assert tampered.status_code == 403
    assert unsigned.status_code == 403
    assert AMR not in tampered.content
    assert [c["reason"] for c in relay.rejected.calls] == ["invalid media signature"] * 2


def test_media_proxy_answers_404_for_unknown_media(relay: Relay) -> None:
    account = relay.app.extensions["wechat"].account()
    sig = media_signature(account, "no-such-media")

    response = requests.get(
        relay.callback_url + "/media/no-such-media", params={"sig": sig}, timeout=10
    )

    assert response.status_code == 404
    assert relay.sandbox.count("/cgi-bin/media/get") == 1


def test_media_signature_is_bound_to_the_media_id(relay: Relay) -> None:
    account = relay.app.extensions["wechat"].account()
    media_id = relay.upload("voice", AMR, "hello.amr")
    other_sig = media_signature(account, "another-media")

    response = requests.get(
        relay.callback_url + f"/media/{media_id}", params={"sig": other_sig}, timeout=10
    )

    assert response.status_code == 403
    assert relay.sandbox.count("/cgi-bin/media/get") == 0


@pytest.mark.parametrize("msg_type", ["video", "shortvideo"])
def test_video_is_forwarded_as_video_with_a_proxy_url(relay: Relay, msg_type: str) -> None:
    relay.client.send(relay.client.message(msg_type, MediaId="media-v", ThumbMediaId="t"))

    [forward] = relay.platform.accepted
    assert forward["msgType"] == "video"
    assert forward["mediaUrl"].startswith(relay.callback_url + "/media/media-v?sig=")


@pytest.mark.parametrize(
    ("msg_type", "fields", "content"),
    [
        (
            "location",
            {"Location_X": "23.134521", "Location_Y": "113.358803", "Scale": "20", "Label": "广州"},
            "[位置] 广州 (23.134521, 113.358803)",
        ),
        (
            "link",
            {"Title": "订单详情", "Description": "d", "Url": "https://example.com/o/1"},
            "[链接] 订单详情 https://example.com/o/1",
        ),
        ("something_new", {}, "[something_new]"),
    ],
)
def test_other_messages_are_forwarded_as_readable_text(
    relay: Relay, msg_type: str, fields: dict[str, str], content: str
) -> None:
    relay.client.send(relay.client.message(msg_type, **fields))

    [forward] = relay.platform.accepted
    assert forward["msgType"] == "text"
    assert forward["content"] == content


@pytest.mark.parametrize(("event", "fields"), [("subscribe", {}), ("CLICK", {"EventKey": "V1001"})])
def test_events_are_not_forwarded(relay: Relay, event: str, fields: dict[str, str]) -> None:
    result = relay.client.event(event, **fields)

    assert result.is_success
    assert relay.platform.received == []
    assert relay.forwarded.calls == []
    assert relay.failed.calls == []


def test_without_a_request_context_media_url_is_left_out(
    sandbox: Sandbox, platform: RelayPlatform
) -> None:
    app, _wechat = relay_app(sandbox, platform)  # no SERVER_NAME
    account = app.extensions["wechat"].account()
    message = Message({"MsgType": "voice", "FromUserName": USER, "MediaId": "m-1"})

    with app.app_context():
        payload = forward_payload(account, message)
    with app.test_request_context("/", base_url="https://shop.example.com"):
        in_request = forward_payload(account, message)

    assert payload is not None
    assert in_request is not None
    assert "mediaUrl" not in payload
    assert payload["msgType"] == "voice"
    assert in_request["mediaUrl"].startswith("https://shop.example.com/wechat/relay/media/m-1")


# == platform failures =============================================================


def test_platform_down_is_retried_then_reported(
    relay: Relay, caplog: pytest.LogCaptureFixture
) -> None:
    relay.platform.fail(3, status=500)

    with caplog.at_level(logging.ERROR, logger="flask_wechat"):
        result = relay.client.text("有人吗")

    assert result.is_success  # WeChat is answered whatever the platform does
    attempts = relay.platform.received
    assert [a["status"] for a in attempts] == [500, 500, 500]
    assert all(a["signature_ok"] for a in attempts)
    assert len({a["nonce"] for a in attempts}) == 3  # signed afresh for every attempt
    [failure] = relay.failed.calls
    assert failure["task"].name == "relay_to_platform"
    assert failure["account"] == "default"
    assert isinstance(failure["exception"], RelayError)
    assert failure["exception"].status == 500
    assert "could not complete a relay_to_platform task" in caplog.text
    assert RELAY_TOKEN not in caplog.text
    assert relay.forwarded.calls == []


def test_platform_failing_once_is_retried_and_delivered_once(relay: Relay) -> None:
    relay.platform.fail(1, status=503)

    relay.client.text("在吗")

    assert [a["status"] for a in relay.platform.received] == [503, 200]
    assert [f["content"] for f in relay.platform.accepted] == ["在吗"]
    assert len(relay.forwarded.calls) == 1
    assert relay.failed.calls == []


def test_platform_refusing_the_request_is_not_retried(relay: Relay) -> None:
    relay.platform.fail(1, status=400)

    relay.client.text("hello")

    assert [a["status"] for a in relay.platform.received] == [400]
    [failure] = relay.failed.calls
    assert isinstance(failure["exception"], PermanentFailure)


# == platform → user ==================================================================


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
