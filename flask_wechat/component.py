"""The third-party platform (开放平台 "component") and the accounts that authorize it.

A site that serves many Official Accounts and Mini Programs through a WeChat
Open Platform third-party platform configures the platform once
(``WECHAT_COMPONENT``); the accounts that authorize it (authorizers) come and go
at runtime. This module holds what the site keeps about them and how it calls
WeChat for them:

* the ``component_verify_ticket`` WeChat pushes every 10 minutes, kept in the
  shared store without expiry and used until a newer one comes;
* the ``component_access_token`` (``api_component_token`` with that ticket),
  shared and refreshed by one process at a time like every access_token
  (:mod:`flask_wechat.api.tokens`);
* each authorizer's refresh token, durable data in the authorizer store
  (:class:`AuthorizerStore`), rotated and saved on every refresh; a lost or
  stale one (61023) is recovered from ``api_get_authorizer_list``;
* each authorizer as an :class:`~flask_wechat.config.Account` of its own, built
  on first use and kept in a bounded LRU, with its API client
  (:class:`AuthorizerClient`) on the ``authorizer_access_token``.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import logging
import threading
import time
import typing as t
import weakref
from urllib.parse import urlencode

from . import signals
from .api import Client
from .api.tokens import CredentialStore
from .config import Account
from .crypto import MessageCrypto
from .errors import TOKEN_ERRCODES, APIError, ConfigError, NotAuthorized, TokenUnavailable

if t.TYPE_CHECKING:
    import requests
    from flask import Flask

    from .config import ComponentSettings
    from .platform import Platform
    from .store import Store

logger = logging.getLogger("flask_wechat")

#: errcode 61023: "refresh_token is invalid" — the authorizer refresh token sent
#: is not the current one (lost, or rotated by another refresh).
INVALID_REFRESH_TOKEN = 61023

#: errcode 61003: "component is not authorized by this account".
NOT_AUTHORIZED = 61003

#: The AppIDs WeChat's 全网发布 (release) checks write from: its test Official
#: Account and its test Mini Program. The built-in responder answers only them.
RELEASE_TEST_APP_IDS = frozenset({"wx570bc396a51b8ff8", "wxd101a85aa106f53e"})

#: Where the 授权页 lives on WeChat (the API host serves none).
LOGIN_PAGE_HOST = "https://mp.weixin.qq.com"
MOBILE_PAGE_URL = "https://open.weixin.qq.com/wxaopen/safe/bindcomponent"
WECHAT_API = "https://api.weixin.qq.com"

#: ``api_get_authorizer_list`` pages hold at most this many authorizers.
_LIST_PAGE = 500

K = t.TypeVar("K")
V = t.TypeVar("V")


class BoundedCache(t.Generic[K, V]):
    """A thread-safe LRU of at most ``size`` entries (per-authorizer objects)."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._entries: collections.OrderedDict[K, V] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        # Without the lock: OrderedDict's get and move_to_end are each atomic
        # (C code under the GIL); an entry evicted in between is simply missed.
        entries = self._entries
        value = entries.get(key)
        if value is not None:
            try:  # noqa: SIM105 - on every message: cheaper than contextlib.suppress
                entries.move_to_end(key)
            except KeyError:
                pass
        return value

    def put(self, key: K, value: V) -> V:
        """Keep ``value`` (or the one another thread put first); returns the kept one."""
        with self._lock:
            kept = self._entries.setdefault(key, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
            return kept

    def pop(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


@dataclasses.dataclass(frozen=True)
class Authorizer:
    """An account that authorized the platform: its AppID and what it granted."""

    app_id: str
    #: the granted ``funcscope_category`` ids (权限集).
    permissions: tuple[int, ...] = ()
    #: ``"mp"`` (Official Account) or ``"miniprogram"``.
    kind: str = "mp"


class AuthorizerStore(t.Protocol):
    """Where authorizer records (their refresh tokens) live: durable data.

    A record is a dict: ``refresh_token``, ``permissions``, ``kind``,
    ``authorized_at``. Any object with these four methods will do (see the
    SQLAlchemy recipe in docs/component.rst).
    """

    def get(self, app_id: str) -> dict[str, t.Any] | None: ...

    def set(self, app_id: str, data: dict[str, t.Any]) -> None: ...

    def delete(self, app_id: str) -> None: ...

    def __iter__(self) -> t.Iterator[str]: ...


class StoreAuthorizers:
    """The default authorizer store: the shared store, without expiry.

    Durable as far as the store is: Redis with persistence keeps authorizers
    across restarts; the in-process store only for the life of the process.
    """

    def __init__(self, store: Store, component_app_id: str) -> None:
        self.store = store
        self.prefix = f"component:{component_app_id}:authorizer:"

    def get(self, app_id: str) -> dict[str, t.Any] | None:
        value = self.store.get(self.prefix + app_id)
        return value if isinstance(value, dict) else None

    def set(self, app_id: str, data: dict[str, t.Any]) -> None:
        self.store.keep(self.prefix + app_id, data)

    def delete(self, app_id: str) -> None:
        self.store.delete(self.prefix + app_id)

    def __iter__(self) -> t.Iterator[str]:
        start = len(self.prefix)
        return (key[start:] for key in self.store.scan(self.prefix))


@dataclasses.dataclass(frozen=True)
class AuthorizerAccount(Account):
    """An authorizer as an account: messages come encrypted with the platform's
    Token, EncodingAESKey and AppID; the API is called on its own token."""

    component_app_id: str = ""

    @property
    def receive_id(self) -> str:
        """Messages to authorizers carry the platform's AppID, not the authorizer's."""
        return self.component_app_id


class AuthorizerClient(Client):
    """The API client of an authorizer, on its ``authorizer_access_token``."""

    def __init__(self, account: Account, store: Store, component: Component, **options: t.Any):
        super().__init__(account, store, **options)
        self.component = component
        # Keyed by the platform and the authorizer: a site's own account that also
        # authorized the platform has two tokens, both valid.
        self._prefix = f"component:{component.app_id}:authorizer:{account.app_id}"
        self.tokens = CredentialStore(
            store,
            self._prefix + ":access_token",
            self._fetch_access_token,
            on_refresh=options.get("on_token_refresh"),
        )

    def _fetch_access_token(self, force: bool) -> tuple[str, float]:
        return self.component.fetch_authorizer_token(self.account.app_id or "")

    def app_credentials(self) -> dict[str, t.Any]:
        # The site holds no AppSecret of an authorizer; codes of its web sign-in
        # and wx.login are traded through the platform, which is not offered here.
        raise ConfigError(
            "WECHAT_COMPONENT",
            f"{self.account.app_id} is an authorizer: its sign-in codes are not traded "
            "with an AppSecret (web OAuth and wx.login on behalf of authorizers are "
            "not supported)",
        )


class Component:
    """The site's third-party platform (``wechat.component``).

    Built once per app by the extension; see the module docstring.
    """

    def __init__(
        self,
        app: Flask,
        settings: ComponentSettings,
        store: Store,
        *,
        platforms: t.Mapping[str, Platform],
        shared: t.Mapping[str, t.Any],
        authorizer_store: AuthorizerStore | None = None,
        cache_size: int = 10_000,
        client_cache_size: int = 1_000,
        session: requests.Session | None = None,
    ) -> None:
        self.settings = settings
        self.app_id = settings.app_id
        self.store = store
        #: the authorizers' records (refresh tokens): durable data.
        self.authorizer_store: AuthorizerStore = authorizer_store or StoreAuthorizers(
            store, settings.app_id
        )
        self.platforms = platforms
        self._app = weakref.ref(app)
        self._shared = dict(shared)
        api_base_url = str(self._shared.get("api_base_url") or WECHAT_API)
        self._shared["api_base_url"] = api_base_url
        #: the platform itself as an account: receives the ticket and
        #: authorization events at ``auth_url``; its client does the HTTP.
        self.platform_account = Account(
            name="component",
            platform=platforms["mp"],
            kind="mp",
            token=settings.token,
            app_id=settings.app_id,
            app_secret=settings.app_secret,
            encoding_aes_key=settings.encoding_aes_key,
            callback_url=settings.auth_url,
            **self._shared,
        )
        self.http = Client(self.platform_account, store, session=session)
        #: opens and seals every message of every authorizer (they all carry the
        #: platform's AppID): one for all, not one per authorizer.
        self.crypto = MessageCrypto(settings.token, settings.encoding_aes_key, settings.app_id)
        self._ticket_key = f"component:{self.app_id}:ticket"
        secret_id = hashlib.sha256(settings.app_secret.encode()).hexdigest()[:12]
        self.tokens = CredentialStore(
            store,
            f"component:{self.app_id}:{secret_id}:component_access_token",
            self._fetch_component_token,
        )
        #: how many authorizers' objects a process keeps (an LRU).
        self.cache_size = cache_size
        #: called with an AppID whose cached objects must go (state's callbacks).
        self.on_forget: list[t.Callable[[str], None]] = []
        #: this process's authorizer accounts, built on first use (an LRU).
        self.cache: BoundedCache[str, AuthorizerAccount] = BoundedCache(cache_size)
        self._clients: BoundedCache[str, AuthorizerClient] = BoundedCache(client_cache_size)
        # one HTTP session (and connection pool) for every authorizer's client
        self._session = self.http.session
        self.login_page = (
            LOGIN_PAGE_HOST if api_base_url.rstrip("/") == WECHAT_API else api_base_url
        )

    def __repr__(self) -> str:
        return f"<Component {self.app_id}>"

    # -- the ticket and the component_access_token ------------------------------------

    def receive_ticket(self, ticket: str) -> None:
        """Keep a pushed ``component_verify_ticket`` (it replaces the previous one)."""
        self.store.keep(self._ticket_key, {"ticket": ticket, "received_at": time.time()})
        app = self._app()
        if app is not None and signals.component_ticket_received.receivers:
            signals.component_ticket_received.send(app)

    def _ticket(self) -> dict[str, t.Any] | None:
        value = self.store.get(self._ticket_key)
        return value if isinstance(value, dict) and value.get("ticket") else None

    def ticket_age(self) -> float | None:
        """Seconds since the latest ticket came, or ``None`` when none has."""
        ticket = self._ticket()
        return None if ticket is None else max(0.0, time.time() - float(ticket["received_at"]))

    def _fetch_component_token(self, force: bool) -> tuple[str, float]:
        ticket = self._ticket()
        if ticket is None:
            raise TokenUnavailable(
                "no component_verify_ticket yet: WeChat pushes one to the platform's "
                f"auth_url ({self.settings.auth_url}) every 10 minutes once the platform "
                "is set up; until then there is no component_access_token"
            )
        body = {
            "component_appid": self.app_id,
            "component_appsecret": self.settings.app_secret,
            "component_verify_ticket": ticket["ticket"],
        }
        data = self.http.post(
            "/cgi-bin/component/api_component_token", body, token=False, idempotent=True
        )
        return str(data["component_access_token"]), float(data.get("expires_in", 7200))

    @property
    def access_token(self) -> str:
        """The ``component_access_token``, from the shared store or freshly fetched."""
        return self.tokens.get()

    def call(self, path: str, body: dict[str, t.Any], *, idempotent: bool = True) -> t.Any:
        """POST ``body`` to a component endpoint with the ``component_access_token``;
        a token WeChat refuses (40001/42001) is refreshed and the call made once more."""
        token = self.access_token
        try:
            return self.http.post(
                path,
                body,
                params={"component_access_token": token},
                token=False,
                idempotent=idempotent,
            )
        except APIError as exc:
            if exc.errcode not in TOKEN_ERRCODES:
                raise
        token = self.tokens.refresh(failed=token)
        return self.http.post(
            path,
            body,
            params={"component_access_token": token},
            token=False,
            idempotent=idempotent,
        )

    # -- authorization -------------------------------------------------------------------

    def pre_auth_code(self) -> str:
        """A fresh ``pre_auth_code`` (used once, by one 授权页 visit)."""
        data = self.call(
            "/cgi-bin/component/api_create_preauthcode", {"component_appid": self.app_id}
        )
        return str(data["pre_auth_code"])

    def authorize_url(
        self,
        redirect_uri: str,
        *,
        auth_type: int = 3,
        biz_appid: str | None = None,
        mobile: bool = False,
    ) -> str:
        """The 授权页 URL where an account authorizes the platform; WeChat sends
        the browser back to ``redirect_uri`` with ``auth_code`` and ``expires_in``.

        :param auth_type: 1 Official Accounts only, 2 Mini Programs only, 3 both.
        :param biz_appid: only this account may authorize.
        :param mobile: the page for WeChat on a phone (``bindcomponent``).
        """
        params: dict[str, t.Any] = {
            "component_appid": self.app_id,
            "pre_auth_code": self.pre_auth_code(),
            "redirect_uri": redirect_uri,
            "auth_type": auth_type,
        }
        if biz_appid:
            params["biz_appid"] = biz_appid
        if mobile:
            params = {"action": "bindcomponent", "no_scan": 1, **params}
            base = (
                MOBILE_PAGE_URL
                if self.login_page == LOGIN_PAGE_HOST
                else self.login_page + "/wxaopen/safe/bindcomponent"
            )
            return f"{base}?{urlencode(params)}#wechat_redirect"
        return f"{self.login_page}/cgi-bin/componentloginpage?{urlencode(params)}"

    def finish_authorization(self, auth_code: str) -> Authorizer:
        """Trade the ``auth_code`` of the 授权页's redirect (or of an
        ``authorized`` push) for the authorizer, and save its refresh token."""
        data = self.call(
            "/cgi-bin/component/api_query_auth",
            {"component_appid": self.app_id, "authorization_code": auth_code},
            idempotent=False,  # a code works once
        )
        info = data.get("authorization_info") or {}
        app_id = str(info["authorizer_appid"])
        previous = self.authorizer_store.get(app_id)
        record = {
            "refresh_token": str(info["authorizer_refresh_token"]),
            "permissions": _permissions(info),
            "kind": (previous or {}).get("kind", "mp"),
            "authorized_at": time.time(),
        }
        try:
            details = self.call(
                "/cgi-bin/component/api_get_authorizer_info",
                {"component_appid": self.app_id, "authorizer_appid": app_id},
            )
            record["kind"] = _kind(details)
        except APIError as exc:
            logger.warning("could not read the details of authorizer %s: %s", app_id, exc)
        self.authorizer_store.set(app_id, record)
        self.forget(app_id)
        return _authorizer(app_id, record)

    def refresh_authorizer(self, app_id: str) -> Authorizer:
        """Read an authorizer's grant afresh (``api_get_authorizer_info``) and save
        it: what an ``authorized``/``updateauthorized`` push sets off."""
        data = self.call(
            "/cgi-bin/component/api_get_authorizer_info",
            {"component_appid": self.app_id, "authorizer_appid": app_id},
        )
        info = data.get("authorization_info") or {}
        record = {
            "refresh_token": str(info.get("authorizer_refresh_token") or ""),
            "permissions": _permissions(info),
            "kind": _kind(data),
            "authorized_at": time.time(),
        }
        if not record["refresh_token"]:
            record["refresh_token"] = self._listed_refresh_token(app_id) or ""
        self.authorizer_store.set(app_id, record)
        self.forget(app_id)
        return _authorizer(app_id, record)

    def remove_authorizer(self, app_id: str) -> None:
        """Forget an authorizer that revoked the authorization."""
        self.authorizer_store.delete(app_id)
        self.forget(app_id)
        self.store.delete(f"component:{self.app_id}:authorizer:{app_id}:access_token")

    def forget(self, app_id: str) -> None:
        """Drop this process's cached objects of ``app_id``."""
        self.cache.pop(app_id)
        self._clients.pop(app_id)
        for forget in self.on_forget:
            forget(app_id)

    def authorizers(self) -> t.Iterator[str]:
        """The AppIDs of every current authorizer."""
        return iter(self.authorizer_store)

    def authorizer(self, app_id: str) -> Authorizer | None:
        """What the site knows of ``app_id`` (no token), or ``None``."""
        record = self.authorizer_store.get(app_id)
        return None if record is None else _authorizer(app_id, record)

    def authorizer_list(self) -> t.Iterator[dict[str, t.Any]]:
        """Every authorizer as WeChat lists it (``api_get_authorizer_list``, paged)."""
        offset = 0
        while True:
            data = self.call(
                "/cgi-bin/component/api_get_authorizer_list",
                {"component_appid": self.app_id, "offset": offset, "count": _LIST_PAGE},
            )
            page = data.get("list") or []
            yield from page
            offset += len(page)
            if not page or offset >= int(data.get("total_count") or 0):
                return

    def _listed_refresh_token(self, app_id: str) -> str | None:
        for entry in self.authorizer_list():
            if entry.get("authorizer_appid") == app_id:
                return str(entry.get("refresh_token") or "") or None
        return None

    # -- authorizer tokens -------------------------------------------------------------------

    def fetch_authorizer_token(self, app_id: str) -> tuple[str, float]:
        """``(authorizer_access_token, expires_in)`` from ``api_authorizer_token``,
        saving the refresh token WeChat returns. Called under the authorizer's
        refresh lock (:class:`~flask_wechat.api.tokens.CredentialStore`), so one
        process at a time rotates it."""
        record = self.authorizer_store.get(app_id)
        if record is None or not record.get("refresh_token"):
            record = self._recover(app_id, record)
        try:
            data = self._authorizer_token(app_id, str(record["refresh_token"]))
        except APIError as exc:
            if exc.errcode not in (INVALID_REFRESH_TOKEN, NOT_AUTHORIZED):
                raise
            logger.warning(
                "the refresh token of %s is refused (%d); recovering it", app_id, exc.errcode
            )
            record = self._recover(app_id, record)
            data = self._authorizer_token(app_id, str(record["refresh_token"]))
        rotated = str(data.get("authorizer_refresh_token") or record["refresh_token"])
        if rotated != record["refresh_token"]:
            self.authorizer_store.set(app_id, {**record, "refresh_token": rotated})
        return str(data["authorizer_access_token"]), float(data.get("expires_in", 7200))

    def _authorizer_token(self, app_id: str, refresh_token: str) -> t.Any:
        return self.call(
            "/cgi-bin/component/api_authorizer_token",
            {
                "component_appid": self.app_id,
                "authorizer_appid": app_id,
                "authorizer_refresh_token": refresh_token,
            },
        )

    def _recover(self, app_id: str, record: dict[str, t.Any] | None) -> dict[str, t.Any]:
        """The refresh token from WeChat's list of authorizers; an account not
        listed revoked the authorization: its record goes, NotAuthorized."""
        refresh_token = self._listed_refresh_token(app_id)
        if refresh_token is None:
            self.remove_authorizer(app_id)
            raise NotAuthorized(app_id)
        record = {
            "permissions": [],
            "kind": "mp",
            "authorized_at": time.time(),
            **(record or {}),
            "refresh_token": refresh_token,
        }
        self.authorizer_store.set(app_id, record)
        return record

    # -- authorizers as accounts -------------------------------------------------------------

    def account(self, app_id: str) -> AuthorizerAccount | None:
        """``app_id`` as an account when it has authorized the platform (or is one
        of WeChat's release-test accounts, with ``release_test``), else ``None``."""
        account = self.cache.get(app_id)
        if account is not None:
            return account
        record = self.authorizer_store.get(app_id)
        if record is None:
            if not (self.settings.release_test and app_id in RELEASE_TEST_APP_IDS):
                return None
            record = {}
        return self.cache.put(app_id, self.build_account(app_id, str(record.get("kind"))))

    def build_account(self, app_id: str, kind: str = "mp") -> AuthorizerAccount:
        """The account of authorizer ``app_id`` (an Official Account unless its
        record says it is another kind the site knows)."""
        platform = self.platforms.get(kind) or self.platforms["mp"]
        return AuthorizerAccount(
            name=app_id,
            platform=platform,
            kind=platform.kind,
            token=self.settings.token,
            app_id=app_id,
            encoding_aes_key=self.settings.encoding_aes_key,
            callback_url=self.settings.callback_url.replace("<app_id>", app_id),
            component_app_id=self.app_id,
            **self._shared,
        )

    def client(self, app_id: str) -> AuthorizerClient:
        """The API client of authorizer ``app_id``.

        :raises NotAuthorized: ``app_id`` has not authorized the platform (or revoked it).
        """
        client = self._clients.get(app_id)
        if client is not None:
            return client
        account = self.account(app_id)
        if account is None:
            self._recover(app_id, None)  # a record lost from the store?
            account = self.account(app_id)
            if account is None:  # pragma: no cover - _recover saved it
                raise NotAuthorized(app_id)
        app = self._app()
        refreshed = (
            None if app is None else signals.token_refresh_reporter(weakref.ref(app), app_id)
        )
        return self._clients.put(
            app_id,
            AuthorizerClient(
                account, self.store, self, session=self._session, on_token_refresh=refreshed
            ),
        )


def _permissions(info: t.Mapping[str, t.Any]) -> list[int]:
    ids = []
    for entry in info.get("func_info") or ():
        category = entry.get("funcscope_category") if isinstance(entry, dict) else None
        if isinstance(category, dict) and isinstance(category.get("id"), int):
            ids.append(int(category["id"]))
    return ids


def _kind(details: t.Mapping[str, t.Any]) -> str:
    """``"miniprogram"`` when ``api_get_authorizer_info`` describes a Mini Program."""
    info = details.get("authorizer_info") or {}
    return "miniprogram" if isinstance(info, dict) and "MiniProgramInfo" in info else "mp"


def _authorizer(app_id: str, record: t.Mapping[str, t.Any]) -> Authorizer:
    permissions = tuple(int(p) for p in record.get("permissions") or ())
    return Authorizer(app_id, permissions, str(record.get("kind") or "mp"))
