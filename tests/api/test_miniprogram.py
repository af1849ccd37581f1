"""Mini Program login against the sandbox."""

from __future__ import annotations

import typing as t

import pytest

from flask_wechat.errors import APIError
from flask_wechat.sandbox import SANDBOX_APP_ID, SANDBOX_APP_SECRET

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
