"""The WeChat API client: HTTP, errcodes, retries, and the shared access_token."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import typing as t
from urllib.parse import urlsplit

import requests
from flask import current_app, has_app_context
from urllib3.exceptions import NewConnectionError

from .. import observe
from ..errors import TOKEN_ERRCODES, ConfigError, TransportError, api_error, parse_rid
from .base import JSON
from .customer_service import CustomerServiceAPI
from .drafts import DraftAPI, FreePublishAPI
from .kf import KfAPI
from .material import MaterialAPI
from .media import MediaAPI
from .menus import MenuAPI
from .miniprogram import MiniProgramAPI
from .oauth import OAuthAPI
from .operations import OperationsAPI
from .profiles import PROFILES, APIProfile
from .qrcode import QRCodeAPI
from .subscribe import SubscribeAPI
from .tags import TagAPI
from .templates import TemplateAPI
from .tokens import CredentialStore
from .users import UserAPI
from .work import WorkAPI

if t.TYPE_CHECKING:
    from flask import Flask

    from ..config import Account
    from ..platform import Platform
    from ..store import Store

logger = logging.getLogger("flask_wechat")

#: errcode -1: "系统繁忙，此时请开发者稍候再试" — nothing was done; safe to retry.
SYSTEM_BUSY = -1


class _RedactSecrets(logging.Filter):
    """urllib3 logs request URLs at DEBUG; WeChat puts secrets in the query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(_redact(a) if isinstance(a, str) else a for a in record.args)
        return True


#: query parameters whose values are secrets.
_SECRET_NAMES = ("access_token=", "secret=", "corpsecret=", "js_code=", "code=", "refresh_token=")


def _redact(text: str) -> str:
    for name in _SECRET_NAMES:
        start = 0
        while (found := text.find(name, start)) != -1:
            value_start = found + len(name)
            end = value_start
            while end < len(text) and text[end] not in "& \"'":
                end += 1
            text = text[:value_start] + "***" + text[end:]
            start = value_start + 3
    return text


_redaction = _RedactSecrets()
logging.getLogger("urllib3.connectionpool").addFilter(_redaction)


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether the request surely never reached WeChat (so even a send may be retried)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


class Client:
    """Calls the WeChat API for one account.

    ``client.get(path, params)`` and ``client.post(path, json)`` return the decoded
    JSON; a non-zero ``errcode`` raises :class:`~flask_wechat.errors.APIError`
    (or a subclass for the common ones). The access_token is added to every call,
    taken from the shared cache (see :mod:`flask_wechat.api.tokens`); a call that
    WeChat answers 40001/40014/42001 refreshes it once and is retried once.
    """

    def __init__(
        self,
        account: Account,
        store: Store,
        *,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = (3.05, 10.0),
        retries: int = 2,
        backoff: float = 0.2,
        stable_token: bool = False,
        on_token_refresh: t.Callable[[], None] | None = None,
        profile: APIProfile | None = None,
        sender: t.Callable[[], Flask | None] | None = None,
    ) -> None:
        self.account = account
        #: the app the ``api_called`` signal is sent for (a weak reference to it);
        #: without one, the current app when there is one.
        self.sender = sender
        #: the account's kind of WeChat app.
        self.platform: Platform = account.platform
        #: how this account uses the API (token, tickets, sends); by default its kind's.
        self.profile: APIProfile = profile or PROFILES[account.kind]
        self.base_url = account.api_base_url
        self.session = session or requests.Session()
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        #: use ``/cgi-bin/stable_token`` instead of ``/cgi-bin/token``.
        self.stable_token = stable_token
        # Identify the credential by AppID and a digest of the secret: WeCom apps
        # of one corp share the CorpID but each has its own Secret and token.
        secret_id = hashlib.sha256((account.app_secret or "").encode()).hexdigest()[:12]
        self._prefix = f"{account.kind}:{account.app_id}:{secret_id}"
        self._store = store
        self.tokens = CredentialStore(
            store,
            self._prefix + ":access_token",
            self._fetch_access_token,
            on_refresh=on_token_refresh,
        )
        self._tickets: dict[str, CredentialStore] = {}
        # The domain methods, one object per API module.
        self.customer_service = CustomerServiceAPI(self)
        self.templates = TemplateAPI(self)
        self.menus = MenuAPI(self)
        self.tags = TagAPI(self)
        self.users = UserAPI(self)
        self.media = MediaAPI(self)
        self.oauth = OAuthAPI(self)
        self.miniprogram = MiniProgramAPI(self)
        self.work = WorkAPI(self)
        self.subscribe = SubscribeAPI(self)
        self.qrcode = QRCodeAPI(self)
        self.kf = KfAPI(self)
        self.material = MaterialAPI(self)
        self.drafts = DraftAPI(self)
        self.freepublish = FreePublishAPI(self)
        self.operations = OperationsAPI(self)

    # -- credentials ----------------------------------------------------------

    @property
    def access_token(self) -> str:
        """The account's access_token, from the shared cache or freshly fetched."""
        return self.tokens.get()

    def refresh_access_token(self, force: bool = True) -> str:
        """Fetch a new access_token now (``flask wechat token --refresh``)."""
        return self.tokens.refresh(force=force)

    @property
    def jsapi_ticket(self) -> str:
        """The JS-SDK ``jsapi_ticket``, shared and refreshed like the access_token."""
        return self.ticket("jsapi")

    def ticket(self, ticket_type: str = "jsapi") -> str:
        """A JS-SDK ticket (``"jsapi"``; WeCom also ``"agent_config"``), shared and
        refreshed like the access_token."""
        return self.ticket_store(ticket_type).get()

    def ticket_store(self, ticket_type: str = "jsapi") -> CredentialStore:
        """The shared store of one kind of ticket."""
        store = self._tickets.get(ticket_type)
        if store is None:

            def fetch(force: bool) -> tuple[str, float]:
                credential = f"{ticket_type}_ticket"
                with observe.unit(
                    self.app(), "token", account=self.account.name, credential=credential
                ):
                    return self.profile.fetch_ticket(self, ticket_type)

            store = self._tickets.setdefault(
                ticket_type,
                CredentialStore(self._store, f"{self._prefix}:{ticket_type}_ticket", fetch),
            )
        return store

    @property
    def tickets(self) -> CredentialStore:
        """The shared store of the ``jsapi_ticket``."""
        return self.ticket_store("jsapi")

    def _fetch_access_token(self, force: bool) -> tuple[str, float]:
        account = self.account
        for value, name in ((account.app_id, "app_id"), (account.app_secret, "app_secret")):
            if not value:
                raise ConfigError(
                    f"WECHAT_{name.upper()}",
                    f"account {account.name!r} needs its {self.platform.id_name} and "
                    f"{self.platform.secret_name} to call the WeChat API",
                )
        with observe.unit(self.app(), "token", account=account.name, credential="access_token"):
            return self.profile.fetch_access_token(self, force)

    def app(self) -> Flask | None:
        """The Flask app this client calls for (its ``sender``, or the current app)."""
        if self.sender is not None:
            return self.sender()
        if has_app_context():
            return t.cast("Flask", current_app._get_current_object())  # type: ignore[attr-defined]
        return None

    def trade_code(self, path: str, name: str, code: str) -> JSON:
        """Trade a one-time login ``code`` (sent as ``name``) at ``path``, signed with
        the AppID and AppSecret instead of the access_token.

        A code works once, so the call is never repeated after a timeout (a repeat
        could only answer "code been used", 40163).
        """
        params = self.app_credentials()
        params[name] = code
        params["grant_type"] = "authorization_code"
        return self.get(path, params, token=False, idempotent=False)

    def app_credentials(self) -> dict[str, t.Any]:
        """``appid`` and ``secret``, as the calls signed with the AppSecret send them."""
        return {"appid": self.account.app_id, "secret": self.account.app_secret}

    def callback_ip(self) -> list[str]:
        """The addresses (IPs and CIDR ranges) WeChat sends callbacks from."""
        return [str(ip) for ip in self.get("/cgi-bin/getcallbackip").get("ip_list") or ()]

    # -- HTTP -------------------------------------------------------------------

    def get(self, path: str, params: t.Mapping[str, t.Any] | None = None, **kwargs: t.Any) -> JSON:
        """GET ``path`` with ``params`` (and the access_token); the decoded JSON."""
        return t.cast(JSON, self.request("GET", path, params=params, **kwargs))

    def post(
        self,
        path: str,
        json: t.Any = None,
        *,
        params: t.Mapping[str, t.Any] | None = None,
        **kwargs: t.Any,
    ) -> JSON:
        """POST ``json`` to ``path``; the decoded JSON.

        Sends are not idempotent: after a timeout where WeChat may have received
        the request, they are not retried (pass ``idempotent=True`` where a repeat
        is harmless, such as queries).
        """
        return t.cast(JSON, self.request("POST", path, params=params, json=json, **kwargs))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: t.Mapping[str, t.Any] | None = None,
        json: t.Any = None,
        files: t.Any = None,
        data: t.Any = None,
        token: bool = True,
        idempotent: bool | None = None,
        stream: bool = False,
    ) -> t.Any:
        """Call the API. With ``stream``, a non-JSON answer (media) comes back as
        the :class:`requests.Response` itself."""
        if idempotent is None:
            idempotent = method.upper() == "GET"
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        body = None
        headers = {}
        if json is not None:
            body = _dumps(json)
            headers["Content-Type"] = "application/json; charset=utf-8"
        token_retried = False
        attempt = 0
        tries = 0  # HTTP requests made, for ``api_called``
        cgi_path = urlsplit(path).path
        while True:
            query = dict(params or {})
            access_token = None
            if token:
                access_token = self.access_token
                query["access_token"] = access_token
            failure: str | None = None
            never_sent = False
            tries += 1
            with observe.api_call(self.app, self.account.name, cgi_path, tries) as call:
                try:
                    response = self.session.request(
                        method,
                        url,
                        params=query,
                        data=body if body is not None else data,
                        files=files,
                        headers=headers,
                        timeout=self.timeout,
                        stream=stream,
                    )
                except requests.RequestException as exc:
                    never_sent = _never_sent(exc)
                    failure = type(exc).__name__
                retry_5xx = (
                    failure is None
                    and response.status_code >= 500
                    and attempt < self.retries
                    and idempotent
                )
                if failure is None and not retry_5xx:
                    result = self._decode(response, stream)
                    errmsg = str(result.get("errmsg", "")) if isinstance(result, dict) else ""
                    call.set(errcode=_errcode(result), rid=parse_rid(errmsg))
            if failure is not None:
                if attempt < self.retries and (idempotent or never_sent):
                    attempt += 1
                    self._sleep(attempt)
                    continue
                # requests puts the whole URL (secrets, tokens, codes) in its
                # message: say what happened without it, raised outside the
                # ``except`` so that not even ``__context__`` keeps the original.
                raise TransportError(
                    f"the WeChat API did not answer {method} {path} ({failure})",
                    may_have_arrived=not never_sent,
                )
            if retry_5xx:
                response.close()
                attempt += 1
                self._sleep(attempt)
                continue
            if isinstance(result, requests.Response):
                return result
            errcode = _errcode(result)
            if not errcode:
                return result
            if errcode in TOKEN_ERRCODES and token and access_token and not token_retried:
                token_retried = True
                self.tokens.refresh(failed=access_token)
                continue
            if errcode == SYSTEM_BUSY and attempt < self.retries:
                attempt += 1
                self._sleep(attempt)
                continue
            raise api_error(errcode, str(result.get("errmsg", "")))

    def _decode(self, response: requests.Response, stream: bool) -> t.Any:
        content_type = response.headers.get("Content-Type", "")
        looks_json = "json" in content_type or "text/plain" in content_type
        if stream and not looks_json:
            if response.status_code >= 400:
                response.close()
                raise TransportError(
                    f"WeChat answered HTTP {response.status_code}", may_have_arrived=True
                )
            return response
        raw = response.content
        try:
            # WeChat answers JSON without a charset; it is always UTF-8.
            decoded = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, ValueError):
            if stream:
                return response
            raise TransportError(
                f"WeChat answered HTTP {response.status_code} with something that is not JSON",
                may_have_arrived=True,
            ) from None
        if stream and not (
            isinstance(decoded, dict) and ("errcode" in decoded or "video_url" in decoded)
        ):
            return response  # a downloaded .json/.txt file, not an answer from WeChat
        if response.status_code >= 400 and not _errcode(decoded):
            raise TransportError(
                f"WeChat answered HTTP {response.status_code}", may_have_arrived=True
            )
        return decoded

    def _sleep(self, attempt: int) -> None:
        time.sleep(self.backoff * (2 ** (attempt - 1)))


def _errcode(result: t.Any) -> int:
    if not isinstance(result, dict):
        return 0
    try:
        return int(result.get("errcode") or 0)
    except (TypeError, ValueError):
        return -1


def _dumps(value: t.Any) -> bytes:
    # WeChat shows \\uXXXX escapes literally in some APIs (menus): send real UTF-8.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
