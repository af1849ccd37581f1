"""OAuth web sign-in walked step by step: the redirects, the code exchange, userinfo,
login_required, logout and what oauth_authorized receivers may answer."""

from __future__ import annotations

import typing as t
from urllib.parse import parse_qsl, urlsplit

import pytest
from flask import Flask, Response, redirect

from flask_wechat import signals
from flask_wechat.oauth import (
    WeChatUser,
)
from flask_wechat.sandbox import SANDBOX_APP_ID, SANDBOX_OPENID, Sandbox

from . import conftest as oauth


@pytest.mark.parametrize("scope", ["snsapi_base", "snsapi_userinfo"])
def test_sign_in_step_by_step(sandbox: Sandbox, scope: str) -> None:
    [open_id] = sandbox.add_users(1)
    sandbox.oauth_user = open_id
    app, wechat = oauth.make_app(sandbox, WECHAT_OAUTH_SCOPE=scope)
    client = app.test_client()
    events: oauth.Events = []

    # 1. the protected page sends an anonymous visitor to our login view
    first = client.get("/protected?tab=2")
    login = oauth.location(first)
    assert urlsplit(login).path == oauth.LOGIN_PATH
    assert oauth.query_of(login) == {"next": "/protected?tab=2"}

    # 2. the login view sends the browser to WeChat's authorize page
    authorize_url = oauth.location(client.get(login))
    parts = urlsplit(authorize_url)
    assert f"{parts.scheme}://{parts.netloc}" == sandbox.url
    assert parts.path == "/connect/oauth2/authorize"
    assert parts.fragment == "wechat_redirect"
    params = parse_qsl(parts.query, keep_blank_values=True)
    # WeChat wants the parameters in exactly this order.
    assert [name for name, _ in params] == [
        "appid",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
    ]
    query = dict(params)
    assert query["appid"] == SANDBOX_APP_ID
    assert query["redirect_uri"] == "http://localhost" + oauth.AUTHORIZED_PATH
    assert query["response_type"] == "code"
    assert query["scope"] == scope
    state = query["state"]
    assert state
    assert len(state.encode()) <= 128

    # 3. WeChat (the sandbox) sends the browser back with a code and our state
    authorized_url = oauth.visit_wechat(authorize_url)
    back = urlsplit(authorized_url)
    assert f"{back.scheme}://{back.netloc}{back.path}" == query["redirect_uri"]
    returned = oauth.query_of(authorized_url)
    assert returned["state"] == state
    assert returned["code"]
    assert sandbox.count(oauth.EXCHANGE_PATH) == 0

    # 4. our app exchanges the code and sends the browser to where it started
    with signals.oauth_authorized.connected_to(oauth.recorder(events), app):
        callback = client.get(authorized_url)
    assert oauth.location(callback) == "/protected?tab=2"
    assert sandbox.count(oauth.EXCHANGE_PATH) == 1
    [exchange] = [call for call in sandbox.calls if call.path == oauth.EXCHANGE_PATH]
    assert exchange.params["code"] == returned["code"]
    assert exchange.params["appid"] == SANDBOX_APP_ID

    # 5. the page now shows the user's OpenID, without any further redirect
    page = client.get("/protected?tab=2")
    assert page.status_code == 200
    assert page.get_data(as_text=True) == open_id

    # the signal saw the same user
    assert len(events) == 1
    assert events[0]["sender"] is app
    user = events[0]["user"]
    assert isinstance(user, WeChatUser)
    assert user.open_id == open_id
    assert user.union_id == sandbox.users[open_id]["unionid"]
    assert user.user_id is None
    assert user.scope == scope
    with app.app_context():
        assert events[0]["account"] == wechat.account().name
        assert user.account == wechat.account().name


def test_userinfo_returns_the_profile_for_userinfo_scope(sandbox: Sandbox) -> None:
    [open_id] = sandbox.add_users(1)
    sandbox.oauth_user = open_id
    app, _ = oauth.make_app(sandbox, WECHAT_OAUTH_SCOPE="snsapi_userinfo")
    client = app.test_client()

    flow = oauth.sign_in(client, "/profile")
    assert oauth.location(flow.callback) == "/profile"
    response = client.get("/profile")

    assert response.status_code == 200
    profile = response.get_json()
    expected = sandbox.users[open_id]
    assert profile["openid"] == open_id
    assert profile["nickname"] == expected["nickname"]
    assert profile["headimgurl"] == expected["headimgurl"]
    assert profile["unionid"] == expected["unionid"]
    assert sandbox.count("/sns/userinfo") == 1
    [call] = [c for c in sandbox.calls if c.path == "/sns/userinfo"]
    assert call.params["openid"] == open_id


def test_userinfo_needs_the_userinfo_scope(sandbox: Sandbox) -> None:
    app, _ = oauth.make_app(sandbox)  # snsapi_base by default
    client = app.test_client()
    oauth.sign_in(client, "/profile")
    response = client.get("/profile")
    assert response.get_json() == {"errcode": 48001}


def test_userinfo_refreshes_an_expired_web_token() -> None:
    # A sandbox whose tokens live 30 s: the app counts a minute of margin, so the
    # web token it stored is already due for a refresh.
    with Sandbox(token_ttl=30) as short_lived:
        app, _ = oauth.make_app(short_lived, WECHAT_OAUTH_SCOPE="snsapi_userinfo")
        client = app.test_client()
        oauth.sign_in(client, "/profile")
        response = client.get("/profile")

        assert response.get_json()["openid"] == SANDBOX_OPENID
        assert short_lived.count("/sns/oauth2/refresh_token") == 1
        [refresh] = [c for c in short_lived.calls if c.path == "/sns/oauth2/refresh_token"]
        [original] = list(short_lived.refresh_tokens)
        assert refresh.params["refresh_token"] == original
        [userinfo_call] = [c for c in short_lived.calls if c.path == "/sns/userinfo"]
        oauth_tokens = [tok for tok in short_lived.tokens.values() if tok.kind == "oauth"]
        assert len(oauth_tokens) == 2
        # userinfo went out with the new token, not the one from the code exchange.
        assert (
            userinfo_call.params["access_token"]
            == max(oauth_tokens, key=lambda tok: tok.issued_at).value
        )


def test_login_required_asks_for_userinfo_scope_when_the_view_needs_it(
    sandbox: Sandbox,
) -> None:
    app, _ = oauth.make_app(sandbox)
    client = app.test_client()
    oauth.sign_in(client)  # snsapi_base
    assert client.get("/protected").status_code == 200

    # A base sign-in is not enough for a view that needs the profile.
    login = oauth.location(client.get("/upgrade"))
    assert urlsplit(login).path == oauth.LOGIN_PATH
    assert oauth.query_of(login) == {"next": "/upgrade", "scope": "snsapi_userinfo"}

    flow = oauth.sign_in(client, login)
    assert oauth.query_of(flow.authorize_url)["scope"] == "snsapi_userinfo"
    assert oauth.location(flow.callback) == "/upgrade"
    response = client.get("/upgrade")
    assert response.status_code == 200
    assert response.get_json() == {
        "scope": "snsapi_userinfo",
        "nickname": sandbox.users[SANDBOX_OPENID]["nickname"],
    }


def test_logout_forgets_the_user(sandbox: Sandbox) -> None:
    app, _ = oauth.make_app(sandbox)
    client = app.test_client()
    oauth.sign_in(client)
    assert client.get("/protected").status_code == 200
    assert client.get("/logout").status_code == 200
    assert oauth.SESSION_KEY not in oauth.session_data(app, client)
    assert urlsplit(oauth.location(client.get("/protected"))).path == oauth.LOGIN_PATH


# -- signals -------------------------------------------------------------------------------


def test_oauth_authorized_receiver_response_replaces_the_redirect(sandbox: Sandbox) -> None:
    app, _ = oauth.make_app(sandbox)
    client = app.test_client()
    seen: list[WeChatUser] = []

    def welcome(sender: Flask, *, user: WeChatUser, **payload: t.Any) -> Response:
        seen.append(user)
        return t.cast(Response, redirect("/welcome"))

    def bystander(sender: Flask, **payload: t.Any) -> None:
        return None

    with (
        signals.oauth_authorized.connected_to(bystander, app),
        signals.oauth_authorized.connected_to(welcome, app),
    ):
        flow = oauth.sign_in(client, "/protected")

    assert oauth.location(flow.callback) == "/welcome"
    assert [user.open_id for user in seen] == [SANDBOX_OPENID]
    # The user is signed in all the same.
    assert oauth.session_data(app, client)[oauth.SESSION_KEY]["open_id"] == SANDBOX_OPENID
    assert client.get("/protected").get_data(as_text=True) == SANDBOX_OPENID


def test_oauth_authorized_receiver_may_answer_a_page(sandbox: Sandbox) -> None:
    app, _ = oauth.make_app(sandbox)
    client = app.test_client()

    def first_visit(sender: Flask, **payload: t.Any) -> Response:
        return Response("please accept the terms", 200)

    with signals.oauth_authorized.connected_to(first_visit, app):
        flow = oauth.sign_in(client, "/protected")

    assert flow.callback.status_code == 200
    assert flow.callback.get_data(as_text=True) == "please accept the terms"


def test_receivers_returning_other_values_keep_the_redirect(sandbox: Sandbox) -> None:
    app, _ = oauth.make_app(sandbox)
    client = app.test_client()

    def chatty(sender: Flask, **payload: t.Any) -> str:
        return "not a response"

    with signals.oauth_authorized.connected_to(chatty, app):
        flow = oauth.sign_in(client, "/protected")
    assert oauth.location(flow.callback) == "/protected"


# -- failures ------------------------------------------------------------------------------
