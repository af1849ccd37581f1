"""A fake third-party platform (开放平台 "component") inside the sandbox.

:meth:`SandboxState.register_component` makes one; it plays WeChat's side as
strictly as WeChat does:

* no ``component_access_token`` without a ``component_verify_ticket`` the
  platform was pushed (61006), and only for the latest ticket (or the one
  before it, as WeChat accepts for a while);
* a ``pre_auth_code`` authorizes once; an authorization code is traded once;
* every ``api_authorizer_token`` call rotates the authorizer refresh token: the
  previous one answers 61023 from then on;
* an authorizer that revoked the authorization is gone from
  ``api_get_authorizer_list`` and its refresh token answers 61003.

It also pushes to a site what WeChat pushes to the platform's 授权事件接收URL
(the ticket, ``authorized``, ``updateauthorized``, ``unauthorized``) and sends
its 消息与事件接收URL messages, encrypted with the platform's key as WeChat
does. A push goes to a base URL over HTTP, or through a Flask test client.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
import typing as t
import urllib.error
import urllib.parse
import urllib.request

from ..crypto import MessageCrypto, make_nonce, sign


class SandboxApps(t.Protocol):
    """What a fake platform needs of the sandbox
    (:class:`~flask_wechat.sandbox.state.SandboxState`): its clock, token lifetime
    and lock, and the apps registered with it."""

    clock: t.Callable[[], float]
    token_ttl: float
    lock: t.Any
    #: the access_tokens issued, by value (each with ``app_id`` and ``revoked``).
    tokens: dict[str, t.Any]

    def find_app(self, app_id: str, agent_id: int | None = None) -> object | None: ...

    def register(
        self, app_id: str, secret: str, kind: str = "mp", *, agent_id: int | None = None
    ) -> object: ...


#: Where WeChat pushes to (a base URL such as ``http://127.0.0.1:5000``), or a
#: Flask test client.
Target = t.Any

#: The funcscope_category ids a sandbox authorizer grants unless told otherwise.
DEFAULT_PERMISSIONS = (1, 2, 3, 4, 5, 6, 7, 11, 15)

_ID_CHARS = "0123456789abcdef"


@dataclasses.dataclass
class AuthorizerGrant:
    """An account that authorized a sandbox platform."""

    app_id: str
    kind: str
    permissions: tuple[int, ...]
    refresh_token: str
    auth_time: int
    nick_name: str


@dataclasses.dataclass
class _Code:
    value: str
    expires_at: float
    app_id: str = ""
    used: bool = False


class FakeComponent:
    """One third-party platform the sandbox knows (see the module docstring).

    ``sandbox.register_component(...)`` returns it; ``flask_config()`` gives the
    ``WECHAT_COMPONENT`` setting for a site.
    """

    def __init__(
        self, state: SandboxApps, app_id: str, secret: str, token: str, encoding_aes_key: str
    ) -> None:
        self.state = state
        self.app_id = app_id
        self.secret = secret
        self.token = token
        self.encoding_aes_key = encoding_aes_key
        self.crypto = MessageCrypto(token, encoding_aes_key, app_id)
        #: the tickets pushed, newest last (WeChat accepts the latest two).
        self.tickets: list[str] = []
        #: component_access_token -> expires_at.
        self.tokens: dict[str, float] = {}
        self.pre_auth_codes: dict[str, _Code] = {}
        self.auth_codes: dict[str, _Code] = {}
        #: the current authorizers by AppID.
        self.authorizers: dict[str, AuthorizerGrant] = {}
        #: refresh tokens no longer valid: value -> AppID.
        self.retired_refresh_tokens: dict[str, str] = {}
        #: how many component_access_tokens and authorizer tokens were issued.
        self.component_token_requests = 0
        self.authorizer_token_requests: dict[str, int] = {}

    def flask_config(self, **extra: t.Any) -> dict[str, t.Any]:
        """``WECHAT_COMPONENT`` (and the API base URL) for a site on this sandbox."""
        url = getattr(self.state, "url", "")
        component = {
            "app_id": self.app_id,
            "app_secret": self.secret,
            "token": self.token,
            "encoding_aes_key": self.encoding_aes_key,
            **extra,
        }
        return {"WECHAT_COMPONENT": component, "WECHAT_API_BASE_URL": url}

    # -- the API side ---------------------------------------------------------------

    def issue_token(self) -> tuple[str, float]:
        """A new component_access_token and its lifetime."""
        now = self.state.clock()
        value = secrets.token_urlsafe(48)
        self.tokens[value] = now + self.state.token_ttl
        self.component_token_requests += 1
        return value, self.state.token_ttl

    def token_problem(self, value: str) -> int | None:
        """41001 missing, 40001 unknown, 42001 expired, else None."""
        if not value:
            return 41001
        expires_at = self.tokens.get(value)
        if expires_at is None:
            return 40001
        if self.state.clock() >= expires_at:
            return 42001
        return None

    def expire_tokens(self) -> None:
        """Every component_access_token issued so far now answers 42001."""
        with self.state.lock:
            for value in self.tokens:
                self.tokens[value] = 0.0

    def new_pre_auth_code(self) -> tuple[str, int]:
        value = "preauthcode@@@" + secrets.token_urlsafe(32)
        self.pre_auth_codes[value] = _Code(value, self.state.clock() + 1800)
        return value, 1800

    def authorize(
        self,
        pre_auth_code: str,
        app_id: str | None = None,
        *,
        kind: str = "mp",
        permissions: t.Sequence[int] = DEFAULT_PERMISSIONS,
    ) -> str:
        """Play an account admin scanning the 授权页 opened with ``pre_auth_code``
        and agreeing: the account (``app_id``, a fresh one by default) becomes an
        authorizer; returns the ``auth_code`` WeChat puts in the redirect.

        :raises ValueError: the pre_auth_code is unknown, expired or used.
        """
        with self.state.lock:
            code = self.pre_auth_codes.get(pre_auth_code)
            if code is None or code.used or self.state.clock() >= code.expires_at:
                raise ValueError("the pre_auth_code is unknown, expired or already used")
            code.used = True
            return self.grant(app_id, kind=kind, permissions=permissions)

    def grant(
        self,
        app_id: str | None = None,
        *,
        kind: str = "mp",
        permissions: t.Sequence[int] = DEFAULT_PERMISSIONS,
    ) -> str:
        """Make ``app_id`` an authorizer (again); returns a fresh ``auth_code``."""
        with self.state.lock:
            app_id = app_id or "wx" + "".join(secrets.choice(_ID_CHARS) for _ in range(16))
            if self.state.find_app(app_id) is None:
                self.state.register(app_id, secrets.token_hex(16), kind=kind)
            previous = self.authorizers.get(app_id)
            if previous is not None:
                self.retired_refresh_tokens[previous.refresh_token] = app_id
            self.authorizers[app_id] = AuthorizerGrant(
                app_id,
                kind,
                tuple(permissions),
                "refreshtoken@@@" + secrets.token_urlsafe(32),
                int(self.state.clock()),
                f"sandbox {app_id[-4:]}",
            )
            code = "queryauthcode@@@" + secrets.token_urlsafe(32)
            self.auth_codes[code] = _Code(code, self.state.clock() + 3600, app_id)
            return code

    def revoke(self, app_id: str) -> None:
        """The account revokes the authorization (its tokens stop working)."""
        with self.state.lock:
            grant = self.authorizers.pop(app_id, None)
            if grant is not None:
                self.retired_refresh_tokens[grant.refresh_token] = app_id
            for token in self.state.tokens.values():
                if token.app_id == app_id:
                    token.revoked = True

    def rotate_refresh_token(self, app_id: str) -> str:
        """A new refresh token for ``app_id``, as if someone else refreshed: the
        one the site holds now answers 61023."""
        with self.state.lock:
            grant = self.authorizers[app_id]
            self.retired_refresh_tokens[grant.refresh_token] = app_id
            grant.refresh_token = "refreshtoken@@@" + secrets.token_urlsafe(32)
            return grant.refresh_token

    # -- pushing to the site -----------------------------------------------------------

    def push_ticket(self, target: Target, path: str = "/wechat/component") -> int:
        """Push a new ``component_verify_ticket`` to the site's auth_url; returns
        the HTTP status it answered."""
        with self.state.lock:
            ticket = "ticket@@@" + secrets.token_urlsafe(48)
            self.tickets = [*self.tickets[-1:], ticket]
        fields = {
            "AppId": self.app_id,
            "CreateTime": int(time.time()),
            "InfoType": "component_verify_ticket",
            "ComponentVerifyTicket": ticket,
        }
        return self.push(target, path, fields)[0]

    def push_authorized(
        self, target: Target, app_id: str, path: str = "/wechat/component", *, update: bool = False
    ) -> int:
        """Push ``authorized`` (``updateauthorized`` with ``update``) for an authorizer."""
        with self.state.lock:
            code = next(
                (c.value for c in self.auth_codes.values() if c.app_id == app_id and not c.used),
                None,
            )
            if code is None:
                code = self.grant(app_id)
        fields = {
            "AppId": self.app_id,
            "CreateTime": int(time.time()),
            "InfoType": "updateauthorized" if update else "authorized",
            "AuthorizerAppid": app_id,
            "AuthorizationCode": code,
            "AuthorizationCodeExpiredTime": int(time.time()) + 3600,
            "PreAuthCode": "",
        }
        return self.push(target, path, fields)[0]

    def push_unauthorized(
        self, target: Target, app_id: str, path: str = "/wechat/component"
    ) -> int:
        """Revoke ``app_id`` and push ``unauthorized`` to the site."""
        self.revoke(app_id)
        fields = {
            "AppId": self.app_id,
            "CreateTime": int(time.time()),
            "InfoType": "unauthorized",
            "AuthorizerAppid": app_id,
        }
        return self.push(target, path, fields)[0]

    def envelope(
        self, fields: t.Mapping[str, t.Any], *, to_user_name: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The body and query WeChat sends for ``fields``, encrypted with the
        platform's key (``AppId`` in the envelope of pushes, ``ToUserName`` of
        messages)."""
        timestamp, nonce = str(int(time.time())), make_nonce(10)
        sealed = self.crypto.seal(xml(fields), timestamp, nonce)
        outer = {"ToUserName": to_user_name} if to_user_name is not None else {"AppId": self.app_id}
        body = xml({**outer, "Encrypt": sealed.encrypt}).encode()
        query = {
            "signature": sign(self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "encrypt_type": "aes",
            "msg_signature": sealed.msg_signature,
        }
        return body, query

    def push(self, target: Target, path: str, fields: t.Mapping[str, t.Any]) -> tuple[int, bytes]:
        """POST ``fields`` encrypted to ``path`` of ``target``: ``(status, body)``."""
        body, query = self.envelope(fields)
        return post(target, path, body, query)

    def send_message(
        self,
        target: Target,
        app_id: str,
        fields: t.Mapping[str, t.Any],
        path: str = "/wechat/component/<app_id>",
    ) -> tuple[int, str | None]:
        """Send a message to authorizer ``app_id`` at the site's callback_url:
        ``(status, the decrypted answer or None for "success")``."""
        body, query = self.envelope(fields, to_user_name=str(fields.get("ToUserName", "")))
        status, answer = post(target, path.replace("<app_id>", app_id), body, query)
        text = answer.decode()
        if status != 200 or text.strip() in ("", "success") or "<Encrypt>" not in text:
            return status, None
        encrypt = text.split("<Encrypt><![CDATA[", 1)[1].split("]]>", 1)[0]
        return status, self.crypto.decrypt_raw(encrypt).decode()


def post(target: Target, path: str, body: bytes, query: dict[str, str]) -> tuple[int, bytes]:
    """POST to a base URL over HTTP, or through a Flask test client."""
    if isinstance(target, str):
        url = target.rstrip("/") + path + "?" + urllib.parse.urlencode(query)
        request = urllib.request.Request(  # noqa: S310 - a URL the test gives
            url, data=body, headers={"Content-Type": "text/xml"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), bytes(exc.read())
    response = target.post(path, query_string=query, data=body, content_type="text/xml")
    return int(response.status_code), bytes(response.get_data())


def xml(fields: t.Mapping[str, t.Any]) -> str:
    """WeChat's flat XML: numbers bare, text in CDATA."""
    parts = ["<xml>"]
    for name, value in fields.items():
        if isinstance(value, int):
            parts.append(f"<{name}>{value}</{name}>")
        else:
            text = str(value).replace("]]>", "]]]]><![CDATA[>")
            parts.append(f"<{name}><![CDATA[{text}]]></{name}>")
    parts.append("</xml>")
    return "".join(parts)
