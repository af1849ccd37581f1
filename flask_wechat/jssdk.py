"""The JS-SDK: ``wx.config(...)`` for pages opened inside WeChat.

The signature is sha1 of ``jsapi_ticket=…&noncestr=…&timestamp=…&url=…`` where
``url`` is the page's address exactly as the browser has it (``location.href``
without ``#…``), percent-encoded. The most common cause of "invalid signature" is
a URL that differs from the browser's: behind a reverse proxy the app sees
``http://127.0.0.1:8000/...`` while the browser is on ``https://example.com/...``.
Tell Flask about the proxy (werkzeug's ``ProxyFix``, see the README) and the
scheme and host are right.
"""

from __future__ import annotations

import json
import time
import typing as t

from flask import request
from markupsafe import Markup
from werkzeug.urls import iri_to_uri

from .crypto import jsapi_signature, make_nonce
from .errors import ConfigError

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from .api import Client

# Characters that could end a <script> element or start HTML inside one.
_SCRIPT_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    ord("'"): "\\u0027",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def page_url() -> str:
    """The current page's URL as the browser sees it: percent-encoded, no fragment.

    The request target is taken as the browser sent it (``REQUEST_URI``/``RAW_URI``),
    because rebuilding it from the decoded path and query loses escapes such as
    ``%27`` that the browser keeps in ``location.href``.
    """
    environ = request.environ
    target = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if isinstance(target, str) and target.startswith("/"):
        # WSGI strings carry the raw bytes as latin-1; non-ASCII is re-escaped below.
        raw = target.encode("latin-1").decode("utf-8", "replace")
        url = f"{request.scheme}://{request.host}{raw}"
    else:
        url = request.url
    return iri_to_uri(url).split("#", 1)[0]


def build_config(
    client: Client,
    url: str,
    js_api_list: Iterable[str],
    *,
    debug: bool = False,
    open_tag_list: Iterable[str] | None = None,
) -> dict[str, t.Any]:
    """The object to pass to ``wx.config`` for the page at ``url``.

    WeCom accounts sign with the WeCom ticket and add ``beta: true`` (needed for
    ``wx.invoke`` style APIs). The ticket itself never leaves the server.
    """
    url = url.split("#", 1)[0]
    timestamp = int(time.time())
    nonce = make_nonce(16)
    config: dict[str, t.Any] = {
        "appId": client.account.app_id or "",
        "timestamp": timestamp,
        "nonceStr": nonce,
        "signature": jsapi_signature(client.jsapi_ticket, nonce, timestamp, url),
        "jsApiList": list(js_api_list),
    }
    if debug:
        config["debug"] = True
    config.update(client.profile.jssdk_extra(client.account))
    if open_tag_list:
        config["openTagList"] = list(open_tag_list)
    return config


def build_agent_config(client: Client, url: str, js_api_list: Iterable[str]) -> dict[str, t.Any]:
    """The object to pass to WeCom's ``wx.agentConfig`` for the page at ``url``:
    ``corpid``, ``agentid``, ``timestamp``, ``nonceStr``, ``signature``, ``jsApiList``.

    Signed like ``wx.config`` but with the app's ``agent_config`` ticket
    (``/cgi-bin/ticket/get?type=agent_config``); an account whose platform has
    no such ticket (not WeCom) raises ValueError from the platform.

    https://developer.work.weixin.qq.com/document/path/94313
    """
    url = url.split("#", 1)[0]
    ticket = client.ticket("agent_config")
    agent_id = client.account.agent_id
    if agent_id is None:
        raise ConfigError("WECHAT_AGENT_ID", "wx.agentConfig needs the app's AgentID")
    timestamp = int(time.time())
    nonce = make_nonce(16)
    return {
        "corpid": client.account.app_id or "",
        "agentid": agent_id,
        "timestamp": timestamp,
        "nonceStr": nonce,
        "signature": jsapi_signature(ticket, nonce, timestamp, url),
        "jsApiList": list(js_api_list),
    }


def config_script(config: t.Mapping[str, t.Any]) -> Markup:
    """A ``<script>`` calling ``wx.config`` with ``config``, safely escaped."""
    return _call_script("wx.config", config)


def agent_config_script(config: t.Mapping[str, t.Any]) -> Markup:
    """A ``<script>`` calling ``wx.agentConfig`` with ``config``, safely escaped."""
    return _call_script("wx.agentConfig", config)


#: What the page's console says when WeChat's JS-SDK file (``jweixin-*.js``) did
#: not load before the helper's ``<script>``: without it there is no ``wx``.
MISSING_JSSDK = (
    "flask_wechat: the WeChat JS-SDK file (jweixin-1.6.0.js) did not load before this "
    "script, so {function} was not called; include "
    '<script src="https://res.wx.qq.com/open/js/jweixin-1.6.0.js"></script> first.'
)


def _call_script(function: str, config: t.Mapping[str, t.Any]) -> Markup:
    """``function(config)`` guarded: when WeChat's JS file did not load (blocked, a
    typo in its URL, a page opened outside WeChat) the page logs a console error
    saying so instead of throwing ``ReferenceError: wx is not defined``."""
    data = json.dumps(config, ensure_ascii=False, sort_keys=True).translate(_SCRIPT_ESCAPES)
    missing = json.dumps(MISSING_JSSDK.format(function=function)).translate(_SCRIPT_ESCAPES)
    return Markup(  # noqa: S704 - escaped above
        "<script>"
        f'if (typeof wx === "undefined" || typeof {function} !== "function") '
        f"{{ console.error({missing}); }} "
        f"else {{ {function}({data}); }}"
        "</script>"
    )
