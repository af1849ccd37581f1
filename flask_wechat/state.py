"""Per-app state of the extension, kept in ``app.extensions["wechat"]``."""

from __future__ import annotations

import concurrent.futures
import contextvars
import enum
import functools
import logging
import threading
import typing as t
import weakref

from flask import Response

from . import signals
from .api import Client
from .cache import shared_cache
from .dedup import DedupStore
from .dispatch import coerce_reply
from .tasks import Task, ThreadPoolRunner

if t.TYPE_CHECKING:
    from flask import Flask
    from flask_caching import Cache

    from .callback import Callback
    from .config import Account
    from .extension import WeChat
    from .messages import Message
    from .replies import Reply
    from .tasks import TaskRunner

logger = logging.getLogger("flask_wechat")


class Late(enum.Enum):
    """The handler is still running at the reply deadline."""

    LATE = "late"


LATE = Late.LATE


class WeChatState:
    """Everything one app needs to serve its WeChat accounts.

    Handlers live on the :class:`~flask_wechat.WeChat` object (shared by every app
    it is initialised on); configuration, cache and callbacks live here, per app.
    """

    def __init__(
        self,
        extension: WeChat,
        accounts: dict[str, Account],
        cache: Cache,
        app: Flask,
        *,
        task_runner: TaskRunner | None = None,
        handler_threads: int = 16,
    ) -> None:
        self.extension = extension
        #: fetch tokens from ``/cgi-bin/stable_token`` (``WECHAT_STABLE_TOKEN``).
        self.stable_token = False
        self.accounts = accounts
        self.cache = shared_cache(cache, app)
        self.dedup = DedupStore(self.cache)
        self.callbacks: dict[str, Callback] = {}
        self.clients: dict[str, Client] = {}
        #: runs late work: replies sent as messages, relay traffic.
        self.task_runner: TaskRunner = task_runner or ThreadPoolRunner()
        #: runs handlers, so that the callback can answer by the reply deadline.
        self.handler_pool = concurrent.futures.ThreadPoolExecutor(
            handler_threads, thread_name_prefix="flask_wechat-handler"
        )
        self._clients_lock = threading.Lock()

    def account(self, name: str | None = None) -> Account:
        """The account called ``name``; with ``None``, the only or ``"default"`` one."""
        if name is None:
            if "default" in self.accounts:
                return self.accounts["default"]
            if len(self.accounts) == 1:
                return next(iter(self.accounts.values()))
            raise LookupError(
                "several WeChat accounts are configured; name one: "
                + ", ".join(sorted(self.accounts))
            )
        try:
            return self.accounts[name]
        except KeyError:
            raise LookupError(f"no WeChat account named {name!r}") from None

    def client(self, app: Flask, name: str | None = None) -> Client:
        """The API client of account ``name``, made once per app and account."""
        account = self.account(name)
        client = self.clients.get(account.name)
        if client is not None:
            return client
        with self._clients_lock:
            client = self.clients.get(account.name)
            if client is None:
                ref = weakref.ref(app)

                def refreshed() -> None:
                    sender = ref()
                    if sender is not None and signals.access_token_refreshed.receivers:
                        signals.access_token_refreshed.send(sender, account=account.name)

                client = Client(
                    account, self.cache, stable_token=self.stable_token, on_token_refresh=refreshed
                )
                self.clients[account.name] = client
        return client

    def run_handler_in_time(
        self, app: Flask, message: Message, deadline: float
    ) -> Reply | Response | Late | None:
        """:meth:`run_handler`, but give up waiting after ``deadline`` seconds.

        WeChat drops the connection after 5 seconds and retries; a handler still
        running at the deadline returns :data:`LATE` and its reply, once there,
        is delivered as a message (see :mod:`flask_wechat.delivery`).
        """
        if deadline <= 0:
            return self.run_handler(app, message)
        context = contextvars.copy_context()  # current_app/request for the handler
        future = self.handler_pool.submit(context.run, self.run_handler, app, message)
        try:
            return future.result(timeout=deadline)
        except concurrent.futures.TimeoutError:
            logger.warning(
                "handler for %s on account %r ran past the %gs reply deadline;"
                " its reply will be sent as a message",
                message.kind,
                message.account,
                deadline,
            )
            future.add_done_callback(functools.partial(self._finished_late, app, message))
            return LATE

    def _finished_late(
        self, app: Flask, message: Message, future: concurrent.futures.Future[t.Any]
    ) -> None:
        reply = future.result()  # run_handler reports its own failures
        if isinstance(reply, Response):
            logger.error(
                "a late handler for %s returned a Response, which cannot be sent as a message",
                message.kind,
            )
        elif reply is None:
            self.relay_unanswered(app, message)
        else:
            self.deliver_later(app, message, reply)

    def deliver_later(self, app: Flask, message: Message, reply: Reply) -> None:
        """Send ``reply`` to the message's sender through the API, as a task."""
        payload = {"to_user": message.source, "reply": reply, "message": message}
        self.task_runner.submit(app, Task("reply", message.account, payload))

    def relay_unanswered(self, app: Flask, message: Message) -> None:
        """Forward a message no handler answered to the account's relay, if any."""
        if (
            not message.is_event
            and self.accounts[message.account].relay_url
            and not message.relayed
        ):
            self.relay_forward(app, message)

    def relay_forward(self, app: Flask, message: Message) -> None:
        """Hand ``message`` to the customer-service platform relay (a task)."""
        from .relay import forward_task  # noqa: PLC0415 - relay builds on this module

        if message.is_event:
            raise ValueError("only user messages can be forwarded to the relay, not events")
        message.relayed = True
        self.task_runner.submit(app, forward_task(self.accounts[message.account], message))

    def run_handler(self, app: Flask, message: Message) -> Reply | Response | None:
        """Signal ``message`` and run the first handler that accepts it.

        A handler that raises is logged and signalled; the result is then ``None``
        (the callback answers ``success``).
        """
        account = message.account
        if signals.message_received.receivers:
            signals.message_received.send(app, message=message, account=account)
        signals.send_type_signals(app, message.kind, account, message=message)
        handler = self.extension.handlers.find(message)
        if handler is None:
            return None
        try:
            return coerce_reply(handler.func(message))
        except Exception as exc:
            self.report_failure(app, message, exc)
            return None

    def report_failure(self, app: Flask, message: Message, exc: BaseException) -> None:
        """Log and signal a failure while handling ``message``."""
        logger.error(
            "handler for %s on account %r failed", message.kind, message.account, exc_info=exc
        )
        if signals.handler_failed.receivers:
            signals.handler_failed.send(
                app, message=message, exception=exc, account=message.account
            )
