"""``WECHAT_REPLY_DEADLINE``: a handler still running at the deadline misses the
passive reply; the callback answers ``success`` and the reply goes out later
through the API, from the handler's thread.

Slow handlers block on a :class:`threading.Event` the test controls, never on a
fixed sleep; waiting for background work is bounded polling, and nothing here
asserts how long anything took.
"""

from __future__ import annotations

import threading
import time
import typing as t
from collections.abc import Iterator

import pytest
from flask import Flask, current_app, request

from flask_wechat import APIError, ImageReply, Message, TextReply, WeChat, handling, signals
from flask_wechat.edge import SUCCESS
from flask_wechat.sandbox import SANDBOX_APP_ID, SANDBOX_CORP_ID, Sandbox
from flask_wechat.state import WeChatState
from flask_wechat.tasks import InlineRunner, ThreadPoolRunner
from flask_wechat.testing import DEFAULT_USER, Recorder, WeChatTestClient

from .helpers import custom_text

TOKEN = "deadline-token"
AES_KEY = "deadlineKEY0123456789abcdefghijklmnopqrstuv"
WORK_AES_KEY = "WorkDeadline0123456789abcdefghijklmnopqrstu"
WORK_AGENT_ID = 1000005
WORK_USER = "LiSi"
SEND_PATH = "/cgi-bin/message/custom/send"
WORK_SEND_PATH = "/cgi-bin/message/send"
WAIT = 10.0
"""The most any test waits for background work (a bound, not an expectation)."""


def wait_until(predicate: t.Callable[[], bool], timeout: float = WAIT) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass; its last value."""
    give_up = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= give_up:
            return predicate()
        time.sleep(0.01)
    return True


class Gate:
    """What a slow handler waits on: ``started`` once it runs, then ``release``."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.threads: list[threading.Thread] = []

    def block(self) -> None:
        """Called by the handler: signal that it runs, then wait to be let go."""
        self.threads.append(threading.current_thread())
        self.started.set()
        assert self.release.wait(WAIT), "the test never released the handler"

    def wait_started(self) -> None:
        assert self.started.wait(WAIT), "the handler never started"


class Harness:
    """Apps on a per-test sandbox; at teardown, every blocked handler is released
    and every background pool drained, so nothing leaks into the next test."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.apps: list[Flask] = []
        self.gates: list[Gate] = []

    def gate(self) -> Gate:
        gate = Gate()
        self.gates.append(gate)
        return gate

    def mp(
        self, *, runner: str = "default", **config: t.Any
    ) -> tuple[Flask, WeChat, WeChatTestClient]:
        app = Flask("deadline_mp_app")
        app.config.update(self.sandbox.flask_config("mp"))
        app.config.update(TESTING=True, WECHAT_TOKEN=TOKEN, WECHAT_REPLY_DEADLINE=0.2)
        app.config.update(config)
        return self._init(app, runner)

    def work(self, **config: t.Any) -> tuple[Flask, WeChat, WeChatTestClient]:
        app = Flask("deadline_work_app")
        app.config.update(self.sandbox.flask_config("work"))
        app.config.update(
            TESTING=True,
            WECHAT_TOKEN=TOKEN,
            WECHAT_ENCODING_AES_KEY=WORK_AES_KEY,
            WECHAT_AGENT_ID=WORK_AGENT_ID,
            WECHAT_REPLY_DEADLINE=0.2,
        )
        app.config.update(config)
        app, wechat, _client = self._init(app, "default")
        return app, wechat, WeChatTestClient(app, user=WORK_USER)

    def _init(self, app: Flask, runner: str) -> tuple[Flask, WeChat, WeChatTestClient]:
        # These tests drive the handler threads, the default: the callback answers
        # at the deadline while the handler goes on (tests of handlers in the
        # request's thread, handler_threads=0, are further down).
        if runner == "inline":
            wechat = WeChat(app, task_runner=InlineRunner(attempts=2, backoff=0.01))
        else:
            wechat = WeChat(app)
        self.apps.append(app)
        return app, wechat, WeChatTestClient(app)

    def settle(self, app: Flask) -> None:
        """Wait for every handler and task of ``app`` (the app takes no more requests)."""
        state: WeChatState = app.extensions["wechat"]
        if state.handler_threads is not None:
            assert state.handler_threads.join(WAIT)
        if isinstance(state.task_runner, ThreadPoolRunner):
            state.task_runner.shutdown(wait=True)

    def close(self) -> None:
        for gate in self.gates:
            gate.release.set()
        for app in self.apps:
            self.settle(app)


@pytest.fixture
def harness() -> Iterator[Harness]:
    with Sandbox() as sandbox:
        sandbox.user_wrote(DEFAULT_USER)  # the user the tests answer wrote first
        harness = Harness(sandbox)
        try:
            yield harness
        finally:
            harness.close()


# == a late reply is delivered later, once =================================================


@pytest.mark.parametrize("runner", ["default", "inline"])
def test_a_late_reply_is_delivered_once_as_a_customer_service_message(
    harness: Harness, runner: str
) -> None:
    app, wechat, client = harness.mp(runner=runner)
    state: WeChatState = app.extensions["wechat"]
    if runner == "default":
        assert isinstance(state.task_runner, ThreadPoolRunner)
    gate = harness.gate()
    runs: list[Message] = []

    @wechat.on("text")
    def slow(message: Message) -> TextReply:
        runs.append(message)
        gate.block()
        return TextReply(f"late answer to {message.content}")

    ignored, sent_signal = Recorder(), Recorder()
    message = client.message("text", Content="a hard question")
    with (
        signals.duplicate_ignored.connected_to(ignored, app),
        signals.reply_sent.connected_to(sent_signal, app),
    ):
        first = client.send(message)
        assert (first.status_code, first.text) == (200, "success")
        assert first.reply is None

        gate.wait_started()
        assert not gate.release.is_set()
        retry = client.send(message)  # WeChat retries while the handler still works
        assert (retry.status_code, retry.text) == (200, "success")
        assert len(ignored.calls) == 1
        assert harness.sandbox.sent == []

        gate.release.set()
        assert wait_until(lambda: bool(harness.sandbox.sent)), "the late reply never arrived"
        harness.settle(app)

    assert harness.sandbox.sent == [custom_text("late answer to a hard question")]
    assert harness.sandbox.count(SEND_PATH) == 1
    assert len(runs) == 1
    assert [c["reply"] for c in sent_signal.calls] == [TextReply("late answer to a hard question")]
    assert sent_signal.calls[0]["message"].content == "a hard question"
    assert sent_signal.calls[0]["sender"] is app
    # The handler did not run in the request's thread.
    assert gate.threads[0] is not threading.current_thread()


def test_a_late_reply_in_safe_mode_is_still_a_plain_api_message(harness: Harness) -> None:
    app, wechat, _client = harness.mp(WECHAT_ENCODING_AES_KEY=AES_KEY)
    gate = harness.gate()

    @wechat.on("text")
    def slow(message: Message) -> str:
        gate.block()
        return "encrypted request, late reply"

    result = WeChatTestClient(app, mode="safe").text("hello")
    assert (result.status_code, result.text) == (200, "success")
    assert result.encrypted is False
    gate.release.set()
    assert wait_until(lambda: bool(harness.sandbox.sent))
    harness.settle(app)
    assert harness.sandbox.sent == [custom_text("encrypted request, late reply")]


def test_a_late_image_reply_from_a_file_is_uploaded_then_sent(harness: Harness) -> None:
    app, wechat, client = harness.mp()
    gate = harness.gate()
    picture = b"\xff\xd8\xff\xe0late-picture\xff\xd9"

    @wechat.on("text")
    def slow(message: Message) -> ImageReply:
        gate.block()
        return ImageReply(file=picture)

    assert client.text("draw me something").text == "success"
    gate.release.set()
    assert wait_until(lambda: bool(harness.sandbox.sent))
    harness.settle(app)
    [(media_id, media)] = harness.sandbox.media.items()
    assert media.data == picture
    assert harness.sandbox.sent == [
        {
            "touser": DEFAULT_USER,
            "msgtype": "image",
            "image": {"media_id": media_id},
            "kind": "custom",
            "app_id": SANDBOX_APP_ID,
        }
    ]


def test_a_late_handler_still_sees_the_request(harness: Harness) -> None:
    app, wechat, client = harness.mp()
    gate = harness.gate()

    @wechat.on("text")
    def slow(message: Message) -> str:
        gate.block()  # the callback has answered by now
        same_app = current_app._get_current_object() is app  # type: ignore[attr-defined]
        return f"app={same_app} nonce={request.args['nonce']}"

    result = client.send(client.message("text", Content="q"), nonce="late-nonce-7")
    assert result.text == "success"
    gate.release.set()
    assert wait_until(lambda: bool(harness.sandbox.sent))
    harness.settle(app)
    assert harness.sandbox.sent == [custom_text("app=True nonce=late-nonce-7")]


# == late handlers that give nothing to send ================================================


def test_a_late_handler_that_raises_sends_nothing(harness: Harness) -> None:
    app, wechat, client = harness.mp()
    gate = harness.gate()
    error = RuntimeError("failed after the deadline")

    @wechat.on("text")
    def slow_and_broken(message: Message) -> str:
        gate.block()
        raise error

    failed, sent_signal = Recorder(), Recorder()
    with (
        signals.handler_failed.connected_to(failed, app),
        signals.reply_sent.connected_to(sent_signal, app),
    ):
        result = client.text("this will fail")
        assert (result.status_code, result.text) == (200, "success")
        assert failed.calls == []  # still running
        gate.release.set()
        assert wait_until(lambda: bool(failed.calls)), "handler_failed never fired"
        harness.settle(app)

    [call] = failed.calls
    assert call["exception"] is error
    assert call["message"].content == "this will fail"
    assert call["sender"] is app
    assert sent_signal.calls == []
    assert harness.sandbox.sent == []
    assert harness.sandbox.count(SEND_PATH) == 0


def test_a_late_handler_returning_none_sends_nothing(harness: Harness) -> None:
    app, wechat, client = harness.mp()
    assert app.config.get("WECHAT_RELAY_URL") is None
    gate = harness.gate()
    finished = threading.Event()

    @wechat.on("text")
    def slow_and_silent(message: Message) -> None:
        gate.block()
        finished.set()

    forwarded = Recorder()
    with signals.relay_forwarded.connected_to(forwarded, app):
        assert client.text("no answer needed").text == "success"
        gate.release.set()
        assert finished.wait(WAIT)
        harness.settle(app)

    assert harness.sandbox.sent == []
    assert harness.sandbox.count(SEND_PATH) == 0
    assert forwarded.calls == []
    assert len(gate.threads) == 1


def test_a_late_reply_that_cannot_be_sent_signals_delivery_failed(harness: Harness) -> None:
    app, wechat, client = harness.mp(runner="inline")
    harness.sandbox.fail(SEND_PATH, 45015, times=None)
    gate = harness.gate()

    @wechat.on("text")
    def slow(message: Message) -> str:
        gate.block()
        return "too late"

    failed = Recorder()
    with signals.delivery_failed.connected_to(failed, app):
        assert client.text("hello?").text == "success"
        gate.release.set()
        assert wait_until(lambda: bool(failed.calls)), "delivery_failed never fired"
        harness.settle(app)

    [call] = failed.calls
    assert isinstance(call["exception"], APIError)
    assert call["exception"].errcode == 45015
    assert harness.sandbox.sent == []


# == where handlers run ======================================================================


def test_deadline_zero_runs_handlers_inline(harness: Harness) -> None:
    _app, wechat, client = harness.mp(WECHAT_REPLY_DEADLINE=0)
    threads: list[threading.Thread] = []

    @wechat.on("text")
    def here(message: Message) -> str:
        threads.append(threading.current_thread())
        return "answered inline"

    result = client.text("where do you run?")
    assert result.content == "answered inline"
    assert threads == [threading.current_thread()]
    assert harness.sandbox.sent == []


def test_deadline_zero_waits_for_a_slow_handler(harness: Harness) -> None:
    """With no deadline, a handler may take as long as it likes and still reply
    passively: the request waits for it. Another thread lets it go once it runs."""
    _app, wechat, client = harness.mp(WECHAT_REPLY_DEADLINE=0)
    gate = harness.gate()

    @wechat.on("text")
    def slow(message: Message) -> str:
        gate.block()
        return "passive after all"

    def release_once_started() -> None:
        if gate.started.wait(WAIT):
            gate.release.set()

    releaser = threading.Thread(target=release_once_started, daemon=True)
    releaser.start()
    result = client.text("slow is fine")
    releaser.join(WAIT)
    assert result.content == "passive after all"
    assert gate.threads == [threading.current_thread()]
    assert harness.sandbox.sent == []


def test_handle_on_the_pool(harness: Harness) -> None:
    """handling.handle: the passive answer, or success (and a message later) past the deadline."""
    app, wechat, _client = harness.mp()
    state: WeChatState = app.extensions["wechat"]
    gate = harness.gate()

    @wechat.on("text", match="^slow")
    def slow(message: Message) -> str:
        gate.block()
        return "eventually"

    wechat.on("text")(lambda message: TextReply("at once"))

    def text(content: str, msg_id: int) -> Message:
        return Message(
            {
                "ToUserName": "gh_0123456789ab",
                "FromUserName": DEFAULT_USER,
                "CreateTime": str(int(time.time())),
                "MsgType": "text",
                "Content": content,
                "MsgId": str(msg_id),
            }
        )

    delivery = state.delivery()
    with app.test_request_context("/wechat?nonce=direct"):
        fast = handling.handle(app, state, delivery, text("fast", 1), False, 0.2)
        late = handling.handle(app, state, delivery, text("slow", 3), False, 0.2)
    assert fast.outcome == "reply"
    assert b"<Content><![CDATA[at once]]></Content>" in fast.answer.body
    assert late == (SUCCESS, "late")
    assert harness.sandbox.sent == []
    gate.release.set()
    assert wait_until(lambda: bool(harness.sandbox.sent))
    harness.settle(app)
    assert harness.sandbox.sent == [custom_text("eventually")]


@pytest.mark.parametrize("mode", ["plain", "safe"])
def test_a_fast_handler_under_a_deadline_still_replies_passively(
    harness: Harness, mode: str
) -> None:
    app, wechat, _client = harness.mp(
        WECHAT_REPLY_DEADLINE=30,
        WECHAT_ENCODING_AES_KEY=AES_KEY if mode == "safe" else None,
    )
    threads: list[threading.Thread] = []

    @wechat.on("text")
    def quick(message: Message) -> str:
        threads.append(threading.current_thread())
        return f"quick answer to {message.content}"

    result = WeChatTestClient(app, mode=mode).text("fast one")
    assert result.status_code == 200
    assert result.content == "quick answer to fast one"
    assert result.encrypted is (mode == "safe")
    [thread] = threads
    assert thread is not threading.current_thread()
    assert thread.name.startswith("flask_wechat-handler")
    assert harness.sandbox.sent == []
    assert harness.sandbox.count(SEND_PATH) == 0


def test_handlers_on_the_pool_see_current_app_and_request(harness: Harness) -> None:
    app, wechat, client = harness.mp(WECHAT_REPLY_DEADLINE=30)
    seen: dict[str, t.Any] = {}

    @wechat.on("text")
    def inspect(message: Message) -> str:
        seen["thread"] = threading.current_thread()
        seen["app"] = current_app._get_current_object()  # type: ignore[attr-defined]
        seen["nonce"] = request.args["nonce"]
        seen["path"] = request.path
        seen["method"] = request.method
        seen["config"] = current_app.config["WECHAT_TOKEN"]
        return "inspected"

    result = client.send(client.message("text", Content="look around"), nonce="nonce-1234")
    assert result.content == "inspected"
    assert seen["thread"] is not threading.current_thread()
    assert seen["app"] is app
    assert seen["nonce"] == "nonce-1234"
    assert (seen["path"], seen["method"]) == ("/wechat", "POST")
    assert seen["config"] == TOKEN


# == WeCom ====================================================================================


def test_a_wecom_late_reply_is_an_app_message_with_agentid(harness: Harness) -> None:
    app, wechat, client = harness.work()
    gate = harness.gate()
    runs: list[Message] = []

    @wechat.on("text")
    def slow(message: Message) -> TextReply:
        runs.append(message)
        gate.block()
        return TextReply(f"稍后回复: {message.content}")

    message = client.message("text", Content="报销进度")
    first = client.send(message)
    assert (first.status_code, first.text) == (200, "success")
    gate.wait_started()
    assert client.send(message).text == "success"
    gate.release.set()
    assert wait_until(lambda: bool(harness.sandbox.sent)), "the late reply never arrived"
    harness.settle(app)

    assert harness.sandbox.sent == [
        {
            "touser": WORK_USER,
            "msgtype": "text",
            "text": {"content": "稍后回复: 报销进度"},
            "agentid": WORK_AGENT_ID,
            "kind": "work",
            "app_id": SANDBOX_CORP_ID,
        }
    ]
    assert harness.sandbox.count(WORK_SEND_PATH) == 1
    assert harness.sandbox.count(SEND_PATH) == 0
    assert len(runs) == 1


def test_a_fast_wecom_handler_still_replies_passively(harness: Harness) -> None:
    _app, wechat, client = harness.work(WECHAT_REPLY_DEADLINE=30)
    wechat.on("text")(lambda message: "right away")
    result = client.text("quick")
    assert result.content == "right away"
    assert result.encrypted is True
    assert result.reply is not None
    assert result.reply["ToUserName"] == WORK_USER
    assert harness.sandbox.sent == []


# == handlers in the request's thread (handler_threads=0): lateness is noticed on return ==


def test_an_inline_handler_past_the_deadline_sends_its_reply_as_a_message(
    harness: Harness,
) -> None:
    app = Flask("deadline_inline_app")
    app.config.update(harness.sandbox.flask_config("mp"))
    app.config.update(TESTING=True, WECHAT_TOKEN=TOKEN, WECHAT_REPLY_DEADLINE=0.001)
    wechat = WeChat(app, handler_threads=0, task_runner=InlineRunner(attempts=1))
    harness.apps.append(app)
    client = WeChatTestClient(app)
    done = threading.Event()

    @wechat.on("text")
    def slow(message: Message) -> str:
        done.wait(0.05)  # certainly longer than the 1 ms deadline
        return "late but here"

    result = client.text("hi")
    assert result.is_success  # no passive reply: WeChat stopped waiting long ago
    assert harness.sandbox.sent == [custom_text("late but here")]


def test_an_inline_handler_in_time_replies_passively(harness: Harness) -> None:
    app = Flask("deadline_inline_fast_app")
    app.config.update(harness.sandbox.flask_config("mp"))
    app.config.update(TESTING=True, WECHAT_TOKEN=TOKEN, WECHAT_REPLY_DEADLINE=30)
    wechat = WeChat(app, handler_threads=0)
    harness.apps.append(app)
    wechat.on("text")(lambda message: "at once")

    assert WeChatTestClient(app).text("hi").content == "at once"
    assert harness.sandbox.sent == []


def test_a_retry_during_an_inline_handler_waits_then_answers_success(harness: Harness) -> None:
    """WeChat gave up on the first delivery and retried: the retry never reruns the
    handler; it answers success, and the late reply goes out once as a message."""
    app = Flask("deadline_inline_retry_app")
    app.config.update(harness.sandbox.flask_config("mp"))
    app.config.update(TESTING=True, WECHAT_TOKEN=TOKEN, WECHAT_REPLY_DEADLINE=0.05)
    wechat = WeChat(app, handler_threads=0, task_runner=InlineRunner(attempts=1))
    harness.apps.append(app)
    gate = harness.gate()
    runs: list[str] = []

    @wechat.on("text")
    def slow(message: Message) -> str:
        runs.append(message.content or "")
        gate.block()
        return "eventually"

    client = WeChatTestClient(app)
    message = client.message("text", Content="slow")
    first: list[t.Any] = []
    worker = threading.Thread(target=lambda: first.append(client.send(message)))
    worker.start()
    gate.wait_started()
    retry = WeChatTestClient(app).send(message)  # waits out the deadline, then success
    assert retry.is_success
    gate.release.set()
    worker.join(WAIT)
    assert first[0].is_success
    assert runs == ["slow"]
    assert harness.sandbox.sent == [custom_text("eventually")]
