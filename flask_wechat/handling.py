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
from .handler_threads import Job
from .messages import Message
from .replies import ImageReply, TransferCustomerServiceReply, reply_from_data
from .tasks import Task, task

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


def handle(
    app: Flask, state: WeChatState, message: Message, render: Render, budget: float | None
) -> Answer:
    """Run the handler of ``message`` and return the callback's answer, by
    ``budget`` seconds from now (``None``: no deadline; see the module docstring)."""
    threads = state.handler_threads
    if threads is None or budget is None:
        return _handle_inline(app, state, message, render, budget)
    # The handler runs in a copy of the request's context variables: it sees the
    # request (and a tracer's current span), in an application context of its own,
    # so its ``g`` and what teardown closes (a database session) are its own even
    # when it goes on after the request ended.
    context = contextvars.copy_context()

    def work() -> Result:
        with app.app_context():
            return run_handler(app, state, message)

    def late(result: Result, error: BaseException | None) -> None:
        context.run(_finished_late, app, state, message, result, error)

    job: Job[Result] = Job(functools.partial(context.run, work), late)
    threads.submit(job)
    if not job.wait(budget):
        logger.warning(
            "handler for %s on account %r ran past the reply deadline;"
            " the callback answered success and its reply will be sent as a message",
            message.dispatch_name,
            message.account,
        )
        observe.decided("late", message)
        return SUCCESS
    if job.error is not None:  # run_handler re-raises only when the app propagates
        raise job.error
    return route(app, state, message, job.result, render)


def _handle_inline(
    app: Flask, state: WeChatState, message: Message, render: Render, budget: float | None
) -> Answer:
    """The handler in the request's own thread (``WeChat(handler_threads=0)``, or
    no deadline): a reply past the deadline is sent as a message."""
    started = time.monotonic()
    result = run_handler(app, state, message)
    if budget is not None and time.monotonic() - started > budget:
        logger.warning(
            "handler for %s on account %r ran past the reply deadline;"
            " its reply is sent as a message",
            message.dispatch_name,
            message.account,
        )
        return route(app, state, message, result, None)
    return route(app, state, message, result, render)


def _finished_late(
    app: Flask,
    state: WeChatState,
    message: Message,
    result: Result,
    error: BaseException | None,
) -> None:
    """On the handler's thread, once a handler the callback stopped waiting for
    is done: its reply goes out through the API."""
    if error is not None:  # reported by run_handler; nobody to raise to
        return
    with app.app_context():
        try:
            route(app, state, message, result, None)
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


@task(SEND_REPLY)
def send_reply_task(app: Flask, state: WeChatState, task: Task) -> None:
    """Perform a :data:`SEND_REPLY` task: upload any local file, send, signal."""
    client = state.client(task.account)
    reply = reply_from_data(task.payload["reply"])
    if isinstance(reply, ImageReply) and reply.file is not None:
        reply = upload_file(client, reply)
    raw = task.payload.get("message")
    answered = raw if isinstance(raw, dict) else None
    client.profile.send_reply(client, str(task.payload["to_user"]), reply, answered)
    if signals.reply_sent.receivers:
        message = Message(raw, task.account) if isinstance(raw, dict) else None
        signals.reply_sent.send(app, message=message, reply=reply, account=task.account)
