"""The sandbox: Mini Program login."""

from __future__ import annotations

import base64

from flask_wechat.sandbox import (
    SANDBOX_OPENID,
    Sandbox,
)

from .conftest import Api

# -- mini program login ------------------------------------------------------------------


def test_jscode2session(api: Api, sandbox: Sandbox) -> None:
    sandbox.register("wxminiprogram00001", "mini-secret", kind="miniprogram")
    code = sandbox.oauth_code(SANDBOX_OPENID, app_id="wxminiprogram00001")
    params = {
        "appid": "wxminiprogram00001",
        "secret": "mini-secret",
        "js_code": code,
        "grant_type": "authorization_code",
    }
    session = api.raw("GET", "/sns/jscode2session", params=params).json()
    assert session["openid"] == SANDBOX_OPENID
    assert len(base64.b64decode(session["session_key"])) == 16
    assert session["session_key"] == sandbox.session_key_for(SANDBOX_OPENID)
    assert session["unionid"] == sandbox.users[SANDBOX_OPENID]["unionid"]
    assert "errcode" not in session
    assert api.raw("GET", "/sns/jscode2session", params=params).json()["errcode"] == 40163
    wrong = api.raw("GET", "/sns/jscode2session", params={**params, "secret": "x"}).json()
    assert wrong["errcode"] == 40125
    assert sandbox.session_key_for("oNobody") is None
