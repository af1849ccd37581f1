"""Per-app state of the extension, kept in ``app.extensions["wechat"]``.

A plain container, given everything at construction: the accounts, the shared
store and what sits on it (dedup), one API client per account, the callbacks,
the handler registry, the task runner and registry, and the relay. It runs
nothing itself: handling is :mod:`flask_wechat.handling`, callbacks are
:mod:`flask_wechat.callback`.
"""

from __future__ import annotations

import logging
import threading
import typing as t
import weakref

from . import signals
from .api import Client
from .component import AuthorizerAccount, BoundedCache
from .crypto import MessageCrypto
from .dedup import Deduplicator
from .delivery import AccountDelivery, Forwarder

logger = logging.getLogger("flask_wechat")

if t.TYPE_CHECKING:
    from flask import Flask, Response

    from .component import Component
    from .config import Account, AppSettings
    from .dispatch import Registry
    from .durable import DurableStore
    from .handler_threads import HandlerThreads
    from .store import Store
    from .tasks import TaskRegistry, TaskRunner


class Endpoint(t.Protocol):
    """An account's callback endpoint (:class:`flask_wechat.callback.Callback`)."""

    def get(self) -> Response: ...

    def post(self) -> Response: ...


class WeChatState:
    """Everything one app needs to serve its WeChat accounts."""

    def __init__(
        self,
        app: Flask,
        *,
        accounts: dict[str, Account],
        settings: AppSettings,
        store: Store,
        durable: DurableStore,
        handlers: Registry,
        task_runner: TaskRunner,
        tasks: TaskRegistry,
        handler_threads: HandlerThreads | None = None,
        relay: Forwarder | None = None,
        blueprint_name: str = "wechat",
        component: Component | None = None,
        authorizer_callback: t.Callable[[WeChatState, Account], Endpoint] | None = None,
    ) -> None:
        #: the configured accounts, by name.
        self.accounts = accounts
        #: the extension-wide settings.
        self.settings = settings
        #: the shared store (memory, Redis, or another flask-caching back-end).
        self.store = store
        #: claims callbacks and remembers answers, in :attr:`store`.
        self.dedup = Deduplicator(store)
        #: what must outlive a restart (the 微信客服 cursors).
        self.durable = durable
        #: the handlers (shared by every app of one ``WeChat()``).
        self.handlers = handlers
        #: where late work goes, and what performs each task.
        self.task_runner = task_runner
        self.tasks = tasks
        #: the threads handlers run on, so callbacks answer by the reply deadline;
        #: ``None`` (``WeChat(handler_threads=0)``): in the request's thread.
        self.handler_threads = handler_threads
        #: forwards messages to the customer-service relay (7moor).
        self.relay = relay
        #: the name of the blueprint the callbacks are mounted on.
        self.blueprint_name = blueprint_name
        self._app = weakref.ref(app)
        #: the API client and the delivery of each configured account, built on first use.
        self.clients: dict[str, Client] = {}
        self.deliveries: dict[str, AccountDelivery] = {}
        self._clients_lock = threading.Lock()
        #: one callback endpoint per account with a callback URL (filled by the
        #: blueprint that mounts them).
        self.callbacks: dict[str, Endpoint] = {}
        #: the third-party platform (``WECHAT_COMPONENT``), whose authorizers are
        #: accounts too, looked up at runtime; ``None`` without one.
        self.component = component
        # Authorizers' callbacks, built on first use (at most as many as the
        # component keeps accounts of).
        self._authorizer_callback = authorizer_callback
        self._authorizer_callbacks: BoundedCache[str, Endpoint] = BoundedCache(
            component.cache_size if component is not None else 1
        )
        if component is not None:
            component.on_forget.append(self._authorizer_callbacks.pop)

    def account(self, name: str | None = None) -> Account:
        """The account called ``name``; with ``None``, the only or ``"default"`` one."""
        if name is None:
            if "default" in self.accounts:
                return self.accounts["default"]
            if len(self.accounts) == 1:
                return next(iter(self.accounts.values()))
            if not self.accounts:
                raise LookupError(
                    "this site has no WeChat account of its own; name an authorizer's AppID"
                )
            raise LookupError(
                "several WeChat accounts are configured; name one: "
                + ", ".join(sorted(self.accounts))
            )
        found = self.accounts.get(name)
        if found is not None:
            return found
        authorizer = self._authorizer(name)
        if authorizer is not None:
            return authorizer
        raise LookupError(f"no WeChat account named {name!r}")

    def _authorizer(self, app_id: str) -> Account | None:
        """Authorizer ``app_id`` as an account, or ``None``; with the authorizer
        store down, an account built for this call alone (messages keep being
        served: only WeChat can sign them)."""
        component = self.component
        if component is None:
            return None
        try:
            return component.account(app_id)
        except Exception as exc:
            logger.warning(
                "the authorizer store did not answer (%s); serving %r unchecked",
                type(exc).__name__,
                app_id[:32],
            )
            return component.build_account(app_id)

    def _cached_authorizer(self, app_id: str) -> Account | None:
        return None if self.component is None else self.component.cache.get(app_id)

    def client(self, name: str | None = None) -> Client:
        """The API client of account ``name`` (an authorizer's AppID, too)."""
        account = self.account(name)
        client = self.clients.get(account.name)
        if client is not None:
            return client
        if account.name not in self.accounts and self.component is not None:
            return self.component.client(account.name)
        with self._clients_lock:
            client = self.clients.get(account.name)
            if client is None:
                client = self.clients[account.name] = Client(
                    account,
                    self.store,
                    stable_token=self.settings.stable_token,
                    on_token_refresh=signals.token_refresh_reporter(self._app, account.name),
                    sender=self._app,
                )
        return client

    def delivery(self, name: str | None = None) -> AccountDelivery:
        """Where the answers of account ``name`` go (an authorizer's AppID, too)."""
        return self.delivery_for(self.account(name))

    def delivery_for(self, account: Account) -> AccountDelivery:
        """The :class:`~flask_wechat.delivery.AccountDelivery` of ``account``: kept for a
        configured account, built for the call otherwise (an authorizer's is cheap:
        it shares the third-party platform's crypto)."""
        delivery = self.deliveries.get(account.name)
        if delivery is not None and delivery.account is account:
            return delivery
        if isinstance(account, AuthorizerAccount) and self.component is not None:
            return AccountDelivery(self, account, self.component.crypto)
        crypto = None
        if account.token and account.encoding_aes_key:
            crypto = MessageCrypto(account.token, account.encoding_aes_key, account.receive_id)
        delivery = AccountDelivery(self, account, crypto)
        if self.accounts.get(account.name) is account:
            with self._clients_lock:
                delivery = self.deliveries.setdefault(account.name, delivery)
        return delivery

    def authorizer_callback(self, app_id: str) -> Endpoint:
        """The callback endpoint of authorizer ``app_id``, built on first use.

        :raises LookupError: ``app_id`` has not authorized the platform.
        """
        callback = self._authorizer_callbacks.get(app_id)
        if callback is not None:
            return callback
        if self._authorizer_callback is None:
            raise LookupError("this app has no third-party platform")
        account = self._authorizer(app_id)
        if account is None:
            raise LookupError(f"{app_id!r} has not authorized this third-party platform")
        if account is not self._cached_authorizer(app_id):  # built for this request alone
            return self._authorizer_callback(self, account)
        return self._authorizer_callbacks.put(app_id, self._authorizer_callback(self, account))
