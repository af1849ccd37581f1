"""Per-app state of the extension, kept in ``app.extensions["wechat"]``."""

from __future__ import annotations

import logging
import threading
import typing as t
import weakref

from . import signals
from .api import Client
from .cache import shared_cache
from .callback import coerce_reply
from .dedup import DedupStore

if t.TYPE_CHECKING:
    from flask import Flask, Response
    from flask_caching import Cache

    from .callback import Callback
    from .config import Account
    from .extension import WeChat
    from .messages import Message
    from .replies import Reply

logger = logging.getLogger("flask_wechat")


class WeChatState:
    """Everything one app needs to serve its WeChat accounts.

    Handlers live on the :class:`~flask_wechat.WeChat` object (shared by every app
    it is initialised on); configuration, cache and callbacks live here, per app.
    """

    def __init__(
        self, extension: WeChat, accounts: dict[str, Account], cache: Cache, app: Flask
    ) -> None:
        self.extension = extension
        #: fetch tokens from ``/cgi-bin/stable_token`` (``WECHAT_STABLE_TOKEN``).
        self.stable_token = False
        self.accounts = accounts
        self.cache = shared_cache(cache, app)
        self.dedup = DedupStore(self.cache)
        self.callbacks: dict[str, Callback] = {}
        self.clients: dict[str, Client] = {}
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

    def run_handler(self, app: Flask, message: Message) -> Reply | Response | None:
        """Signal ``message`` and run the first handler that accepts it.

        A handler that raises is logged and signalled; the result is then ``None``
        (the callback answers ``success``).
        """
        account = message.account
        if signals.message_received.receivers:
            signals.message_received.send(app, message=message, account=account)
        signals.send_type_signals(app, message.name, account, message=message)
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
            "handler for %s on account %r failed", message.name, message.account, exc_info=exc
        )
        if signals.handler_failed.receivers:
            signals.handler_failed.send(
                app, message=message, exception=exc, account=message.account
            )
