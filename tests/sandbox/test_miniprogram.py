"""The sandbox: Mini Program login."""

from __future__ import annotations

import base64

from flask_wechat.sandbox import (
    SANDBOX_OPENID,
    Sandbox,
)

from .conftest import Api, errcode

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


def test_phone_codes(api: Api, sandbox: Sandbox) -> None:
    code = sandbox.phone_code("oPHONE", phone="+852 61234567")
    path = "/wxa/business/getuserphonenumber"
    assert errcode(api.get(path, code=code)) == 43002
    assert errcode(api.post(path, {})) == 41008
    info = api.post(path, {"code": code})["phone_info"]
    assert info["phoneNumber"] == "+85261234567"
    assert errcode(api.post(path, {"code": code})) == 40029
    other = sandbox.register("wxother0000000001", "other-secret", kind="miniprogram")
    foreign = sandbox.phone_code("oPHONE", app_id=other.app_id)
    assert errcode(api.post(path, {"code": foreign})) == 40029


def test_sec_check_arguments(api: Api) -> None:
    body = {"content": "hi", "version": 2, "scene": 2, "openid": "oX"}
    assert errcode(api.post("/wxa/msg_sec_check", body)) == 0
    assert errcode(api.post("/wxa/msg_sec_check", {**body, "version": 1})) == 40097
    assert errcode(api.post("/wxa/msg_sec_check", {**body, "scene": 9})) == 40097
    assert errcode(api.post("/wxa/msg_sec_check", {**body, "openid": ""})) == 40003
