"""Web authorization against the sandbox."""

from __future__ import annotations

import typing as t
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from flask_wechat.errors import APIError
from flask_wechat.sandbox import SANDBOX_APP_ID, SANDBOX_OPENID

if t.TYPE_CHECKING:
    from flask_wechat.api import Client
    from flask_wechat.sandbox import Sandbox

REDIRECT = "https://shop.example.com/login/callback?next=/cart&x=1"


def test_authorize_url_on_the_sandbox(client: Client, sandbox: Sandbox) -> None:
    url = client.oauth.authorize_url(REDIRECT, scope="snsapi_userinfo", state="abc123")
    assert url == (
        f"{sandbox.url}/connect/oauth2/authorize?appid={SANDBOX_APP_ID}"
        "&redirect_uri=https%3A%2F%2Fshop.example.com%2Flogin%2Fcallback%3Fnext%3D%2Fcart%26x%3D1"
        "&response_type=code&scope=snsapi_userinfo&state=abc123#wechat_redirect"
    )
    query = urlsplit(url).query
    assert [k for k, _ in parse_qsl(query, keep_blank_values=True)] == [
        "appid",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
    ]
    assert dict(parse_qsl(query))["redirect_uri"] == REDIRECT


def test_authorize_url_on_wechat(make_app: t.Any) -> None:
    app, wechat = make_app(WECHAT_CALLBACK_URL=None)
    with app.app_context():
        url = wechat.client().oauth.authorize_url("https://a.example/cb")
    assert url.startswith("https://open.weixin.qq.com/connect/oauth2/authorize?appid=")
    assert url.endswith("&response_type=code&scope=snsapi_base&state=#wechat_redirect")


def test_consent_page_round_trip(client: Client, sandbox: Sandbox) -> None:
    url = client.oauth.authorize_url(REDIRECT, state="s1")
    response = requests.get(url, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    back = urlsplit(response.headers["Location"])
    assert back._replace(query="").geturl() == "https://shop.example.com/login/callback"
    query = dict(parse_qsl(back.query))
    assert query["next"] == "/cart"
    assert query["state"] == "s1"
    grant = client.oauth.exchange_code(query["code"])
    assert grant["openid"] == SANDBOX_OPENID
    assert grant["scope"] == "snsapi_base"


def test_code_exchange_userinfo_refresh_check(client: Client, sandbox: Sandbox) -> None:
    code = sandbox.oauth_code(SANDBOX_OPENID, scope="snsapi_userinfo")
    grant = client.oauth.exchange_code(code)
    assert grant["openid"] == SANDBOX_OPENID
    assert grant["scope"] == "snsapi_userinfo"
    web_token = grant["access_token"]

    profile = client.oauth.userinfo(web_token, SANDBOX_OPENID)
    assert profile["openid"] == SANDBOX_OPENID
    assert profile["nickname"] == sandbox.users[SANDBOX_OPENID]["nickname"]
    assert client.oauth.check(web_token, SANDBOX_OPENID) is True
    assert client.oauth.check("not-a-token", SANDBOX_OPENID) is False
    assert client.oauth.check(web_token, "o-someone-else") is False

    refreshed = client.oauth.refresh(grant["refresh_token"])
    assert refreshed["openid"] == SANDBOX_OPENID
    assert refreshed["access_token"] != web_token
    assert client.oauth.check(refreshed["access_token"], SANDBOX_OPENID) is True
    # The account's own access_token is never needed (nor sent) for any of this.
    assert sandbox.token_requests == 0
    (exchange,) = [c for c in sandbox.calls if c.path == "/sns/oauth2/access_token"]
    assert "access_token" not in exchange.params


def test_userinfo_needs_the_userinfo_scope(client: Client, sandbox: Sandbox) -> None:
    grant = client.oauth.exchange_code(sandbox.oauth_code(SANDBOX_OPENID))
    with pytest.raises(APIError) as info:
        client.oauth.userinfo(grant["access_token"], SANDBOX_OPENID)
    assert info.value.errcode == 48001


def test_check_does_not_hide_a_busy_wechat(client: Client, sandbox: Sandbox) -> None:
    sandbox.fail("/sns/auth", -1, times=None)
    with pytest.raises(APIError) as info:
        client.oauth.check("token", SANDBOX_OPENID)
    assert info.value.errcode == -1


def test_code_works_once(client: Client, sandbox: Sandbox) -> None:
    code = sandbox.oauth_code(SANDBOX_OPENID)
    client.oauth.exchange_code(code)
    with pytest.raises(APIError) as info:
        client.oauth.exchange_code(code)
    assert info.value.errcode == 40163


def test_code_for_another_app(client: Client, sandbox: Sandbox) -> None:
    sandbox.register("wxsandboxotherapp01", "other-secret")
    code = sandbox.oauth_code(SANDBOX_OPENID, app_id="wxsandboxotherapp01")
    with pytest.raises(APIError) as info:
        client.oauth.exchange_code(code)
    assert info.value.errcode == 40029


def test_qrconnect_url(client: Client) -> None:
    url = client.oauth.qrconnect_url("https://example.com/cb?x=1", state="abc")
    assert url == (
        "https://open.weixin.qq.com/connect/qrconnect?appid=wxsandbox0000000001"
        "&redirect_uri=https%3A%2F%2Fexample.com%2Fcb%3Fx%3D1"
        "&response_type=code&scope=snsapi_login&state=abc#wechat_redirect"
    )
