"""What a handler's outcome makes of the answer: a failure, nonsense, nothing, no
handler at all each answer ``success``; text replies reach the user on every platform."""

from __future__ import annotations

import base64
import logging
import time

import pytest

from flask_wechat import Message, TextReply, signals
from flask_wechat.testing import Recorder, WeChatTestClient

from ..conftest import production
from .conftest import AES_KEY, SEND_PATH, TOKEN, Platform, text_sent, wrongly_padded


def test_a_failing_handler_answers_success(
    bare_platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    platform = bare_platform
    production(platform.app)  # in production the callback answers success
    boom = RuntimeError("the handler broke")

    @platform.wechat.on("text")
    def broken(message: Message) -> str:
        raise boom

    failed = Recorder()
    caplog.set_level(logging.DEBUG, logger="flask_wechat")
    with signals.handler_failed.connected_to(failed, platform.app):
        result = platform.client.text("trigger")

    assert result.status_code == 200
    assert result.text == "success"
    assert result.is_success
    [call] = failed.calls
    assert call["sender"] is platform.app
    assert call["exception"] is boom
    assert call["message"].content == "trigger"
    assert call["message"].source == platform.client.user
    errors = [r for r in caplog.records if r.name == "flask_wechat" and r.levelno >= logging.ERROR]
    assert errors
    assert any(r.exc_info is not None and r.exc_info[1] is boom for r in errors)
    assert platform.sandbox.count(SEND_PATH) == 0


def test_a_handler_returning_nonsense_answers_success(bare_platform: Platform) -> None:
    platform = bare_platform
    production(platform.app)  # a handler returning nonsense is answered, not raised
    platform.wechat.on("text")(lambda message: 42)  # type: ignore[type-var]  # nonsense on purpose
    failed = Recorder()
    with signals.handler_failed.connected_to(failed, platform.app):
        result = platform.client.text("x")
    assert (result.status_code, result.text) == (200, "success")
    [call] = failed.calls
    assert isinstance(call["exception"], TypeError)
    assert platform.sandbox.count(SEND_PATH) == 0


def test_none_answers_success(bare_platform: Platform) -> None:
    platform = bare_platform
    ran: list[str] = []

    @platform.wechat.on("text")
    def quiet(message: Message) -> None:
        ran.append(message.content or "")

    result = platform.client.text("no answer")
    assert ran == ["no answer"]
    assert result.status_code == 200
    assert result.is_success
    assert result.text == "success"
    assert result.encrypted is False
    assert platform.sandbox.sent == []
    assert platform.sandbox.count(SEND_PATH) == 0


def test_no_handler_answers_success(bare_platform: Platform) -> None:
    result = bare_platform.client.text("nobody listens")
    assert (result.status_code, result.text) == (200, "success")
    assert bare_platform.sandbox.count(SEND_PATH) == 0


@pytest.mark.parametrize("returned", [TextReply("a reply"), "a reply"], ids=["text-reply", "str"])
def test_a_text_reply_reaches_the_user(bare_platform: Platform, returned: object) -> None:
    platform = bare_platform
    platform.wechat.on("text")(lambda message: returned)  # type: ignore[type-var]
    result = platform.client.text("say something")
    assert result.status_code == 200
    assert platform.reply_of(result) == "a reply"
    if platform.passive:
        assert result.encrypted is platform.encrypted
        assert result.msg_type == "text"
        assert result.reply is not None
        assert result.reply["ToUserName"] == platform.client.user
    else:
        assert platform.sandbox.count(SEND_PATH) == 1
        assert platform.sandbox.sent == [text_sent(platform, "a reply")]


def test_secrets_never_reach_the_log(
    bare_platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    platform = bare_platform
    app, client = production(platform.app), platform.client
    caplog.set_level(logging.DEBUG)

    @platform.wechat.on("text", match="^fail")
    def broken(message: Message) -> str:
        raise ValueError("handler failure for the log")

    platform.wechat.on("text")(lambda message: "fine")

    modes = platform.account.platform.modes if platform.encrypted else ("plain",)
    for mode in modes:
        other_mode = WeChatTestClient(app, mode=mode, user=client.user)
        assert platform.reply_of(other_mode.text("hello")) == "fine"
    assert client.verify_url("echo").status_code == 200
    assert client.text("fail now").is_success
    hostile = [platform.good_request(timestamp=int(time.time()) - 1000)]
    if platform.encrypted:
        plaintext = platform.plaintext(client.message("text", Content="x"))
        receive_id = platform.account.app_id or ""
        hostile += [
            platform.sealed_request(plaintext, receive_id="wxOTHER"),
            platform.with_encrypt(wrongly_padded(plaintext, receive_id, "zeros")),
            platform.with_encrypt("not base64"),
        ]
    body, query = platform.good_request()
    for name in ("msg_signature", "signature"):
        if name in query:
            hostile.append((body, {**query, name: "0" * 40}))
    hostile += [(b"<!DOCTYPE x><xml/>", query), (b"garbage", query)]
    for hostile_body, hostile_query in hostile:
        assert 400 <= client.post(hostile_body, hostile_query).status_code < 500
    bad_get = {"signature": "0" * 40, "timestamp": str(int(time.time())), "nonce": "n"}
    bad_get["echostr"] = "e"
    assert app.test_client().get(client.url, query_string=bad_get).status_code == 403

    records = caplog.records
    # The failing handler was logged (with its traceback), so the log is really there.
    assert any(r.name == "flask_wechat" and r.exc_info for r in records)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    logged = "\n".join(formatter.format(record) for record in records)
    secrets = [TOKEN, AES_KEY, base64.b64decode(AES_KEY + "=").hex()]
    secrets.append(platform.account.app_secret or "no secret")
    for secret in secrets:
        assert secret not in logged
