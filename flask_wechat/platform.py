"""What one kind of WeChat account is: the platform record.

Official Accounts, Mini Programs and WeCom apps share the callback pipeline, the
API client, the JS-SDK helper and OAuth. What differs is data, here — one
:class:`Platform` per ``WECHAT_KIND`` in :data:`PLATFORMS` — and behaviour, kept
by the layer it belongs to in one table by kind:

* how a callback is opened: the callback class,
  :data:`flask_wechat.blueprints.CALLBACKS`;
* how the access_token and tickets are fetched, how a reply goes out through the
  API, the OAuth and JS-SDK details: the API profile,
  :data:`flask_wechat.api.profiles.PROFILES`;
* how WeChat's envelope is built for tests: :mod:`flask_wechat.testing`.

The record depends on nothing above it, so every layer may read it.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Platform:
    """The data of one ``WECHAT_KIND``."""

    #: the ``WECHAT_KIND`` value.
    kind: str
    #: a human name, with WeChat's own.
    title: str
    #: where the API lives (``WECHAT_API_BASE_URL`` overrides it).
    api_base_url: str = "https://api.weixin.qq.com"
    #: what WeChat calls the id that encrypted messages carry.
    id_name: str = "AppID"
    #: what WeChat calls the secret that fetches the access_token.
    secret_name: str = "AppSecret"  # noqa: S105 - a name, not a secret
    #: message push formats the admin console offers (``WECHAT_FORMAT``).
    formats: tuple[str, ...] = ("xml",)
    #: whether every callback is encrypted (no plaintext mode).
    always_encrypted: bool = False
    #: whether the callback's answer can carry a reply (else replies are sent
    #: through the API and the callback answers ``success``).
    passive_replies: bool = True
    #: the message modes WeChat offers.
    modes: tuple[str, ...] = ("plain", "compatible", "safe")
    #: whether a callback's query names the sender (``openid``).
    openid_in_query: bool = True


#: Official Accounts (公众号): the plain WeChat app.
OFFICIAL_ACCOUNT = Platform("mp", "Official Account (公众号)")

#: Mini Programs and Mini Games: XML or JSON push, no passive replies (seed
#: ``miniprogram-message-server-setup.txt``).
MINI_PROGRAM = Platform(
    "miniprogram",
    "Mini Program (小程序/小游戏)",
    formats=("xml", "json"),
    passive_replies=False,
    openid_in_query=False,
)

#: WeCom applications: their own API host, callbacks always encrypted (seed
#: ``wecom-callback-mode-crypto.txt``).
WECOM = Platform(
    "work",
    "WeCom (企业微信)",
    api_base_url="https://qyapi.weixin.qq.com",
    id_name="CorpID",
    secret_name="Secret",  # noqa: S106 - a name, not a secret
    always_encrypted=True,
    modes=("safe",),
)

#: ``WECHAT_KIND`` → its record.
PLATFORMS: dict[str, Platform] = {p.kind: p for p in (OFFICIAL_ACCOUNT, MINI_PROGRAM, WECOM)}
