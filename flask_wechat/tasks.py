"""Work done after a callback has answered: late replies and relay traffic.

A :class:`Task` is data, not a closure: ``kind``, ``account`` and a picklable
``payload``. The extension hands each task to its runner: by default a bounded
thread pool (:class:`ThreadPoolRunner`); :class:`InlineRunner` runs it at once.
To use a task queue instead, pass ``WeChat(task_runner=...)`` an object whose
``submit(app, task)`` enqueues the task (its fields pickle), and have the queue's
worker call :func:`run_task` with the worker's app::

    class RQRunner:
        def submit(self, app, task):
            queue.enqueue(run_wechat_task, task.kind, task.account, task.payload)

    def run_wechat_task(kind, account, payload):
        flask_wechat.tasks.run_task(create_app(), Task(kind, account, payload))

A task that keeps failing is retried with backoff, then logged and reported
through ``signals.delivery_failed``; nothing is dropped silently.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
import typing as t

import requests

from . import signals
from .delivery import send_reply
from .errors import APIError

if t.TYPE_CHECKING:
    from flask import Flask

    from .state import WeChatState

logger = logging.getLogger("flask_wechat")


class Task(t.NamedTuple):
    """One piece of late work for an account."""

    kind: str
    account: str
    payload: dict[str, t.Any]


#: Performs a task; raising means "failed, maybe retry".
TaskFunc = t.Callable[["Flask", "WeChatState", Task], None]

_TASKS: dict[str, TaskFunc] = {}


class PermanentFailure(Exception):
    """A task that must not be retried (retrying cannot help, or could duplicate)."""


def task(kind: str) -> t.Callable[[TaskFunc], TaskFunc]:
    """Register the function that performs tasks of ``kind``."""

    def register(func: TaskFunc) -> TaskFunc:
        _TASKS[kind] = func
        return func

    return register


class TaskRunner(t.Protocol):
    """Where the extension sends late work."""

    def submit(self, app: Flask, task: Task) -> None: ...


class ThreadPoolRunner:
    """Runs tasks on a bounded pool of threads (the default).

    :param attempts: tries per task before it is reported as failed.
    :param backoff: seconds before the first retry; doubled for each next one.
    """

    def __init__(self, max_workers: int = 4, *, attempts: int = 4, backoff: float = 0.5) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers, thread_name_prefix="flask_wechat-task"
        )
        self.attempts = attempts
        self.backoff = backoff

    def submit(self, app: Flask, task: Task) -> None:
        self._pool.submit(run_task, app, task, attempts=self.attempts, backoff=self.backoff)

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking tasks; with ``wait``, finish the queued ones first."""
        self._pool.shutdown(wait=wait)


class InlineRunner:
    """Runs each task at once, in the submitting thread (tests, simple scripts)."""

    def __init__(self, *, attempts: int = 4, backoff: float = 0.5) -> None:
        self.attempts = attempts
        self.backoff = backoff

    def submit(self, app: Flask, task: Task) -> None:
        run_task(app, task, attempts=self.attempts, backoff=self.backoff)


def run_task(app: Flask, task: Task, *, attempts: int = 4, backoff: float = 0.5) -> bool:
    """Perform ``task`` inside ``app``'s context, retrying failures with backoff.

    :returns: whether it succeeded. A final failure is logged and signalled.
    """
    func = _TASKS.get(task.kind)
    if func is None:
        raise LookupError(f"no flask_wechat task of kind {task.kind!r}")
    error: BaseException | None = None
    with app.app_context():
        state: WeChatState = app.extensions["wechat"]
        for attempt in range(attempts):
            try:
                func(app, state, task)
                return True
            except Exception as exc:
                error = exc
                if not _retryable(exc) or attempt + 1 == attempts:
                    break
                time.sleep(backoff * 2**attempt)
        logger.error(
            "flask_wechat could not complete a %s task for account %r",
            task.kind,
            task.account,
            exc_info=error,
        )
        if signals.delivery_failed.receivers:
            signals.delivery_failed.send(app, task=task, exception=error, account=task.account)
    return False


def _retryable(exc: BaseException) -> bool:
    # Not retried: mistakes (ValueError...), a read timeout (the message may have
    # arrived; sending again could duplicate it) and APIError (the client already
    # retried -1 and token errors; WeChat would give any other errcode again).
    return not isinstance(
        exc,
        (PermanentFailure, ValueError, TypeError, LookupError, requests.ReadTimeout, APIError),
    )


@task("reply")
def _deliver_reply(app: Flask, state: WeChatState, task: Task) -> None:
    """A handler's reply, sent as a message (Mini Programs, late replies)."""
    reply = task.payload["reply"]
    send_reply(state.client(app, task.account), task.payload["to_user"], reply)
    if signals.reply_sent.receivers:
        signals.reply_sent.send(
            app, message=task.payload.get("message"), reply=reply, account=task.account
        )
