"""Mini Program login against the sandbox."""

from __future__ import annotations

import typing as t

import pytest

from flask_wechat.errors import APIError, InvalidCode
from flask_wechat.sandbox import SANDBOX_APP_ID, SANDBOX_APP_SECRET

from .conftest import posted

if t.TYPE_CHECKING:
    from flask_wechat.api import Client
    from flask_wechat.sandbox import Sandbox

    from .conftest import ClientFactory

PLAYER = "oMINIGAMEPLAYER0000000000001"


@pytest.fixture
def mini_client(make_client: ClientFactory) -> Client:
    """A Mini Program account (the sandbox serves them under its AppID)."""
    return make_client(
        WECHAT_KIND="miniprogram",
        WECHAT_APP_ID=SANDBOX_APP_ID,
        WECHAT_APP_SECRET=SANDBOX_APP_SECRET,
    )


def test_code_to_session(mini_client: Client, sandbox: Sandbox) -> None:
    session = mini_client.miniprogram.code_to_session(sandbox.oauth_code(PLAYER))
    assert session["openid"] == PLAYER
    assert session["session_key"] == sandbox.session_key_for(PLAYER)
    (call,) = sandbox.calls
    assert call.path == "/sns/jscode2session"
    assert call.params["appid"] == SANDBOX_APP_ID
    assert call.params["grant_type"] == "authorization_code"
    assert "access_token" not in call.params  # signed with the AppSecret only


def test_code_works_once(mini_client: Client, sandbox: Sandbox) -> None:
    code = sandbox.oauth_code(PLAYER)
    mini_client.miniprogram.code_to_session(code)
    with pytest.raises(APIError) as info:
        mini_client.miniprogram.code_to_session(code)
    assert info.value.errcode == 40163


def test_bad_code(mini_client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(APIError) as info:
        mini_client.miniprogram.code_to_session("not-a-code")
    assert info.value.errcode == 40029


def test_phone_number(mini_client: Client, sandbox: Sandbox) -> None:
    code = sandbox.phone_code(PLAYER, phone="+86 13800138000")
    info = mini_client.miniprogram.get_phone_number(code)
    assert info["phoneNumber"] == "13800138000"
    assert info["purePhoneNumber"] == "13800138000"
    assert info["countryCode"] == "86"
    assert info["watermark"]["appid"] == SANDBOX_APP_ID
    assert posted(sandbox, "/wxa/business/getuserphonenumber") == [{"code": code}]
    with pytest.raises(InvalidCode) as refused:
        mini_client.miniprogram.get_phone_number(code)  # a code works once
    assert refused.value.errcode == 40029


def test_foreign_phone_number(mini_client: Client, sandbox: Sandbox) -> None:
    info = mini_client.miniprogram.get_phone_number(sandbox.phone_code(PLAYER, phone="+1 5550100"))
    assert info["phoneNumber"] == "+15550100"
    assert info["countryCode"] == "1"


def test_unlimited_code_is_an_image(mini_client: Client, sandbox: Sandbox) -> None:
    image = mini_client.miniprogram.get_unlimited_code("id=42", "pages/item", width=430)
    assert image.startswith(b"\x89PNG")
    assert posted(sandbox, "/wxa/getwxacodeunlimit") == [
        {"scene": "id=42", "page": "pages/item", "width": 430}
    ]
    with pytest.raises(APIError) as info:
        mini_client.miniprogram.get_unlimited_code("x" * 33)
    assert info.value.errcode == 40097
    with pytest.raises(APIError) as info:
        mini_client.miniprogram.get_unlimited_code("a", "/pages/item")
    assert info.value.errcode == 40165


def test_links(mini_client: Client, sandbox: Sandbox) -> None:
    link = mini_client.miniprogram.generate_urllink(
        "pages/item", "id=1", expire_type=1, expire_interval=7
    )
    assert link.startswith("https://wxaurl.cn/")
    scheme = mini_client.miniprogram.generate_scheme("pages/item", "id=1", env_version="trial")
    assert scheme.startswith("weixin://dl/business/?t=")
    assert posted(sandbox, "/wxa/generatescheme") == [
        {"jump_wxa": {"path": "pages/item", "query": "id=1", "env_version": "trial"}}
    ]
    with pytest.raises(APIError) as info:
        mini_client.miniprogram.generate_urllink(expire_type=1, expire_interval=31)
    assert info.value.errcode == 40097


def test_content_security(mini_client: Client, sandbox: Sandbox) -> None:
    checked = mini_client.miniprogram.msg_sec_check("你好", PLAYER)
    assert checked["result"]["suggest"] == "pass"
    assert posted(sandbox, "/wxa/msg_sec_check") == [
        {"content": "你好", "version": 2, "scene": 2, "openid": PLAYER}
    ]
    assert mini_client.miniprogram.msg_sec_check("risky text", PLAYER)["result"]["suggest"] == (
        "risky"
    )
    trace_id = mini_client.miniprogram.media_check_async("https://example.com/a.png", 2, PLAYER)
    (sent,) = sandbox.sent
    assert sent["kind"] == "media_check"
    assert sent["trace_id"] == trace_id
    with pytest.raises(APIError):
        mini_client.miniprogram.media_check_async("ftp://example.com/a.png", 2, PLAYER)
