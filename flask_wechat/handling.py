"""Handling a message: run its handler within the reply deadline, route the result.

Written once and used by every callback, by late replies and by the relay:

* :func:`run_handler` sends the signals, finds the handler and calls it (``async
  def`` handlers are awaited, as Flask does for async views); a handler that
  raises is logged and signalled, and the message still counts as handled —
  except when the app is testing (``app.testing`` or ``PROPAGATE_EXCEPTIONS``):
  then the exception propagates out of the test client, as a view's would;
* :func:`handle` does that by ``WECHAT_REPLY_DEADLINE``: the handler runs on a
  handler thread (:mod:`flask_wechat.handler_threads`) and the callback waits for
  it only until the deadline; a handler still running then gets ``success`` as
  the answer and its reply is sent through the API when it finishes. With
  ``WeChat(handler_threads=0)`` handlers run in the request's own thread instead,
  with no deadline on the answer (a reply that comes late is sent as a message);
* what the result becomes (a passive reply, a reply sent later, a relay forward)
  is the account's :class:`~flask_wechat.delivery.AccountDelivery`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import logging
import time
import typing as t

from flask import Response

from . import observe, signals
from .delivery import SENT_LATER, report_failure
from .handler_threads import Job
from .replies import Reply, TextReply

if t.TYPE_CHECKING:
    from flask import Flask

    from .delivery import AccountDelivery, Result, Routed
    from .dispatch import Handler
    from .messages import Message
    from .state import WeChatState

logger = logging.getLogger("flask_wechat")

try:  # Flask's ``async`` extra: awaits coroutines as Flask does for async views
    import asgiref  # noqa: F401

    HAVE_ASGIREF = True
except ImportError:  # pragma: no cover - asgiref is installed with the test extra
    HAVE_ASGIREF = False


def call_handler(app: Flask, handler: Handler, message: Message) -> t.Any:
    """Call ``handler``; an ``async def`` one is awaited to completion.

    With asgiref installed that is ``app.ensure_sync``, as for Flask's async views;
    without it the coroutine runs in a fresh event loop (on a helper thread when
    this thread already runs one).
    """
    func = handler.func
    if not handler.is_async:
        return func(message)
    if HAVE_ASGIREF:
        return app.ensure_sync(func)(message)
    return run_coroutine(func(message))


def coerce_reply(value: t.Any) -> Reply | Response | None:
    """What a handler may return: a reply, a ``str`` (text), ``None`` or a Response."""
    if value is None or isinstance(value, (Reply, Response)):
        return value
    if isinstance(value, str):
        return TextReply(value)
    raise TypeError(
        f"a handler returned {type(value).__name__}; return a reply object, a str, "
        "None or a Flask Response"
    )


def run_coroutine(coroutine: t.Coroutine[t.Any, t.Any, t.Any]) -> t.Any:
    """Run ``coroutine`` to completion from synchronous code."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    context = contextvars.copy_context()  # current_app/request inside the coroutine
    with concurrent.futures.ThreadPoolExecutor(1) as helper:
        return helper.submit(context.run, asyncio.run, coroutine).result()


def propagates(app: Flask) -> bool:
    """Whether a handler's exception should reach the caller (a test client), as
    a view's does: the app is testing or ``PROPAGATE_EXCEPTIONS`` is set."""
    return bool(app.testing or app.config.get("PROPAGATE_EXCEPTIONS"))


def run_handler(app: Flask, state: WeChatState, message: Message) -> Result:
    """Signal ``message`` and run the first handler that accepts it.

    A handler that raises is logged and signalled (``handler_failed``); the
    result is then ``None`` — or, when :func:`propagates`, the exception is
    raised again.
    """
    account = message.account
    if signals.message_received.receivers:
        signals.message_received.send(app, message=message, account=account)
    for name in message.dispatch_names:
        signals.send_type_signals(app, name, account, message=message)
    handler = state.handlers.find(message)
    if handler is None:
        return None
    try:
        with observe.handler(app, message):
            return coerce_reply(call_handler(app, handler, message))
    except Exception as exc:
        report_failure(app, message, exc)
        if propagates(app):
            raise
        return None


def handle(
    app: Flask,
    state: WeChatState,
    delivery: AccountDelivery,
    message: Message,
    encrypted: bool,
    budget: float | None,
) -> Routed:
    """Run the handler of ``message`` and return the callback's answer, by
    ``budget`` seconds from now (``None``: no deadline; see the module docstring).
    ``encrypted``: how the request came, for a passive reply."""
    threads = state.handler_threads
    if threads is None or budget is None:
        # In the request's own thread (``WeChat(handler_threads=0)``, or no
        # deadline): a reply past the deadline is sent as a message.
        started = time.monotonic()
        result = run_handler(app, state, message)
        overran = budget is not None and time.monotonic() - started > budget
        if overran:
            _warn_late(message, "its reply is sent as a message")
        return delivery.route(app, message, result, None if overran else encrypted)
    # The handler runs in a copy of the request's context variables: it sees the
    # request (and a tracer's current span), in an application context of its own,
    # so its ``g`` and what teardown closes (a database session) are its own even
    # when it goes on after the request ended.
    context = contextvars.copy_context()

    def work() -> Result:
        with app.app_context():
            return run_handler(app, state, message)

    def late(result: Result, error: BaseException | None) -> None:
        context.run(_finished_late, app, delivery, message, result, error)

    job: Job[Result] = Job(functools.partial(context.run, work), late)
    threads.submit(job)
    if not job.wait(budget):
        _warn_late(message, "the callback answered success and its reply will be sent as a message")
        return SENT_LATER
    if job.error is not None:  # run_handler re-raises only when the app propagates
        raise job.error
    return delivery.route(app, message, job.result, encrypted)


def _warn_late(message: Message, then: str) -> None:
    logger.warning(
        "handler for %s on account %r ran past the reply deadline; %s",
        message.dispatch_name,
        message.account,
        then,
    )


def _finished_late(
    app: Flask,
    delivery: AccountDelivery,
    message: Message,
    result: Result,
    error: BaseException | None,
) -> None:
    """On the handler's thread, once a handler the callback stopped waiting for
    is done: its reply goes out through the API."""
    if error is not None:  # reported by run_handler; nobody to raise to
        return
    with app.app_context():
        delivery.route(app, message, result, None)
