"""WeCom sign-in (the user ID, the agent in the authorize URL) and the OAuth settings."""

from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit

import pytest
from flask import Flask

from flask_wechat import APIError, ConfigError, WeChat, signals
from flask_wechat.sandbox import SANDBOX_CORP_ID, SANDBOX_OPENID, Sandbox

from . import conftest as oauth


def test_wecom_sign_in_yields_the_user_id(sandbox: Sandbox) -> None:
    sandbox.work_user = "zhangsan"
    app, _ = oauth.make_app(sandbox, "work")
    client = app.test_client()
    events: oauth.Events = []

    with signals.oauth_authorized.connected_to(oauth.recorder(events), app):
        flow = oauth.sign_in(client, "/whoami")

    query = oauth.query_of(flow.authorize_url)
    assert query["appid"] == SANDBOX_CORP_ID
    assert query["response_type"] == "code"
    assert urlsplit(flow.authorize_url).fragment == "wechat_redirect"
    assert oauth.location(flow.callback) == "/whoami"

    assert sandbox.count("/cgi-bin/auth/getuserinfo") == 1
    assert sandbox.count("/cgi-bin/user/getuserinfo") == 0  # deprecated by WeCom
    assert sandbox.count(oauth.EXCHANGE_PATH) == 0
    [call] = [c for c in sandbox.calls if c.path == "/cgi-bin/auth/getuserinfo"]
    assert call.params["code"] == oauth.query_of(flow.authorized_url)["code"]

    whoami = client.get("/whoami").get_json()
    assert whoami["user_id"] == "zhangsan"
    assert whoami["open_id"] is None
    [event] = events
    assert event["user"].user_id == "zhangsan"
    assert event["user"].id == "zhangsan"
    assert oauth.session_data(app, client)[oauth.SESSION_KEY]["user_id"] == "zhangsan"


def test_wecom_authorize_url_names_the_agent(sandbox: Sandbox) -> None:
    app, _ = oauth.make_app(sandbox, "work", WECHAT_AGENT_ID=1000002)
    client = app.test_client()
    authorize_url = oauth.location(client.get(oauth.LOGIN_PATH))
    assert oauth.query_of(authorize_url)["agentid"] == "1000002"
    assert oauth.location(client.get(oauth.visit_wechat(authorize_url))) == "/"


def test_wecom_reused_code_is_refused(sandbox: Sandbox) -> None:
    app, _ = oauth.make_app(sandbox, "work")
    client = app.test_client()
    code = oauth.query_of(oauth.sign_in(client).authorized_url)["code"]
    events: oauth.Events = []
    state = oauth.query_of(oauth.location(client.get(oauth.LOGIN_PATH)))["state"]
    with signals.oauth_error.connected_to(oauth.recorder(events), app):
        response = client.get(
            oauth.AUTHORIZED_PATH + "?" + urlencode({"code": code, "state": state})
        )
    assert response.status_code == 400
    [event] = events
    assert isinstance(event["error"], APIError)
    assert event["error"].errcode == 40163


# -- configuration -------------------------------------------------------------------------


def test_unknown_oauth_scope_is_a_config_error(sandbox: Sandbox) -> None:
    app = Flask("bad_scope_app")
    app.config.update(
        SECRET_KEY="k",
        WECHAT_CALLBACK_URL=None,
        WECHAT_OAUTH_SCOPE="snsapi_everything",
        **sandbox.flask_config("mp"),
    )
    with pytest.raises(ConfigError) as info:
        WeChat(app)
    assert info.value.key == "WECHAT_OAUTH_SCOPE"
    assert "WECHAT_OAUTH_SCOPE" in str(info.value)


def test_oauth_url_none_mounts_no_routes(sandbox: Sandbox) -> None:
    app = Flask("no_oauth_app")
    app.config.update(
        SECRET_KEY="k", WECHAT_CALLBACK_URL=None, WECHAT_OAUTH_URL=None, **sandbox.flask_config()
    )
    WeChat(app)
    assert "wechat_oauth" not in app.blueprints
    assert not [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("wechat_")]
    client = app.test_client()
    assert client.get(oauth.LOGIN_PATH).status_code == 404
    assert client.get(oauth.AUTHORIZED_PATH + "?code=x&state=y").status_code == 404


def test_oauth_url_can_be_moved(sandbox: Sandbox) -> None:
    app, _ = oauth.make_app(sandbox, WECHAT_OAUTH_URL="/accounts/wechat/")
    client = app.test_client()
    assert client.get(oauth.LOGIN_PATH).status_code == 404

    login = oauth.location(client.get("/protected"))
    assert urlsplit(login).path == "/accounts/wechat/login"
    authorize_url = oauth.location(client.get(login))
    assert (
        oauth.query_of(authorize_url)["redirect_uri"]
        == "http://localhost/accounts/wechat/authorized"
    )
    authorized_url = oauth.visit_wechat(authorize_url)
    assert urlsplit(authorized_url).path == "/accounts/wechat/authorized"
    assert oauth.location(client.get(authorized_url)) == "/protected"
    assert client.get("/protected").get_data(as_text=True) == SANDBOX_OPENID


# -- WeChat's constraints on state -------------------------------------------------------------


def test_state_uses_only_the_characters_wechat_allows(sandbox: Sandbox) -> None:
    app, _ = oauth.make_app(sandbox)
    client = app.test_client()
    # 40 logins: with '-' and '_' in 2 of 64 symbols, 22-character states avoid
    # both only about half the time, so a wrong alphabet cannot pass by luck.
    states = [
        oauth.query_of(oauth.location(client.get(oauth.LOGIN_PATH)))["state"] for _ in range(40)
    ]
    assert len(set(states)) == 40
    for state in states:
        assert re.fullmatch(r"[A-Za-z0-9]{1,128}", state), state


def test_oauth_routes_are_mounted_only_when_configured(sandbox: Sandbox) -> None:
    app = Flask("default_oauth_app")
    app.config.update(SECRET_KEY="k", WECHAT_CALLBACK_URL=None, **sandbox.flask_config())
    WeChat(app)
    assert "wechat_oauth" not in app.blueprints
    assert app.test_client().get(oauth.LOGIN_PATH).status_code == 404
