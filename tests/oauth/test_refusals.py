"""What an OAuth sign-in refuses (bad state, reused or unknown codes, refused consent,
unknown scopes, redirects off the site) and what the browser never holds."""

from __future__ import annotations

import json
import typing as t
from urllib.parse import urlencode, urlsplit

import pytest

from flask_wechat import APIError, signals
from flask_wechat.oauth import (
    WeChatUser,
    stored_token,
)
from flask_wechat.sandbox import SANDBOX_OPENID, Sandbox

from . import conftest as oauth


def web_tokens(sandbox: Sandbox, since: t.Collection[str] = ()) -> list[str]:
    """The web access tokens and refresh tokens the sandbox has issued (except
    those in ``since``: issued credentials outlive ``reset``)."""
    tokens = [token.value for token in sandbox.tokens.values() if token.kind == "oauth"]
    return [token for token in [*tokens, *sandbox.refresh_tokens] if token not in since]


def test_state_mismatch_is_refused(sandbox: Sandbox) -> None:
    app, _ = oauth.make_app(sandbox)
    client = app.test_client()
    events: oauth.Events = []
    authorized_url = oauth.visit_wechat(
        oauth.location(client.get(oauth.LOGIN_PATH + "?next=/protected"))
    )
    code = oauth.query_of(authorized_url)["code"]
    state = oauth.query_of(authorized_url)["state"]

    forged = oauth.AUTHORIZED_PATH + "?" + urlencode({"code": code, "state": state + "x"})
    with signals.oauth_error.connected_to(oauth.recorder(events), app):
        response = client.get(forged)

    assert response.status_code == 403
    assert len(events) == 1
    assert events[0]["sender"] is app
    assert "state" in events[0]["reason"]
    assert events[0]["error"] is None
    assert oauth.SESSION_KEY not in oauth.session_data(app, client)
    assert sandbox.count(oauth.EXCHANGE_PATH) == 0  # the code was never spent
    assert urlsplit(oauth.location(client.get("/protected"))).path == oauth.LOGIN_PATH
    # The state works once: after a failed attempt the genuine answer is refused too.
    assert client.get(authorized_url).status_code == 403
    assert sandbox.count(oauth.EXCHANGE_PATH) == 0


def test_missing_state_parameter_is_refused(sandbox: Sandbox) -> None:
    app, _ = oauth.make_app(sandbox)
    client = app.test_client()
    authorized_url = oauth.visit_wechat(oauth.location(client.get(oauth.LOGIN_PATH)))
    code = oauth.query_of(authorized_url)["code"]

    response = client.get(oauth.AUTHORIZED_PATH + "?" + urlencode({"code": code}))

    assert response.status_code == 403
    assert oauth.SESSION_KEY not in oauth.session_data(app, client)
    assert sandbox.count(oauth.EXCHANGE_PATH) == 0


def test_no_state_in_the_session_is_refused(sandbox: Sandbox) -> None:
    app, _ = oauth.make_app(sandbox)
    events: oauth.Events = []
    # A code and state from somebody else's sign-in, opened in a fresh browser.
    code = sandbox.oauth_code(SANDBOX_OPENID)
    client = app.test_client()

    with signals.oauth_error.connected_to(oauth.recorder(events), app):
        response = client.get(
            oauth.AUTHORIZED_PATH + "?" + urlencode({"code": code, "state": "abc"})
        )

    assert response.status_code == 403
    assert len(events) == 1
    assert oauth.SESSION_KEY not in oauth.session_data(app, client)
    assert sandbox.count(oauth.EXCHANGE_PATH) == 0


def test_empty_state_does_not_match_a_missing_session_state(sandbox: Sandbox) -> None:
    app, _ = oauth.make_app(sandbox)
    code = sandbox.oauth_code(SANDBOX_OPENID)
    client = app.test_client()
    response = client.get(oauth.AUTHORIZED_PATH + "?" + urlencode({"code": code, "state": ""}))
    assert response.status_code == 403
    assert sandbox.count(oauth.EXCHANGE_PATH) == 0


def test_reused_code_is_refused_with_the_api_error(sandbox: Sandbox) -> None:
    app, _ = oauth.make_app(sandbox)
    client = app.test_client()
    events: oauth.Events = []
    flow = oauth.sign_in(client)
    assert oauth.location(flow.callback) == "/protected"
    code = oauth.query_of(flow.authorized_url)["code"]

    # A fresh sign-in attempt, then the old (already spent) code with its state.
    fresh_state = oauth.query_of(oauth.location(client.get(oauth.LOGIN_PATH + "?next=/protected")))[
        "state"
    ]
    replay = oauth.AUTHORIZED_PATH + "?" + urlencode({"code": code, "state": fresh_state})
    with signals.oauth_error.connected_to(oauth.recorder(events), app):
        response = client.get(replay)

    assert response.status_code == 400
    assert sandbox.count(oauth.EXCHANGE_PATH) == 2
    assert len(events) == 1
    error = events[0]["error"]
    assert isinstance(error, APIError)
    assert error.errcode == 40163
    with app.app_context():
        assert events[0]["account"] == app.extensions["wechat"].account().name


def test_reused_code_in_a_fresh_browser_signs_nobody_in(sandbox: Sandbox) -> None:
    app, _ = oauth.make_app(sandbox)
    code = oauth.query_of(oauth.sign_in(app.test_client()).authorized_url)["code"]

    other = app.test_client()
    fresh_state = oauth.query_of(oauth.location(other.get(oauth.LOGIN_PATH)))["state"]
    response = other.get(
        oauth.AUTHORIZED_PATH + "?" + urlencode({"code": code, "state": fresh_state})
    )

    assert response.status_code == 400
    assert oauth.SESSION_KEY not in oauth.session_data(app, other)
    assert urlsplit(oauth.location(other.get("/protected"))).path == oauth.LOGIN_PATH


def test_unknown_code_is_refused(sandbox: Sandbox) -> None:
    app, _ = oauth.make_app(sandbox)
    client = app.test_client()
    events: oauth.Events = []
    state = oauth.query_of(oauth.location(client.get(oauth.LOGIN_PATH)))["state"]
    with signals.oauth_error.connected_to(oauth.recorder(events), app):
        response = client.get(
            oauth.AUTHORIZED_PATH + "?" + urlencode({"code": "0" * 32, "state": state})
        )
    assert response.status_code == 400
    [event] = events
    assert isinstance(event["error"], APIError)
    assert event["error"].errcode == 40029
    assert oauth.SESSION_KEY not in oauth.session_data(app, client)


def test_refused_consent_without_a_code(sandbox: Sandbox) -> None:
    app, _ = oauth.make_app(sandbox, WECHAT_OAUTH_SCOPE="snsapi_userinfo")
    client = app.test_client()
    events: oauth.Events = []
    state = oauth.query_of(oauth.location(client.get(oauth.LOGIN_PATH + "?next=/protected")))[
        "state"
    ]

    # The user tapped "refuse": WeChat comes back with the state but no code.
    with signals.oauth_error.connected_to(oauth.recorder(events), app):
        response = client.get(oauth.AUTHORIZED_PATH + "?" + urlencode({"state": state}))

    assert response.status_code == 403
    assert len(events) == 1
    assert events[0]["error"] is None
    assert oauth.SESSION_KEY not in oauth.session_data(app, client)
    assert sandbox.count(oauth.EXCHANGE_PATH) == 0
    assert sandbox.count("/cgi-bin/auth/getuserinfo") == 0


def test_unknown_scope_in_the_login_url_is_refused(sandbox: Sandbox) -> None:
    app, _ = oauth.make_app(sandbox)
    client = app.test_client()
    events: oauth.Events = []
    with signals.oauth_error.connected_to(oauth.recorder(events), app):
        response = client.get(oauth.LOGIN_PATH + "?scope=snsapi_everything")
    assert response.status_code == 400
    assert len(events) == 1
    assert sandbox.count("/connect/oauth2/authorize") == 0


# -- open redirects ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example",
        "//evil.example/path?x=1",
        "/\\evil.example",
        "https:/evil.example",
        "javascript:alert(1)",
    ],
)
def test_next_to_another_host_is_replaced_by_the_root(sandbox: Sandbox, target: str) -> None:
    app, _ = oauth.make_app(sandbox)
    client = app.test_client()
    flow = oauth.sign_in(client, oauth.LOGIN_PATH + "?" + urlencode({"next": target}))
    assert oauth.location(flow.callback) == "/"
    # The sign-in itself succeeded.
    assert oauth.session_data(app, client)[oauth.SESSION_KEY]["open_id"] == SANDBOX_OPENID


def test_next_path_on_this_site_is_kept(sandbox: Sandbox) -> None:
    app, _ = oauth.make_app(sandbox)
    client = app.test_client()
    target = "/orders/7?tab=paid&sort=-date"
    flow = oauth.sign_in(client, oauth.LOGIN_PATH + "?" + urlencode({"next": target}))
    assert oauth.location(flow.callback) == target


def test_login_without_next_goes_to_the_root(sandbox: Sandbox) -> None:
    app, _ = oauth.make_app(sandbox)
    flow = oauth.sign_in(app.test_client(), oauth.LOGIN_PATH)
    assert oauth.location(flow.callback) == "/"


# -- what the browser gets to see -------------------------------------------------------------


def test_session_cookie_holds_ids_but_no_tokens(sandbox: Sandbox) -> None:
    earlier = set(web_tokens(sandbox))
    app, _ = oauth.make_app(sandbox, WECHAT_OAUTH_SCOPE="snsapi_userinfo")
    client = app.test_client()
    oauth.sign_in(client)

    data = oauth.session_data(app, client)
    user = data[oauth.SESSION_KEY]
    assert user["open_id"] == SANDBOX_OPENID
    assert user["union_id"] == sandbox.users[SANDBOX_OPENID]["unionid"]
    assert user["scope"] == "snsapi_userinfo"
    # The sign-in state was used up.
    assert "wechat_oauth_state" not in data

    dumped = json.dumps(data)
    tokens = web_tokens(sandbox, since=earlier)
    assert len(tokens) == 2  # the web access token and its refresh token
    for token in tokens:
        assert token not in dumped
    assert "access_token" not in dumped
    assert "refresh_token" not in dumped

    # They live on the server, keyed by the user.
    with app.app_context():
        record = stored_token(WeChatUser(**user))
    assert record is not None
    assert record["access_token"] in tokens
    assert record["refresh_token"] in tokens


def test_web_tokens_never_reach_the_browser(sandbox: Sandbox) -> None:
    earlier = set(web_tokens(sandbox))
    app, _ = oauth.make_app(sandbox, WECHAT_OAUTH_SCOPE="snsapi_userinfo")
    client = app.test_client()
    flow = oauth.sign_in(client, "/profile")
    responses = [*flow.responses, client.get("/profile"), client.get("/whoami")]
    assert responses[-2].get_json()["openid"] == SANDBOX_OPENID

    tokens = web_tokens(sandbox, since=earlier)
    assert len(tokens) == 2
    for response in responses:
        body = response.get_data(as_text=True)
        headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
        for token in tokens:
            assert token not in body
            assert token not in headers
    for token in tokens:
        assert token not in flow.authorize_url
        assert token not in flow.authorized_url


def test_current_wechat_user_jinja_global(sandbox: Sandbox) -> None:
    app, _ = oauth.make_app(sandbox)
    client = app.test_client()
    assert client.get("/template").get_data(as_text=True) == "anonymous"
    oauth.sign_in(client)
    assert client.get("/template").get_data(as_text=True) == f"user={SANDBOX_OPENID}"


def test_current_wechat_user_is_none_outside_a_sign_in(sandbox: Sandbox) -> None:
    app, _ = oauth.make_app(sandbox)
    client = app.test_client()
    response = client.get("/protected")
    assert urlsplit(oauth.location(response)).path == oauth.LOGIN_PATH
    # A tampered session cookie is not a user either.
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], "forged.cookie.value")
    assert client.get("/template").get_data(as_text=True) == "anonymous"


# -- WeCom ---------------------------------------------------------------------------------
