"""OAuth web login (网页授权) for pages opened inside WeChat.

``/wechat/oauth/login?next=/page`` sends the browser to WeChat's authorize page
with a fresh ``state`` kept in the session; WeChat sends it back to
``/wechat/oauth/authorized`` with a ``code``, which is exchanged on the server for
the user's OpenID (WeCom: ``UserId``). The web access token and refresh token
stay in the extension's cache on the server; the session (a signed cookie the
browser can read) holds only the user's ids.

:func:`wechat_login_required` protects a view; :data:`current_wechat_user` is the
signed-in user during a request. ``signals.oauth_authorized`` receivers may return
a Response to send the user elsewhere; ``signals.oauth_error`` reports failures.
"""

from __future__ import annotations

import dataclasses
import functools
import hmac
import logging
import secrets
import time
import typing as t
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, redirect, request, session, url_for
from werkzeug.local import LocalProxy

from . import signals
from .config import OAUTH_SCOPES
from .errors import WeChatError

if t.TYPE_CHECKING:
    from flask import Flask

    from .config import Account
    from .state import WeChatState

logger = logging.getLogger("flask_wechat")

SESSION_KEY = "wechat_user"
_STATE_KEY = "wechat_oauth_state"
_TOKEN_TTL = 30 * 24 * 3600  # a refresh token lives 30 days
SCOPES = OAUTH_SCOPES

F = t.TypeVar("F", bound=t.Callable[..., t.Any])


@dataclasses.dataclass(frozen=True)
class WeChatUser:
    """The user signed in through OAuth: an OpenID (Official Account) or a UserId
    (WeCom member), and the UnionID where WeChat gives one."""

    account: str
    open_id: str | None = None
    union_id: str | None = None
    user_id: str | None = None
    scope: str = "snsapi_base"

    @property
    def id(self) -> str:
        """The id this account knows the user by."""
        return self.user_id or self.open_id or ""


def _current_user() -> WeChatUser | None:
    data = session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return None
    fields = {f.name for f in dataclasses.fields(WeChatUser)}
    try:
        return WeChatUser(**{k: v for k, v in data.items() if k in fields})
    except TypeError:
        return None


#: The signed-in :class:`WeChatUser` of this request, or ``None``.
current_wechat_user: WeChatUser | None = t.cast("WeChatUser | None", LocalProxy(_current_user))


def login_url(
    next_url: str | None = None, account: str | None = None, scope: str | None = None
) -> str:
    """Where to send the browser to sign in (then back to ``next_url``)."""
    params: dict[str, t.Any] = {}
    if next_url:
        params["next"] = next_url
    if scope:
        params["scope"] = scope
    if account:
        params["account"] = account
    return url_for("wechat_oauth.login", **params)


@t.overload
def wechat_login_required(view: F) -> F: ...


@t.overload
def wechat_login_required(*, scope: str | None = None) -> t.Callable[[F], F]: ...


def wechat_login_required(view: F | None = None, *, scope: str | None = None) -> t.Any:
    """Decorate a view to require a WeChat sign-in (``@wechat_login_required`` or
    ``@wechat_login_required(scope="snsapi_userinfo")``)."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
            user = _current_user()
            wanted = scope
            if user is None or (wanted == "snsapi_userinfo" and user.scope == "snsapi_base"):
                return redirect(login_url(request.full_path.rstrip("?"), scope=wanted))
            return func(*args, **kwargs)

        return t.cast(F, wrapper)

    return decorate(view) if view is not None else decorate


def logout() -> None:
    """Forget the signed-in user (their tokens expire in the cache)."""
    session.pop(SESSION_KEY, None)


def _safe_next(target: object) -> str:
    """Only same-site paths: never an open redirect to another host, nor a header
    injection. Anything but a plain path (``/account?tab=1``) becomes ``/``: no
    scheme or host, no ``//`` or backslash, no control characters or whitespace
    (browsers drop tabs and newlines from URLs, so ``/\t/evil.example`` would be
    ``//evil.example``), no lone surrogates."""
    if not isinstance(target, str) or not target.startswith("/") or len(target) > 2048:
        return "/"
    if target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(char) < 0x21 or 0x7F <= ord(char) <= 0x9F or char.isspace() for char in target):
        return "/"
    try:
        target.encode("utf-8")
    except UnicodeEncodeError:
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


def _token_key(account: str, user_id: str) -> str:
    return f"wechat:oauth:{account}:{user_id}"


def stored_token(user: WeChatUser) -> dict[str, t.Any] | None:
    """The web access token record of ``user`` (server-side only), or ``None``."""
    state: WeChatState = current_app.extensions["wechat"]
    value = state.store.get(_token_key(user.account, user.id))
    return value if isinstance(value, dict) else None


def userinfo(user: WeChatUser | None = None, lang: str = "zh_CN") -> dict[str, t.Any]:
    """The user's profile (``snsapi_userinfo`` scope), refreshing the web access
    token when it has expired."""
    user = user or _current_user()
    if user is None or user.open_id is None:
        raise LookupError("no WeChat user is signed in")
    record = stored_token(user)
    if record is None:
        raise LookupError("the user's web access token is gone; sign in again")
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    state: WeChatState = app.extensions["wechat"]
    client = state.client(user.account)
    if time.time() >= record["expires_at"]:
        fresh = client.oauth.refresh(record["refresh_token"])
        record = _token_record(fresh)
        state.store.set(_token_key(user.account, user.id), record, _TOKEN_TTL)
    return client.oauth.userinfo(record["access_token"], user.open_id, lang)


def _token_record(data: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    return {
        "access_token": data["access_token"],
        "refresh_token": data.get("refresh_token", ""),
        "expires_at": time.time() + float(data.get("expires_in", 7200)) - 60,
        "scope": data.get("scope", ""),
    }


def _fail(
    app: Flask, account: str, reason: str, status: int, error: BaseException | None = None
) -> Response:
    logger.info("WeChat sign-in failed for account %r: %s", account, reason)
    if signals.oauth_error.receivers:
        signals.oauth_error.send(app, reason=reason, error=error, account=account)
    return Response(reason, status, mimetype="text/plain")


def make_oauth_blueprint(url_prefix: str, default_scope: str) -> Blueprint:
    """The sign-in views: ``wechat_oauth.login`` and ``wechat_oauth.authorized``."""
    blueprint = Blueprint("wechat_oauth", __name__, url_prefix=url_prefix)

    @blueprint.get("/login")
    def login() -> Response:
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        state: WeChatState = app.extensions["wechat"]
        try:
            account = state.account(request.args.get("account") or None)
        except LookupError as exc:
            return _fail(app, request.args.get("account", ""), str(exc), 404)
        scope = request.args.get("scope") or default_scope
        if scope not in SCOPES:
            return _fail(app, account.name, "unknown scope", 400)
        nonce = secrets.token_hex(16)  # WeChat allows only [a-zA-Z0-9] in state
        session[_STATE_KEY] = {
            "state": nonce,
            "next": _safe_next(request.args.get("next")),
            "account": account.name,
            "scope": scope,
        }
        redirect_uri = url_for("wechat_oauth.authorized", _external=True)
        client = state.client(account.name)
        return t.cast(Response, redirect(client.oauth.authorize_url(redirect_uri, scope, nonce)))

    @blueprint.get("/authorized")
    def authorized() -> Response:
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        state: WeChatState = app.extensions["wechat"]
        pending = session.pop(_STATE_KEY, None)
        if not isinstance(pending, dict) or not hmac.compare_digest(
            str(pending.get("state", "")).encode(), request.args.get("state", "").encode()
        ):
            return _fail(app, "", "state mismatch: start the sign-in again", 403)
        account = state.account(pending["account"])
        code = request.args.get("code")
        if not code:  # the user refused (snsapi_userinfo), or WeChat sent an error
            return _fail(app, account.name, "authorization was not granted", 403)
        try:
            user, token = _exchange(app, state, account, code, pending["scope"])
        except (WeChatError, OSError) as exc:
            # 40029 invalid code, 40163 code already used, or WeChat unreachable.
            return _fail(app, account.name, "sign-in failed: the code was not accepted", 400, exc)
        session[SESSION_KEY] = dataclasses.asdict(user)
        if token is not None:
            state.store.set(_token_key(account.name, user.id), token, _TOKEN_TTL)
        if signals.oauth_authorized.receivers:
            for _receiver, result in signals.oauth_authorized.send(
                app, user=user, account=account.name
            ):
                if isinstance(result, Response):
                    return result
        return t.cast(Response, redirect(_safe_next(pending.get("next"))))

    return blueprint


def _exchange(
    app: Flask, state: WeChatState, account: Account, code: str, scope: str
) -> tuple[WeChatUser, dict[str, t.Any] | None]:
    client = state.client(account.name)
    signed_in = client.profile.sign_in(client, code, scope)
    user = WeChatUser(
        account=account.name,
        open_id=signed_in.open_id,
        union_id=signed_in.union_id,
        user_id=signed_in.user_id,
        scope=signed_in.scope,
    )
    return user, None if signed_in.token is None else _token_record(signed_in.token)
