"""What both queue adapters share: importing the site, the done marks, retries."""

from __future__ import annotations

import pytest
from flask import Flask

from flask_wechat import WeChat, signals
from flask_wechat.contrib import RetryLater, _apps, load_app, run_queued
from flask_wechat.errors import PermanentFailure, TokenUnavailable, TransportError, api_error
from flask_wechat.tasks import Task, retryable

INSTANCE = Flask("instance")
INSTANCE.config.update(WECHAT_TOKEN="t", WECHAT_APP_ID="wx0", WECHAT_APP_SECRET="s")
WeChat(INSTANCE)
CALLS: list[str] = []


def factory() -> Flask:
    CALLS.append("built")
    app = Flask("factory")
    app.config.update(WECHAT_TOKEN="t", WECHAT_APP_ID="wx0", WECHAT_APP_SECRET="s")
    wechat = WeChat(app)
    state = wechat.state(app)

    def flaky(app: Flask, state: object, task: Task) -> None:
        CALLS.append(task.payload["how"])
        if task.payload["how"] == "refused":
            raise TransportError("refused", may_have_arrived=False)
        if task.payload["how"] == "timeout":
            raise TransportError("read timeout", may_have_arrived=True)
        if task.payload["how"] == "limited":
            raise api_error(45011, "api minute-quota reach limit rid: 0-0-0")

    state.tasks.register("flaky", flaky)
    return app


def test_load_app_takes_an_app_or_a_factory_once_per_process() -> None:
    _apps.clear()
    CALLS.clear()
    assert load_app(f"{__name__}:INSTANCE") is INSTANCE
    built = load_app(f"{__name__}:factory")
    assert load_app(f"{__name__}:factory") is built
    assert CALLS == ["built"]
    with pytest.raises(ValueError, match="module:attribute"):
        load_app("no_colon")
    _apps.clear()


def test_token_unavailable_is_retryable_a_send_that_may_have_arrived_is_not() -> None:
    assert retryable(TokenUnavailable("store down"))
    assert retryable(TransportError("refused", may_have_arrived=False))
    assert not retryable(TransportError("timeout", may_have_arrived=True))
    assert not retryable(PermanentFailure("no"))


def test_run_queued_retries_skips_done_and_reports_once() -> None:
    _apps.clear()
    app = load_app(f"{__name__}:factory")
    failures: list[Task] = []

    def failed(sender: Flask, task: Task, **extra: object) -> None:
        failures.append(task)

    signals.delivery_failed.connect(failed, app)
    try:
        ok = Task("flaky", "default", {"how": "fine"}).to_data()
        assert run_queued(app, ok, final=False) == "done"
        assert run_queued(app, ok, final=False) == "skipped"
        refused = Task("flaky", "default", {"how": "refused"}).to_data()
        with pytest.raises(RetryLater):
            run_queued(app, refused, final=False)
        assert failures == []
        assert run_queued(app, refused, final=True) == "failed"
        timeout = Task("flaky", "default", {"how": "timeout"}).to_data()
        assert run_queued(app, timeout, final=False) == "failed"  # never sent twice
        assert [task.payload["how"] for task in failures] == ["refused", "timeout"]
        assert run_queued(app, {"v": 99, "name": "x"}, final=False) == "failed"
    finally:
        signals.delivery_failed.disconnect(failed, app)
        _apps.clear()


def test_run_queued_retries_45011_at_the_next_minute() -> None:
    _apps.clear()
    app = load_app(f"{__name__}:factory")
    try:
        limited = Task("flaky", "default", {"how": "limited"}).to_data()
        with pytest.raises(RetryLater) as caught:
            run_queued(app, limited, final=False)
        assert caught.value.delay is not None
        assert 0 < caught.value.delay <= 60
        assert run_queued(app, limited, final=True) == "failed"
        refused = Task("flaky", "default", {"how": "refused"}).to_data()
        with pytest.raises(RetryLater) as usual:
            run_queued(app, refused, final=False)
        assert usual.value.delay is None  # the queue's own backoff
    finally:
        _apps.clear()


@pytest.mark.parametrize("runner", ["rq", "celery"])
def test_app_import_is_required_and_checked_when_the_runner_is_built(runner: str) -> None:
    """A runner without ``app_import``, or with one of the wrong shape, fails where it
    is built (the web process), not later in every worker."""
    import redis
    from celery import Celery
    from rq import Queue

    from flask_wechat.contrib.celery import CeleryRunner
    from flask_wechat.contrib.rq import RQRunner

    def build(*args: object) -> object:
        if runner == "rq":
            queue = Queue("q", connection=redis.Redis(port=1))  # never connected
            return RQRunner(queue, *args)  # type: ignore[arg-type]
        return CeleryRunner(Celery("c", set_as_current=False), *args)  # type: ignore[arg-type]

    with pytest.raises(TypeError, match="app_import"):
        build()
    for wrong in ("mysite", "mysite.create_app", "my site:app", ":app", "", None):
        with pytest.raises(ValueError, match="module:attribute") as caught:
            build(wrong)
        assert "mysite:create_app" in str(caught.value)
    assert build("mysite.web:create_app").app_import == "mysite.web:create_app"  # type: ignore[attr-defined]


@pytest.mark.parametrize("extra", ["rq", "celery"])
def test_importing_an_adapter_without_its_extra_names_the_extra(extra: str) -> None:
    """Without the queue's package the import error says what to install."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        f"sys.modules[{extra!r}] = None  # as if not installed\n"
        f"import flask_wechat.contrib.{extra}\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError:")
    assert f'pip install "flask-wechat-connect[{extra}]"' in last
