"""flask_wechat.tasks: tasks as data, the explicit registry, what is retried, and
run_task's retries against a WeChat that is really unreachable or really refusing."""

from __future__ import annotations

import json
import logging
import time
import typing as t

import pytest
from flask import Flask

from flask_wechat import WeChat, signals
from flask_wechat.delivery import SEND_REPLY
from flask_wechat.errors import (
    APIError,
    PermanentFailure,
    RelayError,
    StoreUnavailable,
    SystemBusy,
    TokenUnavailable,
    TransportError,
)
from flask_wechat.relay import RELAY_TO_PLATFORM, RELAY_TO_USER
from flask_wechat.sandbox import Sandbox
from flask_wechat.state import WeChatState
from flask_wechat.tasks import (
    TASK_VERSION,
    InlineRunner,
    Task,
    TaskRegistry,
    retryable,
    run_task,
)
from flask_wechat.testing import Recorder

from .conftest import _free_port
from .helpers import sandbox_app

PROBE_PATH = "/cgi-bin/tags/get"

# == tasks as data =======================================================================


def test_a_task_round_trips_through_json() -> None:
    task = Task("send_reply", "shop", {"to_user": "o1", "reply": {"type": "text", "n": [1, 2]}})
    data = json.loads(json.dumps(task.to_data()))
    assert data["v"] == TASK_VERSION
    assert set(data) == {"v", "id", "name", "account", "payload"}
    again = Task.from_data(data)
    assert (again.name, again.account, again.payload) == (task.name, task.account, task.payload)
    assert again.id == data["id"]
    assert again.to_data() == data


def test_to_data_gives_each_task_without_an_id_a_fresh_one() -> None:
    task = Task("send_reply", "default", {})
    first, second = task.to_data()["id"], task.to_data()["id"]
    assert first != second
    assert len(first) == 16
    assert all(c in "0123456789abcdef" for c in first)
    assert Task("send_reply", "default", {}, id="given").to_data()["id"] == "given"


def test_from_data_reads_older_versions_and_a_missing_id() -> None:
    task = Task.from_data({"v": 0, "name": "n", "account": "a", "payload": {"k": 1}})
    assert task == Task("n", "a", {"k": 1}, "")


@pytest.mark.parametrize(
    "version", [TASK_VERSION + 1, 99, None, "1", 1.0], ids=["next", "far", "none", "str", "float"]
)
def test_a_task_format_this_release_cannot_read_is_a_permanent_failure(version: object) -> None:
    data = {**Task("send_reply", "default", {}).to_data(), "v": version}
    if version is None:
        del data["v"]
    with pytest.raises(PermanentFailure, match="task format"):
        Task.from_data(data)


# == the registry ========================================================================


def noop(app: Flask, state: WeChatState, task: Task) -> None:
    """A task function that does nothing."""


def test_the_registry_holds_what_is_registered_explicitly() -> None:
    functions = {"first": noop}
    registry = TaskRegistry(functions)
    functions["later"] = noop  # the registry took a copy
    assert "first" in registry
    assert "later" not in registry
    registry.register("second", noop)
    assert registry["second"] is noop
    assert "second" in registry


def test_an_unknown_task_name_is_a_permanent_failure() -> None:
    with pytest.raises(PermanentFailure, match="'nothing-by-this-name'"):
        TaskRegistry()["nothing-by-this-name"]
    assert 42 not in TaskRegistry({"x": noop})


def test_the_extension_registers_its_own_tasks(sandbox: Sandbox) -> None:
    app, _wechat = sandbox_app(sandbox, "mp", token=None, WECHAT_CALLBACK_URL=None)
    registry = app.extensions["wechat"].tasks
    assert all(name in registry for name in (SEND_REPLY, RELAY_TO_PLATFORM, RELAY_TO_USER))
    assert "probe" not in registry


# == what is retried =====================================================================

RETRYABLE: list[tuple[str, BaseException, bool]] = [
    ("unreachable", TransportError("WeChat unreachable", may_have_arrived=False), True),
    ("may-have-arrived", TransportError("read timeout", may_have_arrived=True), False),
    ("relay-500", RelayError(500, "the platform"), True),
    ("relay-503", RelayError(503, "the platform"), True),
    ("relay-400", RelayError(400, "the platform"), False),
    ("relay-404", RelayError(404, "a media URL"), False),
    ("api-error", APIError(45015, "response out of time limit"), False),
    ("system-busy", SystemBusy(-1, "system busy"), False),
    ("permanent", PermanentFailure("no"), False),
    # nothing was sent yet: the queue may try again later
    ("token-unavailable", TokenUnavailable("lock held"), True),
    ("store-unavailable", StoreUnavailable("redis down"), False),
    ("mistake", ValueError("a bug"), False),
    ("key-error", KeyError("payload"), False),
]


@pytest.mark.parametrize(
    ("exc", "expected"), [c[1:] for c in RETRYABLE], ids=[c[0] for c in RETRYABLE]
)
def test_retryable(exc: BaseException, expected: bool) -> None:
    assert retryable(exc) is expected


# == run_task against a real WeChat ======================================================


class Probe:
    """A task function asking WeChat for the tags through ``targets`` in turn
    (API base URLs; the last one stays), noting each attempt and what it raised."""

    def __init__(self, *targets: str) -> None:
        self.targets = list(targets)
        self.attempts: list[float] = []
        self.raised: list[BaseException] = []

    def __call__(self, app: Flask, state: WeChatState, task: Task) -> None:
        self.attempts.append(time.monotonic())
        client = state.client(task.account)
        client.retries = 0  # the client's own retries would multiply ours
        client.base_url = self.targets[0] if len(self.targets) == 1 else self.targets.pop(0)
        try:
            client.get(PROBE_PATH)
        except Exception as exc:
            self.raised.append(exc)
            raise


def probe_app(sandbox: Sandbox, probe: Probe, **runner: t.Any) -> tuple[Flask, WeChat]:
    app, wechat = sandbox_app(
        sandbox, "mp", token=None, task_runner=InlineRunner(**runner), WECHAT_CALLBACK_URL=None
    )
    app.extensions["wechat"].tasks.register("probe", probe)
    return app, wechat


def dead_url() -> str:
    """A loopback address nothing listens on: WeChat unreachable, for real."""
    return f"http://127.0.0.1:{_free_port()}"


def test_an_unreachable_wechat_is_retried_with_backoff_then_reported_once(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    probe = Probe(dead_url())
    app, _wechat = probe_app(sandbox, probe, attempts=3, backoff=0.02)
    failed = Recorder()
    task = Task("probe", "default", {"n": 1}, id="t-1")
    caplog.set_level(logging.ERROR, logger="flask_wechat")
    with signals.delivery_failed.connected_to(failed, app):
        app.extensions["wechat"].task_runner.submit(app, task)
    assert len(probe.attempts) == 3
    assert all(isinstance(e, TransportError) and not e.may_have_arrived for e in probe.raised)
    # Backoff doubles: at least 0.02 s before the second try, 0.04 s before the third.
    gaps = [b - a for a, b in zip(probe.attempts, probe.attempts[1:], strict=False)]
    assert gaps[0] >= 0.02 * 0.95  # (a margin for the clocks' rounding)
    assert gaps[1] >= 0.04 * 0.95
    [call] = failed.calls
    assert call["sender"] is app
    assert call["task"] == task
    assert call["account"] == "default"
    assert call["exception"] is probe.raised[-1]
    [record] = [r for r in caplog.records if "could not complete" in r.getMessage()]
    assert "probe task for account 'default'" in record.getMessage()


def test_a_task_that_gets_through_on_a_retry_is_not_reported(sandbox: Sandbox) -> None:
    probe = Probe(dead_url(), sandbox.url)
    app, _wechat = probe_app(sandbox, probe)
    failed = Recorder()
    with signals.delivery_failed.connected_to(failed, app):
        assert run_task(app, Task("probe", "default", {}), attempts=3, backoff=0.01) is True
    assert len(probe.attempts) == 2
    assert [type(e) for e in probe.raised] == [TransportError]
    assert failed.calls == []
    assert sandbox.count(PROBE_PATH) == 1


def test_a_refusal_from_wechat_is_not_retried(sandbox: Sandbox) -> None:
    probe = Probe(sandbox.url)
    app, _wechat = probe_app(sandbox, probe)
    sandbox.fail(PROBE_PATH, 46003, times=None)
    failed = Recorder()
    with signals.delivery_failed.connected_to(failed, app):
        assert run_task(app, Task("probe", "default", {}), attempts=4, backoff=0.01) is False
    assert len(probe.attempts) == 1
    [call] = failed.calls
    assert isinstance(call["exception"], APIError)
    assert call["exception"].errcode == 46003
    assert sandbox.count(PROBE_PATH) == 1


def test_an_unknown_task_is_reported_once_without_retries(sandbox: Sandbox) -> None:
    probe = Probe(sandbox.url)
    app, _wechat = probe_app(sandbox, probe)
    failed = Recorder()
    task = Task("not-registered", "default", {})
    with signals.delivery_failed.connected_to(failed, app):
        assert run_task(app, task, attempts=4, backoff=0.01) is False
    [call] = failed.calls
    assert isinstance(call["exception"], PermanentFailure)
    assert call["task"] == task
    assert probe.attempts == []


def test_a_task_that_succeeds_runs_once(sandbox: Sandbox) -> None:
    probe = Probe(sandbox.url)
    app, _wechat = probe_app(sandbox, probe)
    failed = Recorder()
    with signals.delivery_failed.connected_to(failed, app):
        app.extensions["wechat"].task_runner.submit(app, Task("probe", "default", {}))
    assert len(probe.attempts) == 1
    assert probe.raised == []
    assert failed.calls == []
