"""Per-app state of the extension, kept in ``app.extensions["wechat"]``.

A plain container, given everything at construction: the accounts, the shared
store and what sits on it (dedup), one API client per account, the callbacks,
the handler registry, the task runner and registry, and the relay. It runs
nothing itself: handling is :mod:`flask_wechat.handling`, callbacks are
:mod:`flask_wechat.callback`.
"""

from __future__ import annotations

import typing as t
import weakref

from . import signals
from .api import Client
from .dedup import Deduplicator

if t.TYPE_CHECKING:
    import concurrent.futures

    from flask import Flask

    from .callback import Callback
    from .config import Account, AppSettings
    from .dispatch import Registry
    from .relay import Relay
    from .store import Store
    from .tasks import TaskRegistry, TaskRunner


class WeChatState:
    """Everything one app needs to serve its WeChat accounts."""

    def __init__(
        self,
        app: Flask,
        *,
        accounts: dict[str, Account],
        settings: AppSettings,
        store: Store,
        handlers: Registry,
        task_runner: TaskRunner,
        tasks: TaskRegistry,
        handler_pool: concurrent.futures.ThreadPoolExecutor | None = None,
        relay: Relay | None = None,
        blueprint_name: str = "wechat",
    ) -> None:
        #: the configured accounts, by name.
        self.accounts = accounts
        #: the extension-wide settings.
        self.settings = settings
        #: the shared store (memory, Redis, or another flask-caching back-end).
        self.store = store
        #: claims callbacks and remembers answers, in :attr:`store`.
        self.dedup = Deduplicator(store)
        #: the handlers (shared by every app of one ``WeChat()``).
        self.handlers = handlers
        #: where late work goes, and what performs each task.
        self.task_runner = task_runner
        self.tasks = tasks
        #: runs handlers when ``WeChat(handler_threads=N)``; ``None``: inline.
        self.handler_pool = handler_pool
        #: forwards messages to the customer-service relay (7moor).
        self.relay = relay
        #: the name of the blueprint the callbacks are mounted on.
        self.blueprint_name = blueprint_name
        ref = weakref.ref(app)
        #: one API client per account.
        self.clients = {
            name: Client(
                account,
                store,
                stable_token=settings.stable_token,
                on_token_refresh=_refreshed(ref, name),
                sender=ref,
            )
            for name, account in accounts.items()
        }
        #: one callback endpoint per account with a callback URL.
        self.callbacks: dict[str, Callback] = {
            name: account.platform.callback(self, account)
            for name, account in accounts.items()
            if account.callback_url is not None
        }

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

    def client(self, name: str | None = None) -> Client:
        """The API client of account ``name``."""
        return self.clients[self.account(name).name]


def _refreshed(ref: weakref.ref[Flask], account: str) -> t.Callable[[], None]:
    def refreshed() -> None:
        sender = ref()
        if sender is not None and signals.access_token_refreshed.receivers:
            signals.access_token_refreshed.send(sender, account=account)

    return refreshed
