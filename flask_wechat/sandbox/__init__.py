"""A fake WeChat API that speaks real HTTP on loopback.

The test suite and the example app (when no real credentials exist) point
``WECHAT_API_BASE_URL`` at a :class:`Sandbox`, which answers like
``api.weixin.qq.com`` / ``qyapi.weixin.qq.com``: access tokens that expire and
get replaced, errcodes, one-time codes, paging, media round trips. Tests can
inject faults and delays and inspect every call::

    from flask_wechat.sandbox import Sandbox

    with Sandbox() as sandbox:
        app.config.update(sandbox.flask_config())
        sandbox.fail("/cgi-bin/message/custom/send", 45009)
        ...
        assert sandbox.sent[0]["kind"] == "custom"

It is as strict as WeChat where that shows in tests: wrong HTTP methods get
43001/43002, customer-service messages go only to users who wrote within the
last 48 hours (:meth:`~SandboxState.user_wrote` says a user just wrote;
:meth:`~SandboxState.set_last_interaction` moves that back in time), media ids
must name uploaded media, and every entry of ``sent`` and ``calls`` names the
app that sent it (``entry["app_id"]``, and ``agentid`` for WeCom).

Each registered app has its own followers and menus. One Official Account
(:data:`SANDBOX_APP_ID`) and one WeCom app (:data:`SANDBOX_CORP_ID`, AgentID
:data:`SANDBOX_AGENT_ID`) exist from the start; register more of any kind and
point a Flask app at one::

    sandbox.register("wxminiprogram00001", "mini-secret", kind="miniprogram")
    agent = sandbox.register(SANDBOX_CORP_ID, "second-app-secret", kind="work")
    app.config.update(sandbox.flask_config("work", SANDBOX_CORP_ID, agent_id=agent.agent_id))

Run on its own, at a fixed port, it prints the ``WECHAT_*`` settings to use::

    python -m flask_wechat.sandbox --port 8900 [--host 127.0.0.1] [--token-ttl 7200]

:class:`RelayPlatform` fakes the 7moor customer-service platform the same way
(see :mod:`flask_wechat.relay`).
"""

from __future__ import annotations

from .relay import RelayPlatform
from .server import Sandbox
from .state import (
    ERRMSGS,
    SANDBOX_AGENT_ID,
    SANDBOX_APP_ID,
    SANDBOX_APP_SECRET,
    SANDBOX_CORP_ID,
    SANDBOX_CORP_SECRET,
    SANDBOX_OPENID,
    SANDBOX_USERID,
    TOKEN_PATHS,
    APIFault,
    AppData,
    Call,
    Registration,
    SandboxState,
)

__all__ = [
    "ERRMSGS",
    "SANDBOX_AGENT_ID",
    "SANDBOX_APP_ID",
    "SANDBOX_APP_SECRET",
    "SANDBOX_CORP_ID",
    "SANDBOX_CORP_SECRET",
    "SANDBOX_OPENID",
    "SANDBOX_USERID",
    "TOKEN_PATHS",
    "APIFault",
    "AppData",
    "Call",
    "Registration",
    "RelayPlatform",
    "Sandbox",
    "SandboxState",
]
