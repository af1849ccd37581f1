"""Running flask_wechat's late work on a task queue's own workers.

:mod:`flask_wechat.contrib.rq` (``RQRunner``) and :mod:`flask_wechat.contrib.celery`
(``CeleryRunner``) put :meth:`Task.to_data` — plain JSON, no secret — on the
queue, calling a module-level function by its dotted name. In the worker that
function imports the site once per process (:func:`load_app`) and hands the data
to :func:`run_queued`, which both adapters share:

* a task whose id the shared store marks ``done`` is not performed again (a
  worker killed after its send re-runs the job; the store remembers it ran);
* a :func:`~flask_wechat.tasks.retryable` failure before the last attempt raises
  :class:`RetryLater`, which the queue retries with its own backoff; WeChat's
  per-minute limit (45011, :class:`~flask_wechat.errors.RateLimited`) too, but
  not before the next minute (:attr:`RetryLater.delay`);
* a failure for good (not retryable, or the last attempt) is logged and sent as
  ``signals.delivery_failed`` once, in the worker; the adapter then raises
  :class:`DeliveryFailed`, which the queue never retries, so the job ends in the
  queue's own failure list (RQ's ``FailedJobRegistry``, Celery's ``FAILURE``),
  where operators look for it.
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
import typing as t

from flask import Flask

from ..errors import PermanentFailure, RateLimited, StoreUnavailable
from ..tasks import Task, perform, report_failure, retryable

if t.TYPE_CHECKING:
    from ..state import WeChatState

logger = logging.getLogger("flask_wechat")

#: How long a performed task's id is remembered (seconds): far longer than any
#: queue keeps retrying or redelivering a job.
DONE_TTL = 7 * 24 * 3600

#: What :func:`run_queued` did: performed it, skipped a task already done, or
#: reported a failure for good.
Outcome = t.Literal["done", "skipped", "failed"]

_apps: dict[str, Flask] = {}
_apps_lock = threading.Lock()


class RetryLater(Exception):
    """A retryable failure: the queue should try the task again later — not
    before :attr:`delay` seconds when that is given (WeChat's per-minute limit)."""

    def __init__(self, what: str, delay: float | None = None) -> None:
        super().__init__(what)
        self.delay = delay


class DeliveryFailed(Exception):
    """A task failed for good and was reported (logged, ``signals.delivery_failed``).

    Raised by the queue adapters after :func:`run_queued` answered ``"failed"``, so
    that the queue records the job as failed; the queue must not retry it. The text
    names the task, never its payload.
    """

    @classmethod
    def of(cls, data: t.Mapping[str, t.Any]) -> DeliveryFailed:
        """The error for queued task ``data`` (a plain message, so that queues can
        pickle or serialise it)."""
        return cls(
            f"flask_wechat task {data.get('name', '?')} ({data.get('id', '?')}) failed for "
            "good; it was logged and reported through signals.delivery_failed"
        )


_APP_IMPORT = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


def check_app_import(app_import: object) -> str:
    """``app_import`` if it has the shape ``"module:attribute"``, checked when a
    runner is built, so a typo fails in the web process at start-up rather than
    later, in every worker.

    :raises ValueError: it does not.
    """
    if not isinstance(app_import, str) or not _APP_IMPORT.fullmatch(app_import):
        raise ValueError(
            "app_import must name the site's Flask app or app factory as "
            f"'module:attribute' (e.g. 'mysite:create_app'), not {app_import!r}"
        )
    return app_import


def missing_extra(exc: ModuleNotFoundError, extra: str) -> ModuleNotFoundError:
    """The error for a queue adapter imported without its extra installed."""
    return ModuleNotFoundError(
        f"flask_wechat.contrib.{extra} needs the {exc.name!r} package: "
        f'pip install "flask-wechat-connect[{extra}]"',
        name=exc.name,
    )


def load_app(app_import: str) -> Flask:
    """The Flask app named by ``"module:attribute"`` — an app, or a factory that
    returns one — imported (and built) once per process."""
    with _apps_lock:
        app = _apps.get(app_import)
        if app is None:
            module_name, _, attribute = app_import.partition(":")
            if not module_name or not attribute:
                raise ValueError(f"app_import must be 'module:attribute', not {app_import!r}")
            found = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(found, Flask):
                found = found()
            if not isinstance(found, Flask):
                raise TypeError(f"{app_import} is neither a Flask app nor a factory of one")
            if "wechat" not in found.extensions:
                raise RuntimeError(f"flask_wechat is not initialised on the app of {app_import}")
            _apps[app_import] = app = found
    return app


def _done_key(task: Task) -> str:
    return f"task:{task.id}:done"


def run_queued(app: Flask, data: t.Mapping[str, t.Any], *, final: bool) -> Outcome:
    """Perform one delivery of queued task ``data`` in a worker (see the module
    docstring); ``final``: no retry follows this attempt.

    :raises RetryLater: a retryable failure and not ``final``.
    """
    state: WeChatState = app.extensions["wechat"]
    try:
        task = Task.from_data(data)
    except (PermanentFailure, KeyError, TypeError, ValueError) as exc:
        logger.error("flask_wechat cannot read a queued task: %s", exc)
        return "failed"
    if not task.id:
        raise PermanentFailure("a queued task carries no id")  # to_data always gives one
    try:
        if state.store.get(_done_key(task)) is not None:
            logger.info(
                "flask_wechat skips the %s task %s: it was done already", task.name, task.id
            )
            return "skipped"
    except StoreUnavailable as exc:
        logger.warning("cannot check whether task %s ran already (%s); running it", task.id, exc)
    try:
        perform(app, task)
    except Exception as exc:
        limited = isinstance(exc, RateLimited)
        if (retryable(exc) or limited) and not final:
            logger.warning(
                "flask_wechat will retry a %s task for %r: %s", task.name, task.account, exc
            )
            delay = exc.retry_after if isinstance(exc, RateLimited) else None
            raise RetryLater(f"{type(exc).__name__}: {exc}", delay) from None
        report_failure(app, task, exc)
        return "failed"
    try:
        state.store.set(_done_key(task), 1, DONE_TTL)
    except StoreUnavailable as exc:
        logger.warning("cannot record task %s as done (%s)", task.id, exc)
    return "done"
