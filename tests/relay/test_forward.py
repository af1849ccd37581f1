"""User → platform: what is forwarded, how media travels, and the platform's failures."""

from __future__ import annotations

import hashlib
import logging
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from flask_wechat import Message
from flask_wechat.crypto import sign
from flask_wechat.errors import PermanentFailure, RelayError
from flask_wechat.relay import (
    forward_payload,
    media_signature,
    relay_signature,
)
from flask_wechat.sandbox import SANDBOX_APP_ID, RelayPlatform, Sandbox

from .conftest import AMR, RELAY_TOKEN, USER, Relay, relay_app


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
