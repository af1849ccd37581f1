"""Accounts: reading and validating the ``WECHAT_*`` configuration.

One account comes from flat ``WECHAT_*`` keys and is named ``"default"``; several
come from ``WECHAT_ACCOUNTS``, a dict of name → the same keys in lower case
without the prefix. Keys an account leaves out fall back to the flat keys of the
same name (so ``WECHAT_REPLAY_WINDOW`` applies to every account).
"""

from __future__ import annotations

import dataclasses
import typing as t

from .crypto import decode_aes_key
from .errors import ConfigError

if t.TYPE_CHECKING:
    from flask import Config

KINDS = ("mp", "miniprogram", "work")
FORMATS = ("xml", "json")

DEFAULT_API_BASE_URL = "https://api.weixin.qq.com"
WORK_API_BASE_URL = "https://qyapi.weixin.qq.com"

#: Flat keys and their defaults, set with ``app.config.setdefault`` in ``init_app``.
DEFAULTS: dict[str, t.Any] = {
    "WECHAT_KIND": "mp",
    "WECHAT_TOKEN": None,
    "WECHAT_APP_ID": None,
    "WECHAT_APP_SECRET": None,
    "WECHAT_ENCODING_AES_KEY": None,
    "WECHAT_AGENT_ID": None,
    "WECHAT_FORMAT": "xml",
    "WECHAT_CALLBACK_URL": "/wechat",
    "WECHAT_API_BASE_URL": None,
    "WECHAT_REPLAY_WINDOW": 300,
    "WECHAT_DEDUP_TTL": 60,
    "WECHAT_REPLY_DEADLINE": 4.5,
    "WECHAT_CACHE": None,
    "WECHAT_ACCOUNTS": None,
    "WECHAT_STABLE_TOKEN": False,
    "WECHAT_OAUTH_URL": "/wechat/oauth",
    "WECHAT_OAUTH_SCOPE": "snsapi_base",
    "WECHAT_RELAY_URL": None,
    "WECHAT_RELAY_TOKEN": None,
    "WECHAT_RELAY_CALLBACK_URL": None,
}

# Settings that are naturally shared by every account when given as flat keys.
_SHARED = ("replay_window", "dedup_ttl", "reply_deadline", "api_base_url")


@dataclasses.dataclass(frozen=True)
class Account:
    """One configured WeChat account (Official Account, Mini Program or WeCom app)."""

    name: str
    kind: str = "mp"
    token: str | None = dataclasses.field(default=None, repr=False)
    app_id: str | None = None
    app_secret: str | None = dataclasses.field(default=None, repr=False)
    encoding_aes_key: str | None = dataclasses.field(default=None, repr=False)
    agent_id: int | None = None
    format: str = "xml"
    callback_url: str | None = "/wechat"
    api_base_url: str = DEFAULT_API_BASE_URL
    replay_window: float = 300
    dedup_ttl: float = 60
    reply_deadline: float = 4.5
    relay_url: str | None = None
    relay_token: str | None = dataclasses.field(default=None, repr=False)
    relay_callback_url: str | None = None

    @property
    def receive_id(self) -> str:
        """What every encrypted message must carry: the AppID, or the CorpID for WeCom."""
        return self.app_id or ""


def _key_name(account: str, key: str) -> str:
    if account == "default":
        return f"WECHAT_{key.upper()}"
    return f"WECHAT_ACCOUNTS[{account!r}][{key!r}]"


def _number(value: t.Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(key, "must be a non-negative number of seconds")
    return float(value)


def _optional_str(value: t.Any, key: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(key, "must be a string")
    return value


def build_account(name: str, settings: t.Mapping[str, t.Any]) -> Account:
    """Validate one account's settings (lower-case keys) into an :class:`Account`."""

    def key(k: str) -> str:
        return _key_name(name, k)

    known = {f.name for f in dataclasses.fields(Account)} - {"name"}
    for unknown in sorted(set(settings) - known):
        raise ConfigError(key(unknown), "is not a flask_wechat setting")

    kind = settings.get("kind") or "mp"
    if kind not in KINDS:
        raise ConfigError(key("kind"), f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    fmt = (settings.get("format") or "xml").lower()
    if fmt not in FORMATS:
        raise ConfigError(key("format"), f"unknown format {fmt!r}; use 'xml' or 'json'")
    if fmt == "json" and kind != "miniprogram":
        raise ConfigError(key("format"), "JSON message push exists only for kind 'miniprogram'")

    if "callback_url" in settings:  # None turns callbacks off (an API-only account)
        callback_url = _optional_str(settings["callback_url"], key("callback_url"))
    else:
        callback_url = "/wechat" if name == "default" else f"/wechat/{name}"
    if callback_url is not None and not callback_url.startswith("/"):
        raise ConfigError(key("callback_url"), "must start with '/'")

    token = _optional_str(settings.get("token"), key("token"))
    app_id = _optional_str(settings.get("app_id"), key("app_id"))
    aes_key = _optional_str(settings.get("encoding_aes_key"), key("encoding_aes_key"))
    if callback_url is not None and token is None:
        raise ConfigError(key("token"), "the callback Token is required to receive callbacks")
    if aes_key is not None:
        decode_aes_key(aes_key, key("encoding_aes_key"))
        if app_id is None:
            what = "CorpID" if kind == "work" else "AppID"
            raise ConfigError(key("app_id"), f"the {what} is required to decrypt messages")
    if kind == "work" and callback_url is not None and aes_key is None:
        raise ConfigError(key("encoding_aes_key"), "WeCom callbacks are always encrypted")

    agent_id = settings.get("agent_id")
    if agent_id is not None and agent_id != "":
        try:
            agent_id = int(agent_id)
        except (TypeError, ValueError):
            raise ConfigError(key("agent_id"), "must be a number") from None
    else:
        agent_id = None

    base = settings.get("api_base_url") or (
        WORK_API_BASE_URL if kind == "work" else DEFAULT_API_BASE_URL
    )
    relay_url = _optional_str(settings.get("relay_url"), key("relay_url"))
    relay_token = _optional_str(settings.get("relay_token"), key("relay_token"))
    if relay_url is not None and relay_token is None:
        raise ConfigError(key("relay_token"), "is required with a relay URL")
    relay_callback = _optional_str(settings.get("relay_callback_url"), key("relay_callback_url"))
    if relay_url is not None and relay_callback is None and callback_url is not None:
        relay_callback = callback_url.rstrip("/") + "/relay"

    return Account(
        name=name,
        kind=kind,
        token=token,
        app_id=app_id,
        app_secret=_optional_str(settings.get("app_secret"), key("app_secret")),
        encoding_aes_key=aes_key,
        agent_id=agent_id,
        format=fmt,
        callback_url=callback_url,
        api_base_url=str(base).rstrip("/"),
        replay_window=_number(settings.get("replay_window", 300), key("replay_window")),
        dedup_ttl=_number(settings.get("dedup_ttl", 60), key("dedup_ttl")),
        reply_deadline=_number(settings.get("reply_deadline", 4.5), key("reply_deadline")),
        relay_url=relay_url,
        relay_token=relay_token,
        relay_callback_url=relay_callback,
    )


def load_accounts(config: Config) -> dict[str, Account]:
    """Read every account from an app's config; raise :class:`ConfigError` on mistakes."""
    flat = {
        k.removeprefix("WECHAT_").lower(): v
        for k, v in config.items()
        if k.startswith("WECHAT_") and k not in _APP_KEYS
    }
    shared = {k: flat[k] for k in _SHARED if flat.get(k) is not None}
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
            accounts[name] = build_account(name, {**shared, **settings})

    has_flat = any(flat.get(k) for k in ("token", "app_id", "app_secret"))
    if "default" not in accounts and (has_flat or many is None):
        settings = {
            k: v
            for k, v in flat.items()
            if k in _ACCOUNT_KEYS and (v is not None or k == "callback_url")
        }
        accounts["default"] = build_account("default", settings)

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


# Keys that configure the extension as a whole, not an account.
_APP_KEYS = frozenset(
    {
        "WECHAT_ACCOUNTS",
        "WECHAT_CACHE",
        "WECHAT_STABLE_TOKEN",
        "WECHAT_OAUTH_URL",
        "WECHAT_OAUTH_SCOPE",
    }
)
_ACCOUNT_KEYS = frozenset(f.name for f in dataclasses.fields(Account)) - {"name"}
