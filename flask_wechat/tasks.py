"""Late work: what runs after a callback has answered, as plain data.

A :class:`Task` is JSON-compatible data — a name, the account, a payload of
strings, numbers, lists and dicts, an id and a format version — never a pickled
object and never a secret: a worker on another machine (or on the next release)
reads it, finds the function registered for its name in the app's
:class:`TaskRegistry` and performs it with the worker's own credentials.

The extension hands tasks to its runner: :class:`ThreadPoolRunner` (the default,
a bounded pool in the web process), :class:`InlineRunner` (at once), or a task
queue (:mod:`flask_wechat.contrib.rq`, :mod:`flask_wechat.contrib.celery`).
A task that fails on the way to WeChat is retried with backoff; one that fails
for good is logged and sent as ``signals.delivery_failed``, once.
"""

from __future__ import annotations

import concurrent.futures
import logging
import secrets
import time
import typing as t

from . import observe, signals
from .errors import PermanentFailure, RelayError, TokenUnavailable, TransportError

if t.TYPE_CHECKING:
    from flask import Flask


logger = logging.getLogger("flask_wechat")

#: The task data format; :meth:`Task.from_data` reads this version and older ones.
TASK_VERSION = 1


class Task(t.NamedTuple):
    """One piece of late work for an account."""

    name: str
    account: str
    payload: dict[str, t.Any]
    id: str = ""
    #: the trace context of the work that asked for this task (W3C ``traceparent``
    #: and ``tracestate``, plain strings), when a tracer is installed; the task's
    #: span links to it (see :mod:`flask_wechat.contrib.otel`).
    trace: dict[str, str] | None = None

    def traced(self) -> Task:
        """This task carrying the current trace context, if it has none yet."""
        if self.trace is not None:
            return self
        carrier = observe.trace_carrier()
        return self._replace(trace=carrier) if carrier else self

    def to_data(self) -> dict[str, t.Any]:
        """The JSON-compatible form that goes on a queue."""
        data = {
            "v": TASK_VERSION,
            "id": self.id or secrets.token_hex(8),
            "name": self.name,
            "account": self.account,
            "payload": self.payload,
        }
        trace = self.traced().trace
        if trace:
            data["trace"] = dict(trace)
        return data

    @classmethod
    def from_data(cls, data: t.Mapping[str, t.Any]) -> Task:
        """Read a task written by :meth:`to_data` (this release or an older one)."""
        version = data.get("v")
        if not isinstance(version, int) or version > TASK_VERSION:
            raise PermanentFailure(f"task format {version!r} is newer than this release reads")
        return cls(
            str(data["name"]),
            str(data["account"]),
            dict(data["payload"]),
            str(data.get("id", "")),
            _trace(data.get("trace")),
        )


def _trace(value: t.Any) -> dict[str, str] | None:
    """A task's trace context, if it is one: a small dict of strings (anything else
    is dropped, never trusted)."""
    if not isinstance(value, dict) or len(value) > 8:
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return None
    return dict(value)


#: Performs a task in the app's context; raising means "failed" (maybe retried).
#: (The state is the app's :class:`~flask_wechat.state.WeChatState`; this low
#: layer does not name it.)
TaskFunc = t.Callable[["Flask", t.Any, Task], None]


#: Every task flask_wechat performs, by name: each module registers its own with
#: :func:`task` where it defines the function, so nothing here calls upward by import.
TASKS: dict[str, TaskFunc] = {}

F = t.TypeVar("F", bound=TaskFunc)


def task(name: str) -> t.Callable[[F], F]:
    """Register the decorated function as what performs tasks called ``name``."""

    def register(func: F) -> F:
        TASKS[name] = func
        return func

    return register


class TaskRegistry:
    """The functions that perform each task name (by default :data:`TASKS`)."""

    def __init__(self, functions: t.Mapping[str, TaskFunc] | None = None) -> None:
        self._functions: dict[str, TaskFunc] = dict(functions or {})

    def register(self, name: str, func: TaskFunc) -> None:
        """Perform tasks called ``name`` with ``func``."""
        self._functions[name] = func

    def __getitem__(self, name: str) -> TaskFunc:
        try:
            return self._functions[name]
        except KeyError:
            raise PermanentFailure(f"no flask_wechat task called {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._functions


class TaskRunner(t.Protocol):
    """Where the extension sends late work."""

    def submit(self, app: Flask, task: Task) -> None: ...


def retryable(exc: BaseException) -> bool:
    """Whether trying ``exc``'s task again can help without sending twice.

    Retried: WeChat or the relay unreachable before the request arrived, the
    relay platform's 5xx, and no access_token to be had yet (the shared store
    down, or another process's refresh unfinished: nothing was sent). Not
    retried: a send that may have arrived (a read timeout), WeChat's errcodes
    (the client already retried -1 and token errors), mistakes and
    :class:`PermanentFailure`.
    """
    if isinstance(exc, TransportError):
        return not exc.may_have_arrived
    if isinstance(exc, TokenUnavailable):
        return True
    return isinstance(exc, RelayError) and exc.status >= 500


def perform(app: Flask, task: Task) -> None:
    """Perform ``task`` once, in ``app``'s context; exceptions propagate."""
    with app.app_context():
        state: t.Any = app.extensions["wechat"]
        with observe.unit(app, "task", link=task.trace, account=task.account, task=task.name):
            state.tasks[task.name](app, state, task)


def report_failure(app: Flask, task: Task, exc: BaseException) -> None:
    """Log and signal a task that failed for good."""
    logger.error(
        "flask_wechat could not complete a %s task for account %r: %s",
        task.name,
        task.account,
        exc,
    )
    if signals.delivery_failed.receivers:
        signals.delivery_failed.send(app, task=task, exception=exc, account=task.account)


def run_task(app: Flask, task: Task, *, attempts: int = 4, backoff: float = 0.5) -> bool:
    """Perform ``task``, retrying :func:`retryable` failures with backoff in this
    thread (the in-process runners); a final failure is logged and signalled.

    :returns: whether it succeeded.
    """
    for attempt in range(attempts):
        try:
            perform(app, task)
            return True
        except Exception as exc:
            if not retryable(exc) or attempt + 1 == attempts:
                report_failure(app, task, exc)
                return False
            time.sleep(backoff * 2**attempt)
    return False  # pragma: no cover - attempts < 1


class ThreadPoolRunner:
    """Runs tasks on a bounded pool of threads in the web process (the default).

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
        self._pool.submit(
            run_task, app, task.traced(), attempts=self.attempts, backoff=self.backoff
        )

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking tasks; with ``wait``, finish the queued ones first."""
        self._pool.shutdown(wait=wait)


class InlineRunner:
    """Runs each task at once, in the submitting thread (tests, simple scripts)."""

    def __init__(self, *, attempts: int = 4, backoff: float = 0.5) -> None:
        self.attempts = attempts
        self.backoff = backoff

    def submit(self, app: Flask, task: Task) -> None:
        run_task(app, task.traced(), attempts=self.attempts, backoff=self.backoff)
