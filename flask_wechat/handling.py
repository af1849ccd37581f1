"""Handling a message: run its handler within the reply deadline, route the result.

Written once and used by every callback, by late replies and by the relay:

* :func:`run_handler` sends the signals, finds the handler and calls it (``async
  def`` handlers are awaited, as Flask does for async views); a handler that
  raises is logged and signalled, and the message still counts as handled —
  except when the app is testing (``app.testing`` or ``PROPAGATE_EXCEPTIONS``):
  then the exception propagates out of the test client, as a view's would;
* :func:`handle` does that within ``WECHAT_REPLY_DEADLINE``: inline by default —
  a handler that finishes late has its reply sent through the API instead of the
  answer, which WeChat stopped waiting for (its retry is answered by the dedup
  waiter) — or on a thread pool (``WeChat(handler_threads=N)``), which answers
  ``success`` at the deadline while the handler goes on;
* :func:`route` turns the result into the callback's answer: a passive reply, a
  ``send_reply`` task (platforms without passive replies, late replies), a relay
  forward (nothing answered, a relay configured) or ``success``.
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
from .dispatch import coerce_reply
from .edge import SUCCESS, Answer
from .messages import Message
from .replies import ImageReply, TransferCustomerServiceReply, reply_from_data
from .tasks import Task

if t.TYPE_CHECKING:
    from flask import Flask

    from .api import Client
    from .dispatch import Handler
    from .replies import Reply
    from .state import WeChatState

logger = logging.getLogger("flask_wechat")

#: The task that sends a reply through the API (customer-service message, WeCom app
#: message): payload ``to_user``, ``reply`` (:meth:`Reply.to_data`), ``message``
#: (the message's raw fields, for the ``reply_sent`` signal).
SEND_REPLY = "send_reply"

#: Renders a reply as the callback's passive answer (XML or JSON, encrypted or not).
Render = t.Callable[["Reply"], Answer]
Result = t.Union["Reply", Response, None]


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


def report_failure(app: Flask, message: Message, exc: BaseException) -> None:
    """Log and signal a failure while handling ``message``."""
    logger.error(
        "handler for %s on account %r failed", message.dispatch_name, message.account, exc_info=exc
    )
    if signals.handler_failed.receivers:
        signals.handler_failed.send(app, message=message, exception=exc, account=message.account)


def handle(app: Flask, state: WeChatState, message: Message, render: Render) -> Answer:
    """Run the handler of ``message`` within its account's reply deadline and
    return the callback's answer (see the module docstring)."""
    deadline = state.account(message.account).reply_deadline
    if deadline and state.handler_pool is not None:
        return _handle_on_pool(app, state, message, render, deadline)
    started = time.monotonic()
    result = run_handler(app, state, message)
    if deadline and time.monotonic() - started > deadline:
        logger.warning(
            "handler for %s on account %r ran past the %gs reply deadline;"
            " its reply is sent as a message",
            message.dispatch_name,
            message.account,
            deadline,
        )
        return route(app, state, message, result, None)
    return route(app, state, message, result, render)


def _handle_on_pool(
    app: Flask, state: WeChatState, message: Message, render: Render, deadline: float
) -> Answer:
    pool = t.cast(concurrent.futures.ThreadPoolExecutor, state.handler_pool)
    context = contextvars.copy_context()  # current_app/request for the handler
    future = pool.submit(context.run, run_handler, app, state, message)
    try:
        result = future.result(timeout=deadline)
    except concurrent.futures.TimeoutError:
        logger.warning(
            "handler for %s on account %r ran past the %gs reply deadline;"
            " its reply will be sent as a message",
            message.dispatch_name,
            message.account,
            deadline,
        )
        future.add_done_callback(functools.partial(_finished_late, app, state, message))
        observe.decided("late", message)
        return SUCCESS
    return route(app, state, message, result, render)


def _finished_late(
    app: Flask, state: WeChatState, message: Message, future: concurrent.futures.Future[t.Any]
) -> None:
    if future.exception() is not None:  # reported by run_handler; nobody to raise to
        return
    with app.app_context():
        try:
            route(app, state, message, future.result(), None)
        except Exception as exc:
            report_failure(app, message, exc)


def route(
    app: Flask, state: WeChatState, message: Message, result: Result, render: Render | None
) -> Answer:
    """The answer for a handler's ``result``; ``render`` is ``None`` where no
    passive answer is possible any more (late) or wanted."""
    try:
        if result is None:
            relay_unanswered(app, state, message)
            return SUCCESS
        if isinstance(result, Response):
            if render is None:
                logger.error(
                    "a late handler for %s returned a Response, which cannot be sent as a message",
                    message.dispatch_name,
                )
                return SUCCESS
            return Answer.of_response(result)
        platform = state.account(message.account).platform
        if render is not None and (
            platform.passive_replies or isinstance(result, TransferCustomerServiceReply)
        ):
            if isinstance(result, ImageReply) and result.file is not None:
                result = upload_file(state.client(message.account), result)
            answer = render(result)
            if signals.reply_sent.receivers:
                signals.reply_sent.send(app, message=message, reply=result, account=message.account)
            return answer
        send_later(app, state, message, result)
    except Exception as exc:  # a failing reply never loses the request
        report_failure(app, message, exc)
    return SUCCESS


def send_later(app: Flask, state: WeChatState, message: Message, reply: Reply) -> None:
    """Send ``reply`` to the message's sender through the API, as a task."""
    if message.source is None:
        raise ValueError(f"a {message.dispatch_name} message has no sender to reply to")
    payload = {"to_user": message.source, "reply": reply.to_data(), "message": dict(message.raw)}
    state.task_runner.submit(app, Task(SEND_REPLY, message.account, payload))
    observe.decided("late", message)


def relay_unanswered(app: Flask, state: WeChatState, message: Message) -> None:
    """Forward a user message no handler answered to the account's relay, if any."""
    relay = state.relay
    if relay is None or message.is_event or message.relayed:
        return
    if state.account(message.account).relay_url:
        relay.forward(app, message)


def upload_file(client: Client, reply: ImageReply) -> ImageReply:
    """``reply`` with its local file uploaded as temporary media (``media_id`` set)."""
    content, filename = reply.file_content()
    media_id = str(client.media.upload("image", content, filename)["media_id"])
    return ImageReply(media_id=media_id)


def send_reply_task(app: Flask, state: WeChatState, task: Task) -> None:
    """Perform a :data:`SEND_REPLY` task: upload any local file, send, signal."""
    client = state.client(task.account)
    reply = reply_from_data(task.payload["reply"])
    if isinstance(reply, ImageReply) and reply.file is not None:
        reply = upload_file(client, reply)
    raw = task.payload.get("message")
    answered = raw if isinstance(raw, dict) else None
    client.account.platform.send_reply(client, str(task.payload["to_user"]), reply, answered)
    if signals.reply_sent.receivers:
        message = Message(raw, task.account) if isinstance(raw, dict) else None
        signals.reply_sent.send(app, message=message, reply=reply, account=task.account)
