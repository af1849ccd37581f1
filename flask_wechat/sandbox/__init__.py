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

:class:`RelayPlatform` fakes the 7moor customer-service platform the same way
(see :mod:`flask_wechat.relay`).
"""

from __future__ import annotations

from .relay import RelayPlatform
from .server import Sandbox
from .state import (
    ERRMSGS,
    SANDBOX_APP_ID,
    SANDBOX_APP_SECRET,
    SANDBOX_CORP_ID,
    SANDBOX_CORP_SECRET,
    SANDBOX_OPENID,
    SANDBOX_USERID,
    TOKEN_PATHS,
    APIFault,
    Call,
    SandboxState,
)

__all__ = [
    "ERRMSGS",
    "SANDBOX_APP_ID",
    "SANDBOX_APP_SECRET",
    "SANDBOX_CORP_ID",
    "SANDBOX_CORP_SECRET",
    "SANDBOX_OPENID",
    "SANDBOX_USERID",
    "TOKEN_PATHS",
    "APIFault",
    "Call",
    "RelayPlatform",
    "Sandbox",
    "SandboxState",
]
