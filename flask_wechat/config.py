"""Configuration: every ``WECHAT_*`` key, its default and its check, in one table.

:data:`SETTINGS` is the table. Account settings come from flat ``WECHAT_*`` keys
(one account, named ``"default"``) or from ``WECHAT_ACCOUNTS``, a dict of name →
the same keys in lower case without the prefix; both go through the same checks.
Shared account settings given as flat keys (``WECHAT_REPLAY_WINDOW``…) apply to
every account. App settings (``WECHAT_CACHE``…) configure the extension as a whole.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing as t

from .crypto import decode_aes_key
from .errors import ConfigError

if t.TYPE_CHECKING:
    from flask import Config

    from .platform import Platform

Parse = t.Callable[[t.Any, str], t.Any]


def _text(value: t.Any, key: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(key, f"must be a string, {_got(value)}")
    return value


def _got(value: t.Any) -> str:
    """What a string setting got instead, and the usual cause — never the value,
    which may be a secret. ``app.config.from_prefixed_env()`` parses every variable
    as JSON, so ``FLASK_WECHAT_TOKEN=123456`` arrives as an ``int``."""
    name = type(value).__name__
    article = "an" if name[0] in "aeiou" else "a"
    if isinstance(value, (bool, int, float, list, dict)):
        return (
            f"got {article} {name}; a value loaded from the environment with "
            "from_prefixed_env() is parsed as JSON — quote it "
            """(FLASK_WECHAT_TOKEN='"123456"')"""
        )
    return f"got {article} {name}"


def _seconds(value: t.Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(key, "must be a non-negative number of seconds")
    return float(value)


def _agent_id(value: t.Any, key: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(key, "must be a number") from None


def _flag(value: t.Any, key: str) -> bool:
    if not isinstance(value, (bool, int)):
        raise ConfigError(key, "must be True or False")
    return bool(value)


def _url_path(value: t.Any, key: str) -> str | None:
    path = _text(value, key)
    if path is not None and not path.startswith("/"):
        raise ConfigError(key, "must start with '/'")
    return path


def _aes_key(value: t.Any, key: str) -> str | None:
    text = _text(value, key)
    if text is not None:
        decode_aes_key(text, key)
    return text


def _hosts(value: t.Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(
        isinstance(host, str) and host for host in value
    ):
        raise ConfigError(key, "must be a list of host names")
    return tuple(host.lower().strip(".") for host in value)


def _anything(value: t.Any, key: str) -> t.Any:
    return value


def _component(value: t.Any, key: str) -> ComponentSettings | None:
    if value is None:
        return None
    if not isinstance(value, t.Mapping):
        raise ConfigError(key, "must be a dict of the third-party platform's settings")
    return load_component(value)


@dataclasses.dataclass(frozen=True)
class Setting:
    """One ``WECHAT_*`` key."""

    name: str
    """The lower-case name (``token``); the key is ``WECHAT_TOKEN``."""
    default: t.Any
    doc: str
    parse: Parse = _anything
    #: ``"account"`` (per account) or ``"app"`` (the extension as a whole).
    scope: str = "account"
    #: a flat key of an account setting that applies to every account.
    shared: bool = False
    #: never shown (CLI, repr, logs).
    secret: bool = False

    @property
    def key(self) -> str:
        """The flat config key."""
        return "WECHAT_" + self.name.upper()


#: Every setting, with its default and check; the README's table and the docs'
#: configuration reference are this list.
SETTINGS: tuple[Setting, ...] = (
    # -- per account --------------------------------------------------------------
    Setting("kind", "mp", "the platform: `mp` (Official Account 公众号), `miniprogram` "
            "(Mini Program / Mini Game 小程序/小游戏), `work` (WeCom 企业微信)", _text),
    Setting("token", None, "the callback Token (required to receive callbacks)", _text,
            secret=True),
    Setting("app_id", None, "AppID; for `work` the CorpID", _text),
    Setting("app_secret", None, "AppSecret; for `work` the app's Secret", _text, secret=True),
    Setting("encoding_aes_key", None, "EncodingAESKey (43 characters); enables "
            "compatible/safe mode", _aes_key, secret=True),
    Setting("agent_id", None, "WeCom AgentID", _agent_id),
    Setting("format", "xml", "`xml` or `json`: the Mini Program message push format", _text),
    Setting("callback_url", "/wechat", "where the callback is mounted (`/wechat/<name>` "
            "for named accounts); `None` for an API-only account", _url_path),
    Setting("api_base_url", None, "base URL of the WeChat API (default: the platform's, "
            "`https://api.weixin.qq.com` or `https://qyapi.weixin.qq.com`)", _text,
            shared=True),
    Setting("replay_window", 300, "max age/skew in seconds of a callback's `timestamp`; "
            "`0` disables", _seconds, shared=True),
    Setting("dedup_ttl", 60, "seconds a message is remembered so that WeChat's retries "
            "never run handlers twice; `0` disables", _seconds, shared=True),
    Setting("reply_deadline", 4.5, "seconds a handler may take before the callback "
            "answers `success` and its reply is sent later through the API (never past "
            "4.5 s after WeChat's `timestamp`); `0` turns the deadline off", _seconds,
            shared=True),
    Setting("relay_url", None, "the 7moor platform's receive URL; `None` = no relay", _text),
    Setting("relay_token", None, "the 7moor token (required with a relay)", _text,
            secret=True),
    Setting("relay_callback_url", None, "where the platform posts agent replies "
            "(default `<callback_url>/relay`)", _url_path),
    Setting("relay_media_hosts", (), "extra hosts agent media may be fetched from, "
            "besides the relay platform's own", _hosts, shared=True),
    # -- the extension as a whole -------------------------------------------------
    Setting("accounts", None, "several accounts: name → the account keys above, lower "
            "case, without `WECHAT_`", scope="app"),
    Setting("cache", None, "a `flask_caching.Cache` to keep shared state in, or `None` to "
            "build one from the `CACHE_*` keys", scope="app"),
    Setting("redis_url", None, "a Redis URL (`redis://`, `rediss://`, `unix://`) for the "
            "shared state; default: the `CACHE_*` Redis, if any, else in-process", _text,
            scope="app", secret=True),
    Setting("stable_token", False, "fetch tokens from `/cgi-bin/stable_token`", _flag,
            scope="app"),
    Setting("oauth_url", None, "where the OAuth login views are mounted (`/wechat/oauth`, say); "
            "`None` for none", _url_path, scope="app"),
    Setting("oauth_scope", "snsapi_base", "the default OAuth scope: `snsapi_base` or "
            "`snsapi_userinfo`", _text, scope="app"),
    Setting("component", None, "a third-party platform (开放平台): `app_id`, `app_secret`, "
            "`token`, `encoding_aes_key`, and optionally `auth_url`, `callback_url`, "
            "`release_test` (see docs/component.rst)", _component, scope="app"),
)  # fmt: skip

#: ``WECHAT_*`` key → default, as ``init_app`` sets them with ``setdefault``.
DEFAULTS: dict[str, t.Any] = {setting.key: setting.default for setting in SETTINGS}

_ACCOUNT = {s.name: s for s in SETTINGS if s.scope == "account"}
_APP = {s.name: s for s in SETTINGS if s.scope == "app"}
_KEYS = frozenset(DEFAULTS)
OAUTH_SCOPES = ("snsapi_base", "snsapi_userinfo", "snsapi_privateinfo")


@dataclasses.dataclass(frozen=True)
class Account:
    """One configured WeChat account (Official Account, Mini Program or WeCom app)."""

    name: str
    platform: Platform = dataclasses.field(repr=False, compare=False)
    kind: str = "mp"
    token: str | None = dataclasses.field(default=None, repr=False)
    app_id: str | None = None
    app_secret: str | None = dataclasses.field(default=None, repr=False)
    encoding_aes_key: str | None = dataclasses.field(default=None, repr=False)
    agent_id: int | None = None
    format: str = "xml"
    callback_url: str | None = "/wechat"
    api_base_url: str = "https://api.weixin.qq.com"
    replay_window: float = 300
    dedup_ttl: float = 60
    reply_deadline: float = 4.5
    relay_url: str | None = None
    relay_token: str | None = dataclasses.field(default=None, repr=False)
    relay_callback_url: str | None = None
    relay_media_hosts: tuple[str, ...] = ()

    @property
    def receive_id(self) -> str:
        """What every encrypted message must carry: the AppID (WeCom: the CorpID)."""
        return self.app_id or ""


@dataclasses.dataclass(frozen=True)
class AppSettings:
    """The settings of the extension as a whole."""

    cache: t.Any = None
    redis_url: str | None = dataclasses.field(default=None, repr=False)
    stable_token: bool = False
    oauth_url: str | None = None
    oauth_scope: str = "snsapi_base"
    component: ComponentSettings | None = None


@dataclasses.dataclass(frozen=True)
class ComponentSettings:
    """``WECHAT_COMPONENT``: the site's third-party platform (开放平台)."""

    app_id: str
    app_secret: str = dataclasses.field(repr=False)
    token: str = dataclasses.field(repr=False)
    encoding_aes_key: str = dataclasses.field(repr=False)
    #: 授权事件接收URL: the ``component_verify_ticket`` and authorization events.
    auth_url: str = "/wechat/component"
    #: 消息与事件接收URL, a Flask rule with ``<app_id>`` (WeChat's ``$APPID$``).
    callback_url: str = "/wechat/component/<app_id>"
    #: answer WeChat's 全网发布 (release) checks without the site's code.
    release_test: bool = True


_COMPONENT_KEYS = (
    "app_id", "app_secret", "token", "encoding_aes_key", "auth_url", "callback_url",
    "release_test",
)  # fmt: skip


def load_component(settings: t.Mapping[str, t.Any]) -> ComponentSettings:
    """Check ``WECHAT_COMPONENT`` into :class:`ComponentSettings`."""

    def key(name: str) -> str:
        return f"WECHAT_COMPONENT[{name!r}]"

    for unknown in sorted(set(settings) - set(_COMPONENT_KEYS)):
        raise ConfigError(
            key(unknown),
            "is not a third-party platform setting" + _suggest(unknown, _COMPONENT_KEYS),
        )
    values: dict[str, t.Any] = {}
    for name in ("app_id", "app_secret", "token", "encoding_aes_key"):
        parse = _aes_key if name == "encoding_aes_key" else _text
        value = parse(settings.get(name), key(name))
        if value is None:
            raise ConfigError(key(name), "is required for a third-party platform")
        values[name] = value
    auth_url = _url_path(settings.get("auth_url", "/wechat/component"), key("auth_url"))
    callback_url = _url_path(
        settings.get("callback_url", "/wechat/component/<app_id>"), key("callback_url")
    )
    if auth_url is None:
        raise ConfigError(key("auth_url"), "is required: WeChat pushes the ticket there")
    if callback_url is None or "<app_id>" not in callback_url:
        raise ConfigError(key("callback_url"), "must hold '<app_id>' (WeChat's $APPID$)")
    values["release_test"] = _flag(settings.get("release_test", True), key("release_test"))
    return ComponentSettings(auth_url=auth_url, callback_url=callback_url, **values)


def _key_name(account: str, name: str) -> str:
    if account == "default":
        return "WECHAT_" + name.upper()
    return f"WECHAT_ACCOUNTS[{account!r}][{name!r}]"


def _suggest(name: str, known: t.Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else ""


def build_account(
    name: str, settings: t.Mapping[str, t.Any], platforms: t.Mapping[str, Platform]
) -> Account:
    """Check one account's settings (lower-case names) into an :class:`Account`."""

    def key(setting: str) -> str:
        return _key_name(name, setting)

    for unknown in sorted(set(settings) - set(_ACCOUNT)):
        raise ConfigError(
            key(unknown), "is not a flask_wechat account setting" + _suggest(unknown, _ACCOUNT)
        )
    values = {
        setting: spec.parse(settings.get(setting, spec.default), key(setting))
        for setting, spec in _ACCOUNT.items()
    }
    kind = values["kind"] or "mp"
    platform = platforms.get(kind)
    if platform is None:
        raise ConfigError(key("kind"), f"unknown kind {kind!r}; use one of {', '.join(platforms)}")
    fmt = (values["format"] or "xml").lower()
    if fmt not in platform.formats:
        kinds = [repr(k) for k, p in platforms.items() if fmt in p.formats] or ["no kind"]
        raise ConfigError(
            key("format"),
            f"{platform.title} pushes {' or '.join(platform.formats)}; {fmt!r} is for "
            f"kind {' or '.join(kinds)}",
        )
    if "callback_url" not in settings:
        values["callback_url"] = "/wechat" if name == "default" else f"/wechat/{name}"
    callback_url = values["callback_url"]
    if callback_url is not None and values["token"] is None:
        raise ConfigError(key("token"), "the callback Token is required to receive callbacks")
    if values["encoding_aes_key"] is not None and values["app_id"] is None:
        raise ConfigError(key("app_id"), f"the {platform.id_name} is required to decrypt messages")
    if platform.always_encrypted and callback_url is not None and not values["encoding_aes_key"]:
        raise ConfigError(
            key("encoding_aes_key"), f"{platform.title} callbacks are always encrypted"
        )
    if values["relay_url"] is not None and values["relay_token"] is None:
        raise ConfigError(key("relay_token"), "is required with a relay URL")
    if values["relay_url"] is not None and values["relay_callback_url"] is None and callback_url:
        values["relay_callback_url"] = callback_url.rstrip("/") + "/relay"
    values["api_base_url"] = str(values["api_base_url"] or platform.api_base_url).rstrip("/")
    values.update(kind=kind, format=fmt)
    return Account(name=name, platform=platform, **values)


def shared_settings(config: Config) -> dict[str, t.Any]:
    """The account settings given as flat keys that apply to every account
    (``WECHAT_API_BASE_URL``, ``WECHAT_REPLAY_WINDOW``…), checked: what accounts
    made at runtime (the third-party platform's authorizers) get."""
    values = {}
    for name, spec in _ACCOUNT.items():
        if spec.shared:
            value = spec.parse(config.get(spec.key, spec.default), spec.key)
            if value is not None and value != ():
                values[name] = value
    if values.get("api_base_url"):
        values["api_base_url"] = str(values["api_base_url"]).rstrip("/")
    return values


def check_keys(config: Config) -> None:
    """Refuse ``WECHAT_*`` keys that look like a misspelt setting (``WECHAT_APPID``)."""
    for key in config:
        if key.startswith("WECHAT_") and key not in _KEYS:
            hint = _suggest(key, _KEYS)
            if hint:
                raise ConfigError(key, "is not a flask_wechat setting" + hint)


def load_app_settings(config: Config) -> AppSettings:
    """The extension-wide settings of an app's config."""
    values = {
        name: spec.parse(config.get(spec.key, spec.default), spec.key)
        for name, spec in _APP.items()
    }
    del values["accounts"]
    if values["oauth_scope"] not in OAUTH_SCOPES:
        raise ConfigError("WECHAT_OAUTH_SCOPE", f"unknown scope {values['oauth_scope']!r}")
    return AppSettings(**values)


def load_accounts(config: Config, platforms: t.Mapping[str, Platform]) -> dict[str, Account]:
    """Read every account from an app's config; raise :class:`ConfigError` on mistakes.

    A site with a third-party platform (``WECHAT_COMPONENT``) and no flat account
    keys has no account of its own: its accounts are the authorizers.
    """
    check_keys(config)
    flat = {
        name: config[spec.key]
        for name, spec in _ACCOUNT.items()
        if spec.key in config and (config[spec.key] is not None or name == "callback_url")
    }
    shared = {name: flat[name] for name, spec in _ACCOUNT.items() if spec.shared and name in flat}
    accounts: dict[str, Account] = {}

    many = config.get("WECHAT_ACCOUNTS")
    if many is not None:
        if not isinstance(many, t.Mapping) or not many:
            raise ConfigError("WECHAT_ACCOUNTS", "must be a non-empty dict of name → settings")
        for name, settings in many.items():
            if not isinstance(name, str) or not name or "/" in name:
                raise ConfigError("WECHAT_ACCOUNTS", f"bad account name {name!r}")
            if not isinstance(settings, t.Mapping):
                raise ConfigError(f"WECHAT_ACCOUNTS[{name!r}]", "must be a dict of settings")
            accounts[name] = build_account(name, {**shared, **settings}, platforms)

    has_flat = any(flat.get(k) for k in ("token", "app_id", "app_secret"))
    component = config.get("WECHAT_COMPONENT") is not None
    if "default" not in accounts and (has_flat or (many is None and not component)):
        accounts["default"] = build_account("default", flat, platforms)

    urls: dict[str, str] = {}
    for account in accounts.values():
        for url in (account.callback_url, account.relay_callback_url):
            if url is None:
                continue
            if url in urls:
                raise ConfigError(
                    _key_name(account.name, "callback_url"),
                    f"{url!r} is already the callback URL of account {urls[url]!r}",
                )
            urls[url] = account.name
    return accounts
