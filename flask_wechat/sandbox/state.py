"""The sandbox's data: registered apps, issued credentials, followers, and faults.

Everything a fake WeChat needs to remember lives on one :class:`SandboxState`
object guarded by one lock, so several sandboxes can run side by side in one
process without sharing anything. The HTTP endpoints in :mod:`.routes` read and
change it while holding :attr:`SandboxState.lock`; tests read it through the
same object (a :class:`~flask_wechat.sandbox.Sandbox` *is* a state).
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import math
import secrets
import threading
import time
import typing as t
from collections import Counter

from .component import FakeComponent

#: The Official Account every sandbox knows from the start.
SANDBOX_APP_ID = "wxsandbox0000000001"
SANDBOX_APP_SECRET = "sandbox-secret"  # noqa: S105 - a published fake, not a secret
#: The WeCom corp (and its app's Secret and AgentID) every sandbox knows from the start.
SANDBOX_CORP_ID = "wwsandbox000000001"
SANDBOX_CORP_SECRET = "sandbox-corp-secret"  # noqa: S105 - a published fake
SANDBOX_AGENT_ID = 1000002
#: The follower that exists from the start; the default user of the OAuth flows.
SANDBOX_OPENID = "oSANDBOX00000000000000000000"
#: The WeCom member the OAuth flow signs in unless :attr:`SandboxState.work_user` is set.
SANDBOX_USERID = "SandboxUser"

KINDS = ("mp", "miniprogram", "work")
#: The paths that issue an access_token (counted by ``token_requests``).
TOKEN_PATHS = frozenset({"/cgi-bin/token", "/cgi-bin/stable_token", "/cgi-bin/gettoken"})
OAUTH_SCOPES = ("snsapi_base", "snsapi_userinfo", "snsapi_privateinfo")
#: How long after a user's last message an app may send customer-service messages.
SERVICE_WINDOW = 48 * 3600
#: How many 微信客服 answers one customer message allows (within SERVICE_WINDOW).
KF_ANSWERS = 5
#: How long a template message's ``client_msg_id`` blocks a repeat (WeChat: 10 minutes).
CLIENT_MSG_ID_WINDOW = 600
#: How many calls an app may make to one API path a day, where the sandbox knows
#: WeChat's figure; other paths allow :data:`DEFAULT_DAILY_LIMIT`. Change one with
#: :meth:`SandboxState.set_daily_limit`; ``/cgi-bin/openapi/quota/get`` reports them.
DAILY_LIMITS: dict[str, int] = {
    "/cgi-bin/token": 2000,
    "/cgi-bin/menu/create": 1000,
    "/cgi-bin/message/custom/send": 500000,
}
DEFAULT_DAILY_LIMIT = 100000
#: How long WeChat keeps a rid for ``/cgi-bin/openapi/rid/get`` (7 days).
RID_TTL = 7 * 24 * 3600
#: WeChat's daily quotas start again at midnight in China (UTC+8).
_QUOTA_DAY_OFFSET = 8 * 3600

#: WeChat's own wording for the errcodes the sandbox answers.
ERRMSGS: dict[int, str] = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40004: "invalid media type",
    40006: "invalid media size",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid appid",
    40016: "invalid button size",
    40017: "invalid button type",
    40018: "invalid button name size",
    40019: "invalid button key size",
    40020: "invalid button url size",
    40022: "invalid sub button level",
    40023: "invalid sub button size",
    40024: "invalid sub button type",
    40025: "invalid sub button name size",
    40026: "invalid sub button key size",
    40027: "invalid sub button url size",
    40029: "invalid code",
    40030: "invalid refresh_token",
    40032: "invalid openid list size",
    40037: "invalid template_id",
    40053: "invalid action_info, please check document",
    40056: "invalid agentid",
    40096: "invalid external userid",
    40097: "invalid args",
    40102: "invalid industry id",
    40113: "unsupported file type",
    40125: "invalid appsecret",
    40129: "invalid user_ticket",
    40163: "code been used",
    40164: "invalid ip, not in whitelist",
    40165: "invalid weapp pagepath",
    40212: "invalid scene",
    41001: "access_token missing",
    41002: "appid missing",
    41003: "refresh_token missing",
    41004: "appsecret missing",
    41005: "media data missing",
    41008: "missing code",
    41009: "missing openid",
    41011: "missing agentid",
    41030: "invalid page rule",
    42001: "access_token expired",
    42002: "refresh_token expired",
    42003: "code expired",
    43001: "require GET method",
    43002: "require POST method",
    43004: "require subscribe",
    43101: "user refuse to accept the msg",
    43105: "repeated msg",
    44002: "empty post data",
    44003: "empty news data",
    44004: "empty content",
    45002: "content size out of limit",
    45008: "article size out of limit",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    45015: "response out of time limit",
    45026: "template size out of limit",
    45056: "too many tags",
    45058: "can't modify sys tag",
    45059: "too many tags on this user",
    45157: "invalid tag name",
    45158: "tag name too long",
    45159: "invalid tag id",
    46003: "menu no exist",
    47001: "data format error",
    47003: "argument invalid!",
    48001: "api unauthorized",
    48006: "forbid to clear quota because of reaching the limit",
    60111: "invalid string value `userid`. userid not found",
    65301: "menuid not exist",
    65302: "no such user",
    65303: "there is no selfmenu, please create selfmenu first",
    65304: "match rule empty",
    65401: "invalid kf_account",
    65403: "invalid nickname",
    65404: "invalid kf_account",
    65405: "too many kf_account",
    65406: "kf_account exsited",
    76001: "rid not found",
    76002: "rid is error",
    76003: "invalid cgi_path",
    76021: "cgi_path not found, please check",
    76022: "could not use this cgi_path, no permission",
    81013: "user & party & tag all invalid",
    87014: "risky content",
    95000: "invalid open_kfid",
    95001: "send msg count limit",
    95002: "send msg time limit",
    95004: "open_kfid not exist",
    95007: "invalid msg token",
    200011: "invalid tid",
    200012: "private template count exceeds limit",
    200014: "invalid kidList",
}

_SYSTEM_TAGS = {2: "星标组"}


class APIFault(Exception):
    """A WeChat error answer: the endpoint stops and answers ``errcode``/``errmsg``.

    Like WeChat's, the answer's ``errmsg`` ends with a ``rid`` that
    ``/cgi-bin/openapi/rid/get`` looks up — unless ``verbatim`` (a test's own
    ``errmsg`` given to :meth:`SandboxState.fail`, answered exactly as given).
    """

    def __init__(self, errcode: int, errmsg: str | None = None, *, verbatim: bool = False) -> None:
        self.errcode = errcode
        self.errmsg = errmsg if errmsg is not None else ERRMSGS.get(errcode, "sandbox error")
        self.verbatim = verbatim
        super().__init__(f"{errcode}: {self.errmsg}")


@dataclasses.dataclass(frozen=True)
class Call:
    """One request that reached the sandbox (query parameters and JSON body), with
    the app that made it as far as the request tells (AppID or CorpID, and the
    WeCom AgentID), or None."""

    method: str
    path: str
    params: dict[str, str]
    json: t.Any | None
    app_id: str | None = None
    agent_id: int | None = None


@dataclasses.dataclass(frozen=True)
class Registration:
    """An app the sandbox accepts credentials for; a WeCom app is a CorpID, the
    app's Secret and its AgentID."""

    app_id: str
    secret: str
    kind: str
    agent_id: int | None = None

    @property
    def key(self) -> str:
        """What tells this app apart: the AppID, or ``CorpID/AgentID`` for WeCom."""
        return app_key(self.app_id, self.agent_id)

    def flask_config(self, base_url: str, kind: str | None = None) -> dict[str, str]:
        """``WECHAT_*`` settings for this app against a sandbox at ``base_url``."""
        config = {
            "WECHAT_KIND": kind or self.kind,
            "WECHAT_APP_ID": self.app_id,
            "WECHAT_APP_SECRET": self.secret,
            "WECHAT_API_BASE_URL": base_url,
        }
        if self.agent_id is not None:
            config["WECHAT_AGENT_ID"] = str(self.agent_id)
        return config


@dataclasses.dataclass
class AppData:
    """What one app keeps for itself: its followers (with the time each last
    wrote), its menus and the ``client_msg_id`` of its recent template sends."""

    #: The followers: openid -> the info ``/cgi-bin/user/info`` answers.
    users: dict[str, dict[str, t.Any]] = dataclasses.field(default_factory=dict)
    #: openid -> when the user last interacted with the app (the 48-hour window).
    last_interaction: dict[str, float] = dataclasses.field(default_factory=dict)
    next_user: int = 0
    #: The default menu as it was created (``{"button": [...]}``), or None.
    menu: dict[str, t.Any] | None = None
    menu_id: int = 0
    #: Conditional menus as stored (each with ``button``, ``matchrule``, ``menuid``).
    conditional_menus: list[dict[str, t.Any]] = dataclasses.field(default_factory=list)
    #: (touser, client_msg_id) -> when a template message carrying it was accepted.
    template_msg_ids: dict[tuple[str, str], float] = dataclasses.field(default_factory=dict)
    #: Subscribe message templates: priTmplId -> the template (with ``keywords``:
    #: keyword name -> its rule, ``thing``, ``number``, ...).
    subscribe_templates: dict[str, dict[str, t.Any]] = dataclasses.field(default_factory=dict)
    #: (openid, priTmplId) -> acceptances not yet used by a send.
    subscriptions: Counter[tuple[str, str]] = dataclasses.field(default_factory=Counter)
    #: 微信客服: open_kfid -> every message a customer wrote (``sync_msg`` entries).
    kf_messages: dict[str, list[dict[str, t.Any]]] = dataclasses.field(default_factory=dict)
    #: 微信客服: (open_kfid, external_userid) -> [when they last wrote, sends left].
    kf_windows: dict[tuple[str, str], list[float]] = dataclasses.field(default_factory=dict)
    #: 微信客服: the ``Token`` of each ``kf_msg_or_event``: token -> (open_kfid, expires_at).
    kf_tokens: dict[str, tuple[str, float]] = dataclasses.field(default_factory=dict)
    #: Blacklisted openids, in the order they were added.
    blacklist: list[str] = dataclasses.field(default_factory=list)
    #: How often ``clear_quota`` was used (WeChat: 10 times a month).
    quota_clears: int = 0
    #: Permanent material: media_id -> {"media": Media, "title", "introduction"}.
    materials: dict[str, dict[str, t.Any]] = dataclasses.field(default_factory=dict)
    #: Drafts: media_id -> {"news_item": [...], "update_time"}.
    drafts: dict[str, dict[str, t.Any]] = dataclasses.field(default_factory=dict)
    #: Publications: publish_id -> {"article_id", "news_item"}; article_id -> publish_id.
    publications: dict[str, dict[str, t.Any]] = dataclasses.field(default_factory=dict)
    #: WeCom members (a ``work`` app): userid -> what ``/cgi-bin/user/get`` answers.
    members: dict[str, dict[str, t.Any]] = dataclasses.field(default_factory=dict)
    #: Scene QR code tickets: ticket -> {"scene", "expires_at"} (None: permanent).
    qrcodes: dict[str, dict[str, t.Any]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Token:
    """An issued access_token (``kind`` "access", "stable" or "oauth")."""

    value: str
    app_id: str
    kind: str
    issued_at: float
    expires_at: float
    retire_at: float | None = None
    expired: bool = False
    revoked: bool = False
    openid: str = ""
    scope: str = ""
    #: the WeCom app (AgentID) the token was issued to.
    agent_id: int | None = None

    @property
    def app_key(self) -> str:
        """The :attr:`Registration.key` of the app the token belongs to."""
        return app_key(self.app_id, self.agent_id)


@dataclasses.dataclass
class Code:
    """A one-time login code (web OAuth, ``wx.login``, WeCom OAuth)."""

    value: str
    app_id: str
    openid: str
    scope: str
    expires_at: float
    used: bool = False


@dataclasses.dataclass
class RefreshToken:
    """A web OAuth refresh_token (valid 30 days, reusable)."""

    value: str
    app_id: str
    openid: str
    scope: str
    expires_at: float


@dataclasses.dataclass
class Ticket:
    """A JS-SDK ticket; WeChat hands out the same one until it expires."""

    value: str
    expires_at: float


@dataclasses.dataclass
class Media:
    """An uploaded temporary media file."""

    media_id: str
    type: str
    data: bytes
    filename: str
    content_type: str
    created_at: int


@dataclasses.dataclass
class _Fault:
    path: str
    errcode: int
    errmsg: str
    remaining: int | None
    status: int
    verbatim: bool = False


@dataclasses.dataclass(frozen=True)
class RidRecord:
    """A failed call remembered under its rid: who made it and what
    ``/cgi-bin/openapi/rid/get`` tells about it."""

    app_id: str | None
    request: dict[str, t.Any]


class SandboxState:
    """All data of one fake WeChat, behind one lock.

    :param token_ttl: seconds an access_token lives (``expires_in``).
    :param overlap: seconds the previous access_token of an app stays valid after
        a new one is issued (WeChat: 5 minutes).
    :param page_size: followers per page of ``/cgi-bin/user/get`` and
        ``/cgi-bin/user/tag/get`` (WeChat: 10000).
    :param ticket_ttl: seconds a JS-SDK ticket lives.
    :param code_ttl: seconds a one-time login code lives (WeChat: 5 minutes).
    :param clock: the time source; tests may pass their own to move time on
        without sleeping.
    """

    def __init__(
        self,
        token_ttl: float = 7200,
        *,
        overlap: float = 300,
        page_size: int = 10000,
        ticket_ttl: float = 7200,
        code_ttl: float = 300,
        clock: t.Callable[[], float] = time.time,
    ) -> None:
        self.lock = threading.RLock()
        self.token_ttl = token_ttl
        self.overlap = overlap
        self.page_size = page_size
        self.ticket_ttl = ticket_ttl
        self.code_ttl = code_ttl
        self.clock = clock
        #: Set while the server shuts down: wakes requests sleeping in a delay.
        self.stopping = threading.Event()
        self.registrations: dict[str, Registration] = {}
        self.tokens: dict[str, Token] = {}
        self._current: dict[tuple[str, str], Token] = {}
        self.tickets: dict[tuple[str, str], Ticket] = {}
        self.codes: dict[str, Code] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.session_keys: dict[str, str] = {}
        #: third-party platforms (开放平台) by AppID; see :meth:`register_component`.
        self.components: dict[str, FakeComponent] = {}
        # traffic: cleared by reset()
        self._faults: list[_Fault] = []
        self._delays: dict[str, float] = {}
        self._calls: list[Call] = []
        self._counts: Counter[str] = Counter()
        self._sent: list[dict[str, t.Any]] = []
        self.token_requests = 0
        #: (AppID, path) -> calls today; the day they count for; each path's limit.
        self._daily: Counter[tuple[str, str]] = Counter()
        self._quota_day = self._today()
        self._daily_limits = dict(DAILY_LIMITS)
        #: rid -> the failed call it names (``/cgi-bin/openapi/rid/get``).
        self._rids: dict[str, RidRecord] = {}
        #: The paths the sandbox serves (set by its HTTP app): what quotas apply to.
        self.known_paths: frozenset[str] = frozenset()
        self.apps: dict[str, AppData] = {}
        self._init_data()
        self.register(SANDBOX_APP_ID, SANDBOX_APP_SECRET, kind="mp")
        self.register(SANDBOX_CORP_ID, SANDBOX_CORP_SECRET, kind="work", agent_id=SANDBOX_AGENT_ID)

    def _init_data(self) -> None:
        """The account data a fresh sandbox starts with."""
        #: Each registered app's own followers and menus, by :attr:`Registration.key`.
        self.apps = {key: self._new_app_data(reg) for key, reg in self.registrations.items()}
        #: The openid the web OAuth authorize page signs in.
        self.oauth_user = SANDBOX_OPENID
        #: The WeCom UserId the authorize page signs in for a ``work`` app.
        self.work_user = SANDBOX_USERID
        self.tags: dict[int, str] = dict(_SYSTEM_TAGS)
        self._next_tag = 100
        self.kf_accounts: dict[str, dict[str, t.Any]] = {}
        self._next_kf = 1001
        self.industry = ("1", "2")
        self.templates: dict[str, dict[str, t.Any]] = {}
        self.media: dict[str, Media] = {}
        #: WeCom ``user_ticket``s: ticket -> (app key, userid, expires_at).
        self.user_tickets: dict[str, tuple[str, str, float]] = {}
        #: One-time phone number codes: code -> (app key, openid, phone).
        self.phone_codes: dict[str, tuple[str, str, str]] = {}
        self._next_id = 1_000_000_000

    def _new_app_data(self, registration: Registration) -> AppData:
        data = AppData()
        if registration.kind != "work":
            self._add_users(data, 1)  # SANDBOX_OPENID
        else:
            data.members[SANDBOX_USERID] = _member(SANDBOX_USERID, "沙盒成员")
        return data

    # -- configuration --------------------------------------------------------

    def register(
        self, app_id: str, secret: str, kind: str = "mp", *, agent_id: int | None = None
    ) -> Registration:
        """Accept ``app_id``/``secret`` as an app of ``kind`` and give it its own
        followers (SANDBOX_OPENID to start with) and menus; returns the
        :class:`Registration` (its ``flask_config(url)`` configures an app for it).

        ``kind`` is ``"mp"`` (Official Account), ``"miniprogram"`` or ``"work"``.
        A WeCom app is the CorpID, the app's Secret and its AgentID: several apps
        of one corp share the CorpID; without ``agent_id`` the next free one from
        1000002 is given. Registering an app again changes its Secret and keeps
        its data.
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        if not app_id or not secret:
            raise ValueError("app_id and secret must not be empty")
        if kind != "work" and agent_id is not None:
            raise ValueError("only a WeCom (kind 'work') app has an agent_id")
        with self.lock:
            if kind == "work" and agent_id is None:
                agent_id = max(self.agents_of(app_id), default=SANDBOX_AGENT_ID - 1) + 1
            registration = Registration(app_id, secret, kind, agent_id)
            clash = self.registrations.get(registration.key)
            if clash is not None and clash.kind != kind:
                raise ValueError(f"{registration.key} is already registered as {clash.kind!r}")
            self.registrations[registration.key] = registration
            if registration.key not in self.apps:
                self.apps[registration.key] = self._new_app_data(registration)
            return registration

    def register_component(
        self,
        app_id: str = "wxcomponent0000001",
        secret: str = "component-secret",  # noqa: S107 - a published fake
        token: str = "component-token",  # noqa: S107 - a published fake
        encoding_aes_key: str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    ) -> FakeComponent:
        """A third-party platform (开放平台) the sandbox serves; see
        :class:`~.component.FakeComponent`. Registering it again returns it."""
        with self.lock:
            found = self.components.get(app_id)
            if found is None:
                found = FakeComponent(self, app_id, secret, token, encoding_aes_key)
                self.components[app_id] = found
            return found

    def find_app(self, app_id: str, agent_id: int | None = None) -> Registration | None:
        """The registration of ``app_id`` (a WeCom corp: of its app ``agent_id``,
        or its first app), or None."""
        with self.lock:
            if agent_id is not None:
                return self.registrations.get(app_key(app_id, agent_id))
            found = self.registrations.get(app_id)
            if found is not None:
                return found
            return next((r for r in self.registrations.values() if r.app_id == app_id), None)

    def agents_of(self, corp_id: str) -> dict[int, Registration]:
        """The registered WeCom apps of ``corp_id`` by AgentID."""
        with self.lock:
            return {
                reg.agent_id: reg
                for reg in self.registrations.values()
                if reg.app_id == corp_id and reg.agent_id is not None
            }

    def app_data(self, app_id: str | None = None, agent_id: int | None = None) -> AppData:
        """The followers and menus of a registered app (default: the pre-registered
        Official Account)."""
        registration = self.find_app(app_id or SANDBOX_APP_ID, agent_id)
        if registration is None:
            raise KeyError(f"app {app_id!r} is not registered with the sandbox")
        with self.lock:
            return self.apps[registration.key]

    # The pre-registered Official Account's data, under the names it always had.

    @property
    def users(self) -> dict[str, dict[str, t.Any]]:
        """The pre-registered Official Account's followers (openid -> info)."""
        return self.app_data().users

    @property
    def menu(self) -> dict[str, t.Any] | None:
        """The pre-registered Official Account's default menu, or None."""
        return self.app_data().menu

    @property
    def menu_id(self) -> int:
        """The ``menuid`` of the pre-registered Official Account's default menu."""
        return self.app_data().menu_id

    @property
    def conditional_menus(self) -> list[dict[str, t.Any]]:
        """The pre-registered Official Account's conditional menus."""
        return self.app_data().conditional_menus

    # -- traffic: calls, faults, delays -----------------------------------------

    @property
    def calls(self) -> list[Call]:
        """Every request so far, in arrival order (a snapshot)."""
        with self.lock:
            return list(self._calls)

    @property
    def sent(self) -> list[dict[str, t.Any]]:
        """Every accepted message body, with ``kind`` "custom", "template" or "work"."""
        with self.lock:
            return [dict(body) for body in self._sent]

    def count(self, path: str) -> int:
        """How many requests hit ``path`` (e.g. ``"/cgi-bin/menu/create"``)."""
        with self.lock:
            return self._counts[path]

    def fail(
        self,
        path: str,
        errcode: int,
        times: int | None = 1,
        errmsg: str | None = None,
        *,
        status: int = 200,
    ) -> None:
        """Answer the next ``times`` calls of ``path`` (``"*"``: any path) with
        ``errcode``; ``times=None`` keeps failing until :meth:`reset`. ``status``
        sets the HTTP status of those answers (WeChat itself always uses 200)."""
        if times is not None and times < 1:
            raise ValueError("times must be a positive number or None")
        message = errmsg if errmsg is not None else ERRMSGS.get(errcode, "sandbox fault")
        with self.lock:
            self._faults.append(
                _Fault(path, errcode, message, times, status, verbatim=errmsg is not None)
            )

    def clear_quota_faults(self) -> None:
        """Drop the injected 45009 (quota) faults, as ``clear_quota`` resets quotas."""
        with self.lock:
            self._faults = [f for f in self._faults if f.errcode != 45009]

    def delay(self, path: str, seconds: float) -> None:
        """Make requests to ``path`` (``"*"``: any path) wait ``seconds`` before
        answering; 0 removes the delay."""
        with self.lock:
            if seconds > 0:
                self._delays[path] = seconds
            else:
                self._delays.pop(path, None)

    def arrive(self, method: str, path: str, params: dict[str, str], body: t.Any) -> float:
        """Record a request; returns how long it must wait before answering."""
        with self.lock:
            app_id, agent_id = self._caller(params, body)
            self._calls.append(Call(method, path, params, body, app_id, agent_id))
            self._counts[path] += 1
            if path in TOKEN_PATHS:
                self.token_requests += 1
            return self._delays.get(path, self._delays.get("*", 0.0))

    def _caller(self, params: dict[str, str], body: t.Any) -> tuple[str | None, int | None]:
        """Who a request comes from, as far as its token or credentials tell:
        ``(AppID or CorpID, AgentID)``."""
        token = self.tokens.get(params.get("access_token", ""))
        if token is not None:
            return token.app_id, token.agent_id
        corp_id = params.get("corpid")
        if corp_id:
            secret = params.get("corpsecret", "")
            agents = self.agents_of(corp_id).values()
            return corp_id, next((a.agent_id for a in agents if a.secret == secret), None)
        app_id = params.get("appid") or (body.get("appid") if isinstance(body, dict) else None)
        return (app_id, None) if isinstance(app_id, str) and app_id else (None, None)

    def take_fault(self, path: str) -> tuple[APIFault, int] | None:
        """The injected fault this request answers with, if any (consumed)."""
        with self.lock:
            chosen = next((f for f in self._faults if f.path == path), None)
            if chosen is None:
                chosen = next((f for f in self._faults if f.path == "*"), None)
            if chosen is None:
                return None
            if chosen.remaining is not None:
                chosen.remaining -= 1
                if chosen.remaining <= 0:
                    self._faults.remove(chosen)
            return APIFault(chosen.errcode, chosen.errmsg, verbatim=chosen.verbatim), chosen.status

    # -- daily quotas and rids ------------------------------------------------------

    def _today(self) -> int:
        return int((self.clock() + _QUOTA_DAY_OFFSET) // 86400)

    def set_daily_limit(self, path: str, limit: int) -> None:
        """Let each app call ``path`` ``limit`` times a day (then 45009)."""
        with self.lock:
            self._daily_limits[path] = limit

    def daily_limit(self, path: str) -> int:
        """How many calls of ``path`` an app may make a day."""
        with self.lock:
            return self._daily_limits.get(path, DEFAULT_DAILY_LIMIT)

    def count_daily(self, path: str, params: dict[str, str], body: t.Any) -> APIFault | None:
        """Count a call of ``path`` against its caller's daily quota; the 45009
        fault when the quota is used up (the call is still counted, as WeChat
        reports it in ``used``)."""
        with self.lock:
            if path not in self.known_paths:
                return None
            app_id, _ = self._caller(params, body)
            if app_id is None:
                return None
            self._roll_day()
            self._daily[app_id, path] += 1
            if self._daily[app_id, path] > self.daily_limit(path):
                return APIFault(45009)
            return None

    def quota(self, app_id: str, path: str) -> dict[str, int]:
        """``daily_limit``, ``used`` and ``remain`` of ``path`` for ``app_id`` today."""
        with self.lock:
            self._roll_day()
            limit = self.daily_limit(path)
            used = min(self._daily[app_id, path], limit)
            return {"daily_limit": limit, "used": used, "remain": limit - used}

    def clear_daily(self, app_id: str) -> None:
        """Reset every daily count of ``app_id`` (``clear_quota``)."""
        with self.lock:
            for key in [key for key in self._daily if key[0] == app_id]:
                del self._daily[key]

    def _roll_day(self) -> None:
        today = self._today()
        if today != self._quota_day:
            self._daily.clear()
            self._quota_day = today

    def new_rid(self) -> str:
        """A rid shaped like WeChat's: the time in hex, then two random parts."""
        return f"{int(self.clock()):08x}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"

    def remember_rid(
        self, rid: str, params: dict[str, str], body: t.Any, request: dict[str, t.Any]
    ) -> None:
        """Keep a failed call under ``rid`` for the caller the request names."""
        with self.lock:
            app_id, _ = self._caller(params, body)
            now = self.clock()
            for old in [
                key
                for key, kept in self._rids.items()
                if kept.request["invoke_time"] < now - RID_TTL
            ]:
                del self._rids[old]
            self._rids[rid] = RidRecord(app_id, request)

    def rid_request(self, app_id: str, rid: str) -> dict[str, t.Any] | None:
        """What ``rid`` names, if it is ``app_id``'s and not older than 7 days."""
        with self.lock:
            kept = self._rids.get(rid)
            if kept is None or kept.app_id != app_id:
                return None
            if kept.request["invoke_time"] < self.clock() - RID_TTL:
                return None
            return dict(kept.request)

    def record_sent(self, kind: str, body: dict[str, t.Any], app: Registration) -> None:
        """Remember an accepted message with the app that sent it (``app_id``;
        WeCom: also ``agentid``)."""
        entry = {**copy.deepcopy(body), "kind": kind, "app_id": app.app_id}
        if app.agent_id is not None:
            entry.setdefault("agentid", app.agent_id)  # a WeCom send names its own
        with self.lock:
            self._sent.append(entry)

    def reset(self, *, data: bool = False) -> None:
        """Clear faults, delays, counters, calls and sent messages; registrations
        and issued credentials stay. With ``data``, also restore the followers,
        menus, tags, templates, customer-service accounts and media to the start."""
        with self.lock:
            self._faults.clear()
            self._delays.clear()
            self._calls.clear()
            self._counts.clear()
            self._sent.clear()
            self.token_requests = 0
            self._daily.clear()
            self._daily_limits = dict(DAILY_LIMITS)
            self._rids.clear()
            if data:
                self.codes.clear()
                self.components.clear()
                self._init_data()

    # -- access tokens ----------------------------------------------------------

    def check_app(self, app_id: str, secret: str, *, work: bool) -> Registration:
        """The registration for ``app_id`` if ``secret`` is right, else the fault
        WeChat (or WeCom, with ``work``) answers. A WeCom app is found by its
        CorpID and Secret (each app of a corp has its own Secret)."""
        if not app_id:
            raise APIFault(41002, "corpid missing" if work else None)
        if not secret:
            raise APIFault(41004, "corpsecret missing" if work else None)
        if work:
            agents = self.agents_of(app_id)
            if not agents:
                raise APIFault(40013, "invalid corpid")
            for agent in agents.values():
                if secrets.compare_digest(agent.secret.encode(), secret.encode()):
                    return agent
            raise APIFault(40001, "invalid credential")
        with self.lock:
            registration = self.registrations.get(app_id)
        if registration is None or registration.kind == "work":
            raise APIFault(40013)
        if not secrets.compare_digest(registration.secret.encode(), secret.encode()):
            raise APIFault(40125)
        return registration

    def issue_token(
        self,
        app_id: str,
        *,
        slot: str = "access",
        reuse: bool = False,
        agent_id: int | None = None,
    ) -> Token:
        """A token for ``app_id``.

        ``slot`` separates the ``/cgi-bin/token`` tokens from the stable ones;
        with ``reuse`` the current token is handed out again while it is valid
        (stable_token without force_refresh, WeCom gettoken). A new token makes
        the previous one of the slot invalid after :attr:`overlap` seconds, and
        any older one at once. ``agent_id`` names the WeCom app of the corp.
        """
        key = app_key(app_id, agent_id)
        with self.lock:
            now = self.clock()
            current = self._current.get((key, slot))
            if reuse and current is not None and self._token_problem(current, now) is None:
                return current
            for token in self.tokens.values():
                if token.app_key == key and token.kind == slot and token is not current:
                    token.retire_at = min(token.retire_at or now, now)
            if current is not None:
                retire = now + self.overlap
                current.retire_at = retire if current.retire_at is None else current.retire_at
            token = Token(
                _random_token(), app_id, slot, now, now + self.token_ttl, agent_id=agent_id
            )
            self.tokens[token.value] = token
            self._current[(key, slot)] = token
            return token

    def issue_oauth_token(self, app_id: str, openid: str, scope: str) -> Token:
        """A web OAuth access_token for one user (its own namespace)."""
        with self.lock:
            now = self.clock()
            token = Token(
                _random_token(),
                app_id,
                "oauth",
                now,
                now + self.token_ttl,
                openid=openid,
                scope=scope,
            )
            self.tokens[token.value] = token
            return token

    def authenticate(self, value: str, *, oauth: bool = False) -> Token:
        """The valid token ``value``, or the fault WeChat answers for it:
        41001 missing, 40001 unknown/revoked/replaced, 42001 expired."""
        if not value:
            raise APIFault(41001)
        with self.lock:
            token = self.tokens.get(value)
            if token is None or (token.kind == "oauth") != oauth:
                raise APIFault(40001)
            if token.app_key not in self.registrations:
                raise APIFault(40001)
            problem = self._token_problem(token, self.clock())
            if problem is not None:
                raise APIFault(problem)
            return token

    def _token_problem(self, token: Token, now: float) -> int | None:
        if token.revoked:
            return 40001
        if token.expired or now >= token.expires_at:
            return 42001
        if token.retire_at is not None and now >= token.retire_at:
            return 40001
        return None

    def remaining(self, expires_at: float, lifetime: float | None = None) -> int | float:
        """Seconds left until ``expires_at``, written as WeChat writes ``expires_in``:
        whole seconds (rounded up, so a fresh token shows its full ``lifetime``),
        unless ``lifetime`` (default :attr:`token_ttl`) is a fraction of a second."""
        lifetime = self.token_ttl if lifetime is None else lifetime
        left = max(0.0, expires_at - self.clock())
        if float(lifetime).is_integer():
            return min(int(lifetime), math.ceil(left))
        return round(left, 3)

    def expire_tokens(self) -> None:
        """Every token issued so far now answers 42001 ("access_token expired")."""
        with self.lock:
            for token in self.tokens.values():
                token.expired = True

    def revoke_tokens(self) -> None:
        """Every token issued so far now answers 40001 ("invalid credential")."""
        with self.lock:
            for token in self.tokens.values():
                token.revoked = True

    # -- tickets ----------------------------------------------------------------

    def ticket(self, app_id: str, type_: str = "jsapi") -> Ticket:
        """The current ticket of ``type_`` for ``app_id``, made anew once expired."""
        with self.lock:
            now = self.clock()
            current = self.tickets.get((app_id, type_))
            if current is None or now >= current.expires_at:
                current = Ticket(secrets.token_urlsafe(64), now + self.ticket_ttl)
                self.tickets[(app_id, type_)] = current
            return current

    def ticket_for(self, app_id: str, type_: str = "jsapi") -> str | None:
        """The ticket the sandbox last handed to ``app_id`` (to check JS-SDK
        signatures), or None if none was asked for or it expired."""
        with self.lock:
            current = self.tickets.get((app_id, type_))
            if current is None or self.clock() >= current.expires_at:
                return None
            return current.value

    # -- one-time codes ---------------------------------------------------------

    def oauth_code(
        self, openid: str, scope: str = "snsapi_base", app_id: str = SANDBOX_APP_ID
    ) -> str:
        """A one-time code, as if ``openid`` had just signed in to ``app_id``.

        It works for the web OAuth flow (``/sns/oauth2/access_token``), mini
        program login (``/sns/jscode2session``) and, for a ``work`` app (pass the
        CorpID and a UserId), WeCom's ``getuserinfo``.
        """
        if scope not in OAUTH_SCOPES:
            raise ValueError(f"scope must be one of {', '.join(OAUTH_SCOPES)}")
        if not openid:
            raise ValueError("openid must not be empty")
        with self.lock:
            if self.find_app(app_id) is None:
                raise KeyError(f"app {app_id!r} is not registered with the sandbox")
            code = Code(secrets.token_hex(16), app_id, openid, scope, self.clock() + self.code_ttl)
            self.codes[code.value] = code
            return code.value

    def use_code(self, value: str, app_id: str) -> Code:
        """Spend a one-time code: 40029 unknown (or another app's), 40163 used,
        42003 expired."""
        if not value:
            raise APIFault(41008)
        with self.lock:
            code = self.codes.get(value)
            if code is None or code.app_id != app_id:
                raise APIFault(40029)
            if code.used:
                raise APIFault(40163)
            if self.clock() >= code.expires_at:
                raise APIFault(42003)
            code.used = True
            return code

    def issue_refresh_token(self, app_id: str, openid: str, scope: str) -> RefreshToken:
        """A 30-day web OAuth refresh_token."""
        with self.lock:
            refresh = RefreshToken(
                _random_token(), app_id, openid, scope, self.clock() + 30 * 86400
            )
            self.refresh_tokens[refresh.value] = refresh
            return refresh

    def new_session_key(self, openid: str) -> str:
        """A fresh mini program session_key for ``openid`` (base64 of 16 bytes)."""
        key = base64.b64encode(secrets.token_bytes(16)).decode("ascii")
        with self.lock:
            self.session_keys[openid] = key
        return key

    def session_key_for(self, openid: str) -> str | None:
        """The session_key last issued to ``openid`` by ``jscode2session``."""
        with self.lock:
            return self.session_keys.get(openid)

    # -- followers ----------------------------------------------------------------

    def add_users(self, n: int, app_id: str | None = None) -> list[str]:
        """Add ``n`` followers with deterministic openids to an app (default: the
        pre-registered Official Account); returns the openids. They count as
        having interacted with the app just now."""
        data = self.app_data(app_id)
        with self.lock:
            return self._add_users(data, n)

    def _add_users(self, data: AppData, n: int) -> list[str]:
        added = []
        now = self.clock()
        for _ in range(n):
            index = data.next_user
            data.next_user += 1
            openid = f"oSANDBOX{index:020d}"
            data.users[openid] = _user_info(openid, index, f"oUNIONID{index:020d}")
            data.last_interaction[openid] = now
            added.append(openid)
        return added

    def user_wrote(self, open_id: str, app_id: str | None = None) -> None:
        """Record that ``open_id`` just messaged an app (default: the pre-registered
        Official Account), as WeChat learns when a user writes, clicks a menu or
        follows: the user becomes a follower of the app if they were not one, and
        its 48-hour customer-service window opens again."""
        if not open_id:
            raise ValueError("open_id must not be empty")
        data = self.app_data(app_id)
        with self.lock:
            if open_id not in data.users:
                digest = hashlib.sha256(open_id.encode()).hexdigest()
                index = int(digest[:6], 16)
                data.users[open_id] = _user_info(open_id, index, "oUNIONID" + digest[:20])
            data.last_interaction[open_id] = self.clock()

    def set_last_interaction(self, open_id: str, when: float, app_id: str | None = None) -> None:
        """Pretend the known user ``open_id`` last interacted with an app at
        ``when`` (a time of :attr:`clock`), to test the 48-hour window."""
        data = self.app_data(app_id)
        with self.lock:
            if open_id not in data.users:
                raise KeyError(f"{open_id!r} is not a user of that app; call user_wrote() first")
            data.last_interaction[open_id] = when

    def followers(self, app_id: str | None = None) -> list[str]:
        """Openids of users who currently follow an app (default: the pre-registered
        Official Account), in the order they were added."""
        data = self.app_data(app_id)
        with self.lock:
            return [openid for openid, info in data.users.items() if info.get("subscribe")]

    # -- subscribe messages, phone numbers, QR codes ----------------------------------

    def add_subscribe_template(
        self,
        keywords: t.Mapping[str, str] | t.Sequence[str],
        title: str = "沙盒订阅模板",
        app_id: str | None = None,
        *,
        template_id: str | None = None,
    ) -> str:
        """Give an app (default: the pre-registered account) a subscribe message
        template, as if added in the admin console; returns its ``priTmplId``.

        ``keywords`` are the keyword names (``["thing1", "time2"]``, the rule is
        the name without its number) or name -> rule.
        """
        data = self.app_data(app_id)
        rules = (
            dict(keywords)
            if isinstance(keywords, t.Mapping)
            else {name: name.rstrip("0123456789") for name in keywords}
        )
        template_id = template_id or secrets.token_urlsafe(32)[:43]
        with self.lock:
            data.subscribe_templates[template_id] = subscribe_template(template_id, title, rules, 2)
        return template_id

    def accept_subscription(
        self, open_id: str, template_id: str, app_id: str | None = None, times: int = 1
    ) -> None:
        """Record that ``open_id`` accepted ``template_id`` of an app (default: the
        pre-registered account) ``times`` times: each allows one subscribe message."""
        data = self.app_data(app_id)
        with self.lock:
            if template_id not in data.subscribe_templates:
                raise KeyError(f"{template_id!r} is not a subscribe template of that app")
            data.subscriptions[(open_id, template_id)] += times

    def phone_code(
        self, open_id: str, phone: str = "+86 13800138000", app_id: str | None = None
    ) -> str:
        """A one-time ``getPhoneNumber`` code for ``open_id`` of a mini program
        (default: the pre-registered AppID) with ``phone`` ("+CC NUMBER")."""
        registration = self.find_app(app_id or SANDBOX_APP_ID)
        if registration is None:
            raise KeyError(f"app {app_id!r} is not registered with the sandbox")
        if not phone.startswith("+") or " " not in phone:
            raise ValueError('phone must look like "+86 13800138000"')
        code = secrets.token_hex(32)
        with self.lock:
            self.phone_codes[code] = (registration.key, open_id, phone)
        return code

    def scan_event(
        self, ticket: str, open_id: str, subscribed: bool, app_id: str | None = None
    ) -> dict[str, str]:
        """The event fields WeChat pushes when ``open_id`` scans the QR code of
        ``ticket``: a ``subscribe`` event (``EventKey`` ``qrscene_<scene>``) for a
        user who did not follow yet, a ``SCAN`` event (``EventKey`` the scene) for
        one who did (``subscribed``). The user now follows the app."""
        data = self.app_data(app_id)
        with self.lock:
            qrcode = data.qrcodes.get(ticket)
            if qrcode is None:
                raise KeyError(f"{ticket!r} is not a QR code ticket of that app")
            expires_at = qrcode["expires_at"]
            if expires_at is not None and self.clock() >= expires_at:
                raise ValueError("that QR code has expired")
            scene = str(qrcode["scene"])
        self.user_wrote(open_id, app_id)
        return {
            "ToUserName": app_id or SANDBOX_APP_ID,
            "FromUserName": open_id,
            "CreateTime": str(int(self.clock())),
            "MsgType": "event",
            "Event": "SCAN" if subscribed else "subscribe",
            "EventKey": scene if subscribed else "qrscene_" + scene,
            "Ticket": ticket,
        }

    def set_kf_online(self, kf_account: str, status: int = 1, accepted_case: int = 0) -> None:
        """Mark a customer-service account (added with ``kfaccount/add``) online
        (``status`` 1: web) or offline (0), for ``getonlinekflist``."""
        with self.lock:
            kf = self.kf_accounts.get(kf_account)
            if kf is None:
                raise KeyError(f"{kf_account!r} is not a customer-service account")
            kf["status"] = status
            kf["accepted_case"] = accepted_case

    # -- WeCom members ---------------------------------------------------------------------

    def add_member(
        self,
        userid: str,
        name: str = "",
        app_id: str | None = None,
        agent_id: int | None = None,
        **fields: t.Any,
    ) -> dict[str, t.Any]:
        """Add a member to a WeCom app's corp (default: the pre-registered app);
        ``fields`` override what ``/cgi-bin/user/get`` answers (``mobile``, ...)."""
        registration = self.find_app(app_id or SANDBOX_CORP_ID, agent_id)
        if registration is None or registration.kind != "work":
            raise KeyError(f"{app_id!r} is not a WeCom app of the sandbox")
        member = {**_member(userid, name or userid), **fields}
        with self.lock:
            self.apps[registration.key].members[userid] = member
        return dict(member)

    # -- WeCom 微信客服 ------------------------------------------------------------------

    def kf_customer_writes(
        self,
        open_kfid: str,
        external_userid: str,
        text: str,
        app_id: str | None = None,
        agent_id: int | None = None,
    ) -> dict[str, str]:
        """A WeChat customer writes ``text`` to the 客服账号 ``open_kfid`` of a WeCom
        app (default: the pre-registered one): the message waits for
        ``kf/sync_msg``, the customer's 48-hour window (5 answers) opens, and the
        fields of the ``kf_msg_or_event`` callback WeCom would push are returned."""
        if not open_kfid or not external_userid:
            raise ValueError("open_kfid and external_userid must not be empty")
        registration = self.find_app(app_id or SANDBOX_CORP_ID, agent_id)
        if registration is None or registration.kind != "work":
            raise KeyError(f"{app_id!r} is not a WeCom app of the sandbox")
        data = self.app_data(registration.app_id, registration.agent_id)
        with self.lock:
            now = self.clock()
            data.kf_messages.setdefault(open_kfid, []).append(
                {
                    "msgid": f"from_msgid_{self.next_id()}",
                    "open_kfid": open_kfid,
                    "external_userid": external_userid,
                    "send_time": int(now),
                    "origin": 3,
                    "msgtype": "text",
                    "text": {"content": text},
                }
            )
            data.kf_windows[(open_kfid, external_userid)] = [now, KF_ANSWERS]
            token = "ENC" + secrets.token_urlsafe(33)
            data.kf_tokens[token] = (open_kfid, now + 600)
        return {
            "ToUserName": registration.app_id,
            "CreateTime": str(int(now)),
            "MsgType": "event",
            "Event": "kf_msg_or_event",
            "Token": token,
            "OpenKfId": open_kfid,
        }

    # -- media ----------------------------------------------------------------------

    def add_media(
        self,
        type_: str,
        data: bytes,
        filename: str = "",
        content_type: str = "application/octet-stream",
        *,
        media_id: str | None = None,
    ) -> str:
        """Store media as if it had been uploaded earlier (say, in the admin
        console); returns its ``media_id``."""
        media_id = media_id or secrets.token_urlsafe(48)
        with self.lock:
            self.media[media_id] = Media(
                media_id, type_, data, filename or f"media.{type_}", content_type, int(self.clock())
            )
        return media_id

    def next_id(self) -> int:
        """A fresh numeric id (msgid, menuid)."""
        with self.lock:
            self._next_id += 1
            return self._next_id

    def new_tag_id(self) -> int:
        """The id for the next tag (WeChat starts user tags at 100)."""
        with self.lock:
            tag_id = self._next_tag
            self._next_tag += 1
            return tag_id

    def new_kf_id(self) -> int:
        """The ``kf_id`` for the next customer-service account."""
        with self.lock:
            kf_id = self._next_kf
            self._next_kf += 1
            return kf_id


def app_key(app_id: str, agent_id: int | None) -> str:
    """What tells an app apart: its AppID, or ``CorpID/AgentID`` for a WeCom app."""
    return app_id if agent_id is None else f"{app_id}/{agent_id}"


def _member(userid: str, name: str) -> dict[str, t.Any]:
    """A WeCom member as ``/cgi-bin/user/get`` (and ``getuserdetail``) tell it."""
    digest = hashlib.sha256(userid.encode()).hexdigest()
    return {
        "userid": userid,
        "name": name,
        "department": [1],
        "position": "",
        "status": 1,
        "gender": "1",
        "avatar": f"https://wework.qpic.cn/sandbox/{digest[:12]}/0",
        "qr_code": f"https://open.work.weixin.qq.com/wwopen/userQRCode?vcode={digest[:16]}",
        "mobile": "138" + str(int(digest[:8], 16))[:8].rjust(8, "0"),
        "email": f"{userid.lower()}@sandbox.example",
        "biz_mail": f"{userid.lower()}@corp.sandbox.example",
        "address": "",
    }


#: What ``/cgi-bin/user/get`` leaves out since WeCom's 2022 privacy change.
PRIVATE_MEMBER_FIELDS = ("gender", "avatar", "qr_code", "mobile", "email", "biz_mail", "address")


def subscribe_template(
    template_id: str, title: str, rules: t.Mapping[str, str], type_: int
) -> dict[str, t.Any]:
    """A subscribe template as ``gettemplate`` lists it, with its ``keywords``."""
    content = "\n".join(f"{name}:{{{{{name}.DATA}}}}" for name in rules)
    return {
        "priTmplId": template_id,
        "title": title,
        "content": content,
        "example": "",
        "type": type_,
        "keywords": dict(rules),
    }


def _random_token() -> str:
    # Real access_tokens are 100+ characters of [A-Za-z0-9_-].
    return secrets.token_urlsafe(96)


def _user_info(openid: str, index: int, unionid: str) -> dict[str, t.Any]:
    """What ``/cgi-bin/user/info`` answers for a follower."""
    return {
        "subscribe": 1,
        "openid": openid,
        "nickname": f"沙盒用户{index}",
        "sex": 1 if index % 2 else 2,
        "language": "zh_CN",
        "city": "深圳",
        "province": "广东",
        "country": "中国",
        "headimgurl": f"http://thirdwx.qlogo.cn/mmopen/sandbox{index}/132",
        "subscribe_time": 1_600_000_000 + index,
        "unionid": unionid,
        "remark": "",
        "groupid": 0,
        "tagid_list": [],
        "subscribe_scene": "ADD_SCENE_SEARCH",
        "qr_scene": 0,
        "qr_scene_str": "",
    }
