"""Mini Program / Mini Game customer-service callbacks (小程序/小游戏客服消息).

The account pushes XML or JSON (``WECHAT_FORMAT``) in plaintext, compatible or
safe mode. Mini programs take no passive reply: the callback always answers
``success`` and a handler's reply reaches the user through
``/cgi-bin/message/custom/send`` — here a :class:`~flask_wechat.sandbox.Sandbox`
speaking real HTTP on 127.0.0.1, with an :class:`~flask_wechat.tasks.InlineRunner`
so that the send happens inside the request.
"""

from __future__ import annotations

import secrets
import typing as t
from pathlib import Path

import pytest
from flask import Flask

from flask_wechat import (
    APIError,
    ImageReply,
    TextReply,
    TransferCustomerServiceReply,
    WeChat,
    signals,
)
from flask_wechat.replies import reply_from_data
from flask_wechat.sandbox import SANDBOX_APP_ID, Sandbox
from flask_wechat.tasks import InlineRunner, Task
from flask_wechat.testing import DEFAULT_ORIGINAL_ID, DEFAULT_USER, Recorder, WeChatTestClient

from ..helpers import custom_text, sandbox_app, stringify

Fields = dict[str, t.Any]

TOKEN = "mini-program-token"
# 43 characters, as the admin console generates an EncodingAESKey.
AES_KEY = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg"
SEND_PATH = "/cgi-bin/message/custom/send"
UPLOAD_PATH = "/cgi-bin/media/upload"

FORMATS = ("xml", "json")
MODES = ("plain", "compatible", "safe")
FORMAT_MODES = [pytest.param((fmt, mode), id=f"{fmt}-{mode}") for fmt in FORMATS for mode in MODES]


class Mini(t.NamedTuple):
    """A mini program app on the sandbox, and a client playing WeChat against it."""

    app: Flask
    wechat: WeChat
    client: WeChatTestClient
    sandbox: Sandbox
    fmt: str
    mode: str

    def expected_raw(self, sent: Fields) -> Fields:
        """``message.raw`` for ``sent``: JSON keeps its types, XML makes every leaf a string."""
        return sent if self.fmt == "json" else stringify(sent)


def make_mini(sandbox: Sandbox, fmt: str = "xml", mode: str = "plain", **config: t.Any) -> Mini:
    app, wechat = sandbox_app(
        sandbox,
        "miniprogram",
        token=TOKEN,
        aes_key=None if mode == "plain" else AES_KEY,
        task_runner=InlineRunner(attempts=2, backoff=0.01),
        WECHAT_FORMAT=fmt,
        **config,
    )
    return Mini(app, wechat, WeChatTestClient(app, mode=mode), sandbox, fmt, mode)


@pytest.fixture(params=FORMAT_MODES)
def mini(request: pytest.FixtureRequest, sandbox: Sandbox) -> Mini:
    """Each format (XML, JSON) in each mode (plaintext, compatible, safe) in turn."""
    fmt, mode = t.cast(tuple[str, str], request.param)
    return make_mini(sandbox, fmt, mode)


# == configuration and URL verification =================================================


def test_the_account_is_a_mini_program(mini: Mini) -> None:
    account = mini.app.extensions["wechat"].account()
    assert account.kind == "miniprogram"
    assert account.format == mini.fmt
    assert account.receive_id == SANDBOX_APP_ID
    assert mini.client.is_json is (mini.fmt == "json")


# == messages and events reach handlers =================================================


def test_the_event_signal_fires(mini: Mini) -> None:
    received, typed = Recorder(), Recorder()
    with (
        signals.message_received.connected_to(received, mini.app),
        signals.user_enter_tempsession.connected_to(typed, mini.app),
    ):
        mini.client.event("user_enter_tempsession", SessionFrom="from-signal")
    [call] = typed.calls
    assert call["sender"] is mini.app
    assert call["message"].session_from == "from-signal"
    assert call["account"] == "default"
    assert [c["message"].dispatch_name for c in received.calls] == ["user_enter_tempsession"]


# == replies go out through the customer-service API =====================================


def test_the_reply_goes_to_the_sender(mini: Mini) -> None:
    mini.wechat.on("text")(lambda message: "to you")
    other = WeChatTestClient(mini.app, mode=mini.mode, user="oAnotherMiniUser00000000000")
    mini.sandbox.user_wrote("oAnotherMiniUser00000000000")  # what WeChat learns as they write
    assert other.text("hi").text == "success"
    assert mini.sandbox.sent == [custom_text("to you", user="oAnotherMiniUser00000000000")]


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + secrets.token_bytes(64) + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(64)


def test_image_reply_from_bytes_is_uploaded_first(mini: Mini) -> None:
    mini.wechat.on("text")(lambda message: ImageReply(file=JPEG))
    assert mini.client.text("a picture please").text == "success"

    assert mini.sandbox.count(UPLOAD_PATH) == 1
    [(media_id, media)] = mini.sandbox.media.items()
    assert media.data == JPEG
    assert media.type == "image"
    assert mini.sandbox.sent == [
        {
            "touser": DEFAULT_USER,
            "msgtype": "image",
            "image": {"media_id": media_id},
            "kind": "custom",
            "app_id": SANDBOX_APP_ID,
        }
    ]
    upload, send = (call for call in mini.sandbox.calls if call.path in (UPLOAD_PATH, SEND_PATH))
    assert (upload.path, send.path) == (UPLOAD_PATH, SEND_PATH)
    assert upload.params.get("type") == "image"


def test_image_reply_from_a_path_is_uploaded_first(mini: Mini, tmp_path: Path) -> None:
    picture = tmp_path / "reply-picture.png"
    picture.write_bytes(PNG)
    mini.wechat.on("text")(lambda message: ImageReply(file=picture))
    assert mini.client.text("a picture please").text == "success"

    assert mini.sandbox.count(UPLOAD_PATH) == 1
    [(media_id, media)] = mini.sandbox.media.items()
    assert media.data == PNG
    assert media.filename == "reply-picture.png"
    assert media.content_type == "image/png"
    [sent] = mini.sandbox.sent
    assert sent["msgtype"] == "image"
    assert sent["image"] == {"media_id": media_id}
    assert sent["touser"] == DEFAULT_USER


def test_image_reply_from_a_str_path_is_uploaded_first(mini: Mini, tmp_path: Path) -> None:
    picture = tmp_path / "as-string.jpg"
    picture.write_bytes(JPEG)
    mini.wechat.on("text")(lambda message: ImageReply(file=str(picture)))
    assert mini.client.text("a picture please").text == "success"
    [(media_id, media)] = mini.sandbox.media.items()
    assert media.data == JPEG
    assert [sent["image"] for sent in mini.sandbox.sent] == [{"media_id": media_id}]


def test_image_reply_by_media_id_is_sent_as_is(mini: Mini) -> None:
    mini.sandbox.add_media("image", JPEG, "earlier.jpg", "image/jpeg", media_id="existing-media-id")
    mini.wechat.on("text")(lambda message: ImageReply(media_id="existing-media-id"))
    assert mini.client.text("a picture please").text == "success"
    assert mini.sandbox.count(UPLOAD_PATH) == 0
    assert list(mini.sandbox.media) == ["existing-media-id"]
    assert mini.sandbox.sent == [
        {
            "touser": DEFAULT_USER,
            "msgtype": "image",
            "image": {"media_id": "existing-media-id"},
            "kind": "custom",
            "app_id": SANDBOX_APP_ID,
        }
    ]


def test_an_upload_failure_signals_delivery_failed_and_sends_nothing(mini: Mini) -> None:
    mini.sandbox.fail(UPLOAD_PATH, 40006, times=None)
    mini.wechat.on("text")(lambda message: ImageReply(file=JPEG))
    failed = Recorder()
    with signals.delivery_failed.connected_to(failed, mini.app):
        result = mini.client.text("a picture please")
    assert (result.status_code, result.text) == (200, "success")
    [call] = failed.calls
    assert isinstance(call["exception"], APIError)
    assert call["exception"].errcode == 40006
    assert mini.sandbox.count(SEND_PATH) == 0
    assert mini.sandbox.media == {}


@pytest.mark.parametrize("errcode", [45015, 45047, 48001])
def test_a_send_failure_signals_delivery_failed(mini: Mini, errcode: int) -> None:
    mini.sandbox.fail(SEND_PATH, errcode, times=None)
    mini.wechat.on("text")(lambda message: TextReply("too late to talk"))
    failed, sent_signal = Recorder(), Recorder()
    with (
        signals.delivery_failed.connected_to(failed, mini.app),
        signals.reply_sent.connected_to(sent_signal, mini.app),
    ):
        result = mini.client.text("talk to me")

    assert (result.status_code, result.text) == (200, "success")
    assert mini.sandbox.sent == []
    assert sent_signal.calls == []
    [call] = failed.calls
    assert call["sender"] is mini.app
    assert call["account"] == "default"
    error = call["exception"]
    assert isinstance(error, APIError)
    assert error.errcode == errcode
    task = call["task"]
    assert isinstance(task, Task)
    assert task.payload["to_user"] == DEFAULT_USER
    assert reply_from_data(task.payload["reply"]) == TextReply("too late to talk")
    # WeChat answers these the same way every time: no retry.
    assert mini.sandbox.count(SEND_PATH) == 1


def test_a_busy_api_is_retried_then_reported(sandbox: Sandbox) -> None:
    mini = make_mini(sandbox, "json", "safe")
    sandbox.fail(SEND_PATH, -1, times=None)
    mini.wechat.on("text")(lambda message: "keep trying")
    failed = Recorder()
    with signals.delivery_failed.connected_to(failed, mini.app):
        assert mini.client.text("busy?").text == "success"
    # The API client retries errcode -1 itself; the task is not run again on top
    # of that (retries would multiply), and the failure is reported once.
    retries = mini.app.extensions["wechat"].client().retries
    assert sandbox.count(SEND_PATH) == 1 + retries
    [call] = failed.calls
    assert isinstance(call["exception"], APIError)
    assert call["exception"].errcode == -1
    assert sandbox.sent == []


def test_a_busy_api_once_is_retried_and_delivers(sandbox: Sandbox) -> None:
    mini = make_mini(sandbox, "xml", "plain")
    sandbox.fail(SEND_PATH, -1, times=1)
    mini.wechat.on("text")(lambda message: "second time lucky")
    failed = Recorder()
    with signals.delivery_failed.connected_to(failed, mini.app):
        assert mini.client.text("busy once").text == "success"
    assert sandbox.count(SEND_PATH) == 2
    assert failed.calls == []
    assert sandbox.sent == [custom_text("second time lucky")]


def test_transfer_to_customer_service_is_answered_passively(mini: Mini, sandbox: Sandbox) -> None:
    mini.wechat.on("text")(lambda message: TransferCustomerServiceReply())
    failed = Recorder()
    with signals.delivery_failed.connected_to(failed, mini.app):
        result = mini.client.text("转人工客服")
    assert failed.calls == []
    assert result.status_code == 200
    assert result.msg_type == "transfer_customer_service"
    assert result.reply is not None
    assert result.reply["ToUserName"] == DEFAULT_USER
    assert result.reply["FromUserName"] == DEFAULT_ORIGINAL_ID
    assert result.encrypted == (mini.mode != "plain")
    is_json = result.response.get_data().lstrip().startswith(b"{")
    assert is_json == (mini.fmt == "json")
    assert sandbox.count(SEND_PATH) == 0
