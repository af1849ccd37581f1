"""The always-on reports: ``callback_handled`` once per callback request and
``api_called`` once per HTTP request to WeChat, with what they carry."""

from __future__ import annotations

import socket
import time
import typing as t

import pytest
from flask import Flask

from flask_wechat import TextReply, WeChat, observe, signals
from flask_wechat.errors import APIError, TransportError
from flask_wechat.messages import Message
from flask_wechat.sandbox import SANDBOX_OPENID, Sandbox
from flask_wechat.tasks import InlineRunner
from flask_wechat.testing import WeChatTestClient, recording

from .conftest import create_app

CALLBACK_IP = "/cgi-bin/getcallbackip"
#: a reply deadline short enough for a test, long enough for a quick handler.
DEADLINE = 0.2


@pytest.fixture
def site(sandbox: Sandbox) -> tuple[Flask, WeChat]:
    """An Official Account on the sandbox whose late replies are sent at once."""
    app = Flask("observed_site")
    app.config.update(
        TESTING=True,
        WECHAT_TOKEN="observed-token",
        WECHAT_REPLY_DEADLINE=DEADLINE,
        **sandbox.flask_config("mp"),
    )
    wechat = WeChat(app, task_runner=InlineRunner(attempts=1))

    @wechat.on("text", match="^hello")
    def hello(message: Message) -> TextReply:
        return TextReply(f"hi {message.content}")

    @wechat.on("text", match="^slow")
    def slow(message: Message) -> TextReply:
        time.sleep(DEADLINE * 1.5)
        return TextReply("sorry for the wait")

    @wechat.on("subscribe")
    def welcome(message: Message) -> None:
        return None

    return app, wechat


def test_every_outcome_is_reported_once(site: tuple[Flask, WeChat], sandbox: Sandbox) -> None:
    app, _wechat = site
    client = WeChatTestClient(app)
    with recording(signals.callback_handled, app) as handled:
        assert client.text("hello there").content == "hi hello there"
        assert client.event("subscribe").is_success
        assert client.text("slow one", FromUserName=SANDBOX_OPENID).is_success
        again = client.message("text", Content="hello again", MsgId=777)
        client.send(again)
        client.send(again)  # WeChat's retry of the same message
        assert client.post(b"<xml/>", {"signature": "bad", "timestamp": "1"}).status_code == 403

    assert app.extensions["wechat"].handler_threads.join(10)  # the late reply went out
    calls = handled.calls
    assert [(c["name"], c["outcome"]) for c in calls] == [
        ("text", "reply"),
        ("subscribe", "success"),
        ("text", "late"),
        ("text", "reply"),
        ("text", "duplicate"),
        (None, "rejected"),
    ]
    assert all(c["sender"] is app and c["account"] == "default" for c in calls)
    assert set(calls[0]) == {"sender", "account", "name", "outcome", "duration"}
    assert calls[2]["duration"] >= DEADLINE  # the late handler's time is in it
    assert all(0 <= c["duration"] < 5 for c in calls)
    assert [m["text"]["content"] for m in sandbox.sent] == ["sorry for the wait"]


def test_a_replayed_request_is_rejected_once(site: tuple[Flask, WeChat]) -> None:
    app, _wechat = site
    client = WeChatTestClient(app)
    body, query = client.encode(client.message("text", Content="hello"))
    other, _ = client.encode(client.message("text", Content="hello, forged"))
    with recording(signals.callback_handled, app) as handled:
        assert client.post(body, query).status_code == 200
        # the same signed query with another body: a forgery
        assert client.post(other, query).status_code == 403
    assert [(c["name"], c["outcome"]) for c in handled.calls] == [
        ("text", "reply"),
        (None, "rejected"),
    ]


def test_api_called_for_each_request(site: tuple[Flask, WeChat], sandbox: Sandbox) -> None:
    app, wechat = site
    with app.app_context(), recording(signals.api_called, app) as called:
        client = wechat.client()
        client.get(CALLBACK_IP, {"lang": "zh_CN"})
        sandbox.fail(CALLBACK_IP, 40013)
        with pytest.raises(APIError) as caught:
            client.get(CALLBACK_IP)

    token, ips, failed = called.calls
    assert token["path"] == "/cgi-bin/token"
    assert token["errcode"] == 0
    assert ips["path"] == CALLBACK_IP  # no host, no query string
    assert (ips["errcode"], ips["rid"], ips["attempt"]) == (0, None, 1)
    assert set(ips) == {"sender", "account", "path", "errcode", "rid", "duration", "attempt"}
    assert failed["errcode"] == 40013
    assert failed["rid"] is not None
    assert failed["rid"] == caught.value.rid
    assert all(c["sender"] is app and c["account"] == "default" for c in called.calls)
    assert all(0 <= c["duration"] < 5 for c in called.calls)


def test_retries_count_their_attempts(site: tuple[Flask, WeChat], sandbox: Sandbox) -> None:
    app, wechat = site
    with app.app_context():
        client = wechat.client()
        client.backoff = 0.01
        client.access_token  # noqa: B018 - fetched before recording
        sandbox.fail(CALLBACK_IP, -1, times=2)
        with recording(signals.api_called, app) as called:
            client.get(CALLBACK_IP)
    assert [(c["attempt"], c["errcode"]) for c in called.calls] == [(1, -1), (2, -1), (3, 0)]


def test_no_answer_is_errcode_none(make_app: t.Callable[..., tuple[Flask, WeChat]]) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    app, wechat = make_app(WECHAT_API_BASE_URL=f"http://127.0.0.1:{port}")
    with app.app_context(), recording(signals.api_called, app) as called:
        client = wechat.client()
        client.backoff = 0.01
        with pytest.raises(TransportError):
            client.get(CALLBACK_IP, token=False)
    assert [c["errcode"] for c in called.calls] == [None] * (client.retries + 1)
    assert [c["attempt"] for c in called.calls] == list(range(1, client.retries + 2))


def test_nobody_listening_costs_a_check() -> None:
    """With no receiver and no tracer, nothing is built: the same inert context
    comes back every time."""
    assert not signals.api_called.receivers
    assert not signals.callback_handled.receivers
    nothing = observe.api_call(lambda: None, "default", "/x", 1)
    assert nothing is observe.UNWATCHED
    assert observe.api_call(lambda: None, "default", "/y", 2) is nothing
    assert observe.unit(None, "handler", account="default") is observe.UNWATCHED
    app, _wechat = create_app()
    with app.test_request_context():
        assert observe.callback("default") is nothing
    with nothing as unit:
        unit.set(errcode=1)
        assert unit.attributes == {}


def test_late_on_the_handler_threads_and_on_a_mini_program(sandbox: Sandbox) -> None:
    """Handler threads answering ``success`` at the deadline is ``late``; so is every
    reply of a platform without passive replies (sent through the API)."""
    pooled = Flask("pooled")
    pooled.config.update(
        TESTING=True, WECHAT_TOKEN="t", WECHAT_REPLY_DEADLINE=0.05, **sandbox.flask_config()
    )
    pool = WeChat(pooled, handler_threads=1, task_runner=InlineRunner(attempts=1))

    @pool.on("text")
    def slowly(message: Message) -> str:
        time.sleep(0.2)
        return "late"

    mini = Flask("mini")
    mini.config.update(TESTING=True, WECHAT_TOKEN="t", **sandbox.flask_config("miniprogram"))
    program = WeChat(mini, task_runner=InlineRunner(attempts=1))

    @program.on("text")
    def at_once(message: Message) -> str:
        return "right away"

    with recording(signals.callback_handled) as handled:
        WeChatTestClient(pooled).text("hi", FromUserName=SANDBOX_OPENID)
        WeChatTestClient(mini).text("hi", FromUserName=SANDBOX_OPENID)
    assert [(c["sender"], c["outcome"]) for c in handled.calls] == [
        (pooled, "late"),
        (mini, "late"),
    ]
    assert pooled.extensions["wechat"].handler_threads.join(10)
