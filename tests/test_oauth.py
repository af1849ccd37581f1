"""OAuth web sign-in (网页授权) walked step by step: our app, the sandbox's
authorize page over real HTTP, and back."""

from __future__ import annotations

import dataclasses
import json
import re
import typing as t
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from flask import Flask, Response, jsonify, redirect, render_template_string
from flask.sessions import SecureCookieSessionInterface

from flask_wechat import APIError, ConfigError, WeChat, signals
from flask_wechat.oauth import (
    WeChatUser,
    current_wechat_user,
    logout,
    stored_token,
    userinfo,
    wechat_login_required,
)
from flask_wechat.sandbox import SANDBOX_APP_ID, SANDBOX_CORP_ID, SANDBOX_OPENID, Sandbox

if t.TYPE_CHECKING:
    from flask.testing import FlaskClient
    from werkzeug.test import TestResponse

LOGIN_PATH = "/wechat/oauth/login"
AUTHORIZED_PATH = "/wechat/oauth/authorized"
EXCHANGE_PATH = "/sns/oauth2/access_token"
SESSION_KEY = "wechat_user"

USER_FIELDS = dataclasses.fields(WeChatUser)

Events = list[dict[str, t.Any]]


# -- fixtures and helpers ------------------------------------------------------------------


def _user() -> WeChatUser:
    user = current_wechat_user
    assert user, "the view ran without a signed-in user"
    return user


def make_app(sandbox: Sandbox, kind: str = "mp", **config: t.Any) -> tuple[Flask, WeChat]:
    """An app signed in through the sandbox's account of ``kind``, with views:

    ``/protected`` (the OpenID), ``/whoami`` (every id, JSON), ``/profile``
    (``userinfo()``), ``/upgrade`` (needs snsapi_userinfo), ``/template``
    (the ``current_wechat_user`` Jinja global), ``/logout``.
    """
    app = Flask("oauth_test_app")
    app.config.update(
        TESTING=True,
        SECRET_KEY="oauth-test-secret",
        WECHAT_CALLBACK_URL=None,
        WECHAT_OAUTH_URL="/wechat/oauth",
    )
    app.config.update(sandbox.flask_config(kind))
    app.config.update(config)
    wechat = WeChat(app)

    @app.get("/protected")
    @wechat_login_required
    def protected() -> str:
        return _user().open_id or ""

    @app.get("/whoami")
    @wechat_login_required
    def whoami() -> Response:
        user = _user()
        return jsonify({field.name: getattr(user, field.name) for field in USER_FIELDS})

    @app.get("/profile")
    @wechat_login_required
    def profile() -> Response:
        try:
            return jsonify(userinfo())
        except APIError as exc:
            return jsonify(errcode=exc.errcode)

    # The factory form is annotated ``-> Any``; give it a type for strict mypy.
    needs_profile = t.cast(
        "t.Callable[[t.Callable[[], Response]], t.Callable[[], Response]]",
        wechat_login_required(scope="snsapi_userinfo"),
    )

    @app.get("/upgrade")
    @needs_profile
    def upgrade() -> Response:
        return jsonify(scope=_user().scope, nickname=userinfo()["nickname"])

    @app.get("/template")
    def template() -> str:
        return render_template_string(
            "{% if current_wechat_user %}user={{ current_wechat_user.open_id }}"
            "{% else %}anonymous{% endif %}"
        )

    @app.get("/logout")
    def sign_out() -> str:
        logout()
        return "bye"

    return app, wechat


def location(response: TestResponse) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def visit_wechat(authorize_url: str) -> str:
    """Open WeChat's (the sandbox's) authorize page like the browser would; returns
    where it sends the browser back to."""
    with requests.Session() as browser:
        answer = browser.get(authorize_url, allow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


@dataclasses.dataclass
class Flow:
    """One sign-in walked by hand; ``responses`` are everything our app sent."""

    responses: list[TestResponse]
    authorize_url: str
    authorized_url: str
    callback: TestResponse


def sign_in(client: FlaskClient, start: str = "/protected") -> Flow:
    """GET ``start`` and follow the sign-in through WeChat back to the app, stopping
    at the app's answer to the authorized callback."""
    responses: list[TestResponse] = []
    first = client.get(start)
    responses.append(first)
    if urlsplit(start).path == LOGIN_PATH:
        to_wechat = first
    else:
        login = location(first)
        assert urlsplit(login).path == LOGIN_PATH
        to_wechat = client.get(login)
        responses.append(to_wechat)
    authorize_url = location(to_wechat)
    authorized_url = visit_wechat(authorize_url)
    callback = client.get(authorized_url)
    responses.append(callback)
    return Flow(responses, authorize_url, authorized_url, callback)


def session_data(app: Flask, client: FlaskClient) -> dict[str, t.Any]:
    """The session as the app signed it into the browser's cookie."""
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    if cookie is None:
        return {}
    interface = t.cast(SecureCookieSessionInterface, app.session_interface)
    serializer = interface.get_signing_serializer(app)
    assert serializer is not None
    data = serializer.loads(cookie.value)
    assert isinstance(data, dict)
    return data


def web_tokens(sandbox: Sandbox, since: t.Collection[str] = ()) -> list[str]:
    """The web access tokens and refresh tokens the sandbox has issued (except
    those in ``since``: issued credentials outlive ``reset``)."""
    tokens = [token.value for token in sandbox.tokens.values() if token.kind == "oauth"]
    return [token for token in [*tokens, *sandbox.refresh_tokens] if token not in since]


def recorder(events: Events) -> t.Callable[..., None]:
    def receive(sender: Flask, **payload: t.Any) -> None:
        events.append({"sender": sender, **payload})

    return receive


# -- the happy path ------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["snsapi_base", "snsapi_userinfo"])
def test_sign_in_step_by_step(sandbox: Sandbox, scope: str) -> None:
    [open_id] = sandbox.add_users(1)
    sandbox.oauth_user = open_id
    app, wechat = make_app(sandbox, WECHAT_OAUTH_SCOPE=scope)
    client = app.test_client()
    events: Events = []

    # 1. the protected page sends an anonymous visitor to our login view
    first = client.get("/protected?tab=2")
    login = location(first)
    assert urlsplit(login).path == LOGIN_PATH
    assert query_of(login) == {"next": "/protected?tab=2"}

    # 2. the login view sends the browser to WeChat's authorize page
    authorize_url = location(client.get(login))
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
    assert query["redirect_uri"] == "http://localhost" + AUTHORIZED_PATH
    assert query["response_type"] == "code"
    assert query["scope"] == scope
    state = query["state"]
    assert state
    assert len(state.encode()) <= 128

    # 3. WeChat (the sandbox) sends the browser back with a code and our state
    authorized_url = visit_wechat(authorize_url)
    back = urlsplit(authorized_url)
    assert f"{back.scheme}://{back.netloc}{back.path}" == query["redirect_uri"]
    returned = query_of(authorized_url)
    assert returned["state"] == state
    assert returned["code"]
    assert sandbox.count(EXCHANGE_PATH) == 0

    # 4. our app exchanges the code and sends the browser to where it started
    with signals.oauth_authorized.connected_to(recorder(events), app):
        callback = client.get(authorized_url)
    assert location(callback) == "/protected?tab=2"
    assert sandbox.count(EXCHANGE_PATH) == 1
    [exchange] = [call for call in sandbox.calls if call.path == EXCHANGE_PATH]
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
    app, _ = make_app(sandbox, WECHAT_OAUTH_SCOPE="snsapi_userinfo")
    client = app.test_client()

    flow = sign_in(client, "/profile")
    assert location(flow.callback) == "/profile"
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
    app, _ = make_app(sandbox)  # snsapi_base by default
    client = app.test_client()
    sign_in(client, "/profile")
    response = client.get("/profile")
    assert response.get_json() == {"errcode": 48001}


def test_userinfo_refreshes_an_expired_web_token() -> None:
    # A sandbox whose tokens live 30 s: the app counts a minute of margin, so the
    # web token it stored is already due for a refresh.
    with Sandbox(token_ttl=30) as short_lived:
        app, _ = make_app(short_lived, WECHAT_OAUTH_SCOPE="snsapi_userinfo")
        client = app.test_client()
        sign_in(client, "/profile")
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
    app, _ = make_app(sandbox)
    client = app.test_client()
    sign_in(client)  # snsapi_base
    assert client.get("/protected").status_code == 200

    # A base sign-in is not enough for a view that needs the profile.
    login = location(client.get("/upgrade"))
    assert urlsplit(login).path == LOGIN_PATH
    assert query_of(login) == {"next": "/upgrade", "scope": "snsapi_userinfo"}

    flow = sign_in(client, login)
    assert query_of(flow.authorize_url)["scope"] == "snsapi_userinfo"
    assert location(flow.callback) == "/upgrade"
    response = client.get("/upgrade")
    assert response.status_code == 200
    assert response.get_json() == {
        "scope": "snsapi_userinfo",
        "nickname": sandbox.users[SANDBOX_OPENID]["nickname"],
    }


def test_logout_forgets_the_user(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox)
    client = app.test_client()
    sign_in(client)
    assert client.get("/protected").status_code == 200
    assert client.get("/logout").status_code == 200
    assert SESSION_KEY not in session_data(app, client)
    assert urlsplit(location(client.get("/protected"))).path == LOGIN_PATH


# -- signals -------------------------------------------------------------------------------


def test_oauth_authorized_receiver_response_replaces_the_redirect(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox)
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
        flow = sign_in(client, "/protected")

    assert location(flow.callback) == "/welcome"
    assert [user.open_id for user in seen] == [SANDBOX_OPENID]
    # The user is signed in all the same.
    assert session_data(app, client)[SESSION_KEY]["open_id"] == SANDBOX_OPENID
    assert client.get("/protected").get_data(as_text=True) == SANDBOX_OPENID


def test_oauth_authorized_receiver_may_answer_a_page(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox)
    client = app.test_client()

    def first_visit(sender: Flask, **payload: t.Any) -> Response:
        return Response("please accept the terms", 200)

    with signals.oauth_authorized.connected_to(first_visit, app):
        flow = sign_in(client, "/protected")

    assert flow.callback.status_code == 200
    assert flow.callback.get_data(as_text=True) == "please accept the terms"


def test_receivers_returning_other_values_keep_the_redirect(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox)
    client = app.test_client()

    def chatty(sender: Flask, **payload: t.Any) -> str:
        return "not a response"

    with signals.oauth_authorized.connected_to(chatty, app):
        flow = sign_in(client, "/protected")
    assert location(flow.callback) == "/protected"


# -- failures ------------------------------------------------------------------------------


def test_state_mismatch_is_refused(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox)
    client = app.test_client()
    events: Events = []
    authorized_url = visit_wechat(location(client.get(LOGIN_PATH + "?next=/protected")))
    code = query_of(authorized_url)["code"]
    state = query_of(authorized_url)["state"]

    forged = AUTHORIZED_PATH + "?" + urlencode({"code": code, "state": state + "x"})
    with signals.oauth_error.connected_to(recorder(events), app):
        response = client.get(forged)

    assert response.status_code == 403
    assert len(events) == 1
    assert events[0]["sender"] is app
    assert "state" in events[0]["reason"]
    assert events[0]["error"] is None
    assert SESSION_KEY not in session_data(app, client)
    assert sandbox.count(EXCHANGE_PATH) == 0  # the code was never spent
    assert urlsplit(location(client.get("/protected"))).path == LOGIN_PATH
    # The state works once: after a failed attempt the genuine answer is refused too.
    assert client.get(authorized_url).status_code == 403
    assert sandbox.count(EXCHANGE_PATH) == 0


def test_missing_state_parameter_is_refused(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox)
    client = app.test_client()
    authorized_url = visit_wechat(location(client.get(LOGIN_PATH)))
    code = query_of(authorized_url)["code"]

    response = client.get(AUTHORIZED_PATH + "?" + urlencode({"code": code}))

    assert response.status_code == 403
    assert SESSION_KEY not in session_data(app, client)
    assert sandbox.count(EXCHANGE_PATH) == 0


def test_no_state_in_the_session_is_refused(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox)
    events: Events = []
    # A code and state from somebody else's sign-in, opened in a fresh browser.
    code = sandbox.oauth_code(SANDBOX_OPENID)
    client = app.test_client()

    with signals.oauth_error.connected_to(recorder(events), app):
        response = client.get(AUTHORIZED_PATH + "?" + urlencode({"code": code, "state": "abc"}))

    assert response.status_code == 403
    assert len(events) == 1
    assert SESSION_KEY not in session_data(app, client)
    assert sandbox.count(EXCHANGE_PATH) == 0


def test_empty_state_does_not_match_a_missing_session_state(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox)
    code = sandbox.oauth_code(SANDBOX_OPENID)
    client = app.test_client()
    response = client.get(AUTHORIZED_PATH + "?" + urlencode({"code": code, "state": ""}))
    assert response.status_code == 403
    assert sandbox.count(EXCHANGE_PATH) == 0


def test_reused_code_is_refused_with_the_api_error(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox)
    client = app.test_client()
    events: Events = []
    flow = sign_in(client)
    assert location(flow.callback) == "/protected"
    code = query_of(flow.authorized_url)["code"]

    # A fresh sign-in attempt, then the old (already spent) code with its state.
    fresh_state = query_of(location(client.get(LOGIN_PATH + "?next=/protected")))["state"]
    replay = AUTHORIZED_PATH + "?" + urlencode({"code": code, "state": fresh_state})
    with signals.oauth_error.connected_to(recorder(events), app):
        response = client.get(replay)

    assert response.status_code == 400
    assert sandbox.count(EXCHANGE_PATH) == 2
    assert len(events) == 1
    error = events[0]["error"]
    assert isinstance(error, APIError)
    assert error.errcode == 40163
    with app.app_context():
        assert events[0]["account"] == app.extensions["wechat"].account().name


def test_reused_code_in_a_fresh_browser_signs_nobody_in(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox)
    code = query_of(sign_in(app.test_client()).authorized_url)["code"]

    other = app.test_client()
    fresh_state = query_of(location(other.get(LOGIN_PATH)))["state"]
    response = other.get(AUTHORIZED_PATH + "?" + urlencode({"code": code, "state": fresh_state}))

    assert response.status_code == 400
    assert SESSION_KEY not in session_data(app, other)
    assert urlsplit(location(other.get("/protected"))).path == LOGIN_PATH


def test_unknown_code_is_refused(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox)
    client = app.test_client()
    events: Events = []
    state = query_of(location(client.get(LOGIN_PATH)))["state"]
    with signals.oauth_error.connected_to(recorder(events), app):
        response = client.get(AUTHORIZED_PATH + "?" + urlencode({"code": "0" * 32, "state": state}))
    assert response.status_code == 400
    [event] = events
    assert isinstance(event["error"], APIError)
    assert event["error"].errcode == 40029
    assert SESSION_KEY not in session_data(app, client)


def test_refused_consent_without_a_code(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox, WECHAT_OAUTH_SCOPE="snsapi_userinfo")
    client = app.test_client()
    events: Events = []
    state = query_of(location(client.get(LOGIN_PATH + "?next=/protected")))["state"]

    # The user tapped "refuse": WeChat comes back with the state but no code.
    with signals.oauth_error.connected_to(recorder(events), app):
        response = client.get(AUTHORIZED_PATH + "?" + urlencode({"state": state}))

    assert response.status_code == 403
    assert len(events) == 1
    assert events[0]["error"] is None
    assert SESSION_KEY not in session_data(app, client)
    assert sandbox.count(EXCHANGE_PATH) == 0
    assert sandbox.count("/cgi-bin/auth/getuserinfo") == 0


def test_unknown_scope_in_the_login_url_is_refused(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox)
    client = app.test_client()
    events: Events = []
    with signals.oauth_error.connected_to(recorder(events), app):
        response = client.get(LOGIN_PATH + "?scope=snsapi_everything")
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
    app, _ = make_app(sandbox)
    client = app.test_client()
    flow = sign_in(client, LOGIN_PATH + "?" + urlencode({"next": target}))
    assert location(flow.callback) == "/"
    # The sign-in itself succeeded.
    assert session_data(app, client)[SESSION_KEY]["open_id"] == SANDBOX_OPENID


def test_next_path_on_this_site_is_kept(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox)
    client = app.test_client()
    target = "/orders/7?tab=paid&sort=-date"
    flow = sign_in(client, LOGIN_PATH + "?" + urlencode({"next": target}))
    assert location(flow.callback) == target


def test_login_without_next_goes_to_the_root(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox)
    flow = sign_in(app.test_client(), LOGIN_PATH)
    assert location(flow.callback) == "/"


# -- what the browser gets to see -------------------------------------------------------------


def test_session_cookie_holds_ids_but_no_tokens(sandbox: Sandbox) -> None:
    earlier = set(web_tokens(sandbox))
    app, _ = make_app(sandbox, WECHAT_OAUTH_SCOPE="snsapi_userinfo")
    client = app.test_client()
    sign_in(client)

    data = session_data(app, client)
    user = data[SESSION_KEY]
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
    app, _ = make_app(sandbox, WECHAT_OAUTH_SCOPE="snsapi_userinfo")
    client = app.test_client()
    flow = sign_in(client, "/profile")
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
    app, _ = make_app(sandbox)
    client = app.test_client()
    assert client.get("/template").get_data(as_text=True) == "anonymous"
    sign_in(client)
    assert client.get("/template").get_data(as_text=True) == f"user={SANDBOX_OPENID}"


def test_current_wechat_user_is_none_outside_a_sign_in(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox)
    client = app.test_client()
    response = client.get("/protected")
    assert urlsplit(location(response)).path == LOGIN_PATH
    # A tampered session cookie is not a user either.
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], "forged.cookie.value")
    assert client.get("/template").get_data(as_text=True) == "anonymous"


# -- WeCom ---------------------------------------------------------------------------------


def test_wecom_sign_in_yields_the_user_id(sandbox: Sandbox) -> None:
    sandbox.work_user = "zhangsan"
    app, _ = make_app(sandbox, "work")
    client = app.test_client()
    events: Events = []

    with signals.oauth_authorized.connected_to(recorder(events), app):
        flow = sign_in(client, "/whoami")

    query = query_of(flow.authorize_url)
    assert query["appid"] == SANDBOX_CORP_ID
    assert query["response_type"] == "code"
    assert urlsplit(flow.authorize_url).fragment == "wechat_redirect"
    assert location(flow.callback) == "/whoami"

    assert sandbox.count("/cgi-bin/auth/getuserinfo") == 1
    assert sandbox.count("/cgi-bin/user/getuserinfo") == 0  # deprecated by WeCom
    assert sandbox.count(EXCHANGE_PATH) == 0
    [call] = [c for c in sandbox.calls if c.path == "/cgi-bin/auth/getuserinfo"]
    assert call.params["code"] == query_of(flow.authorized_url)["code"]

    whoami = client.get("/whoami").get_json()
    assert whoami["user_id"] == "zhangsan"
    assert whoami["open_id"] is None
    [event] = events
    assert event["user"].user_id == "zhangsan"
    assert event["user"].id == "zhangsan"
    assert session_data(app, client)[SESSION_KEY]["user_id"] == "zhangsan"


def test_wecom_authorize_url_names_the_agent(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox, "work", WECHAT_AGENT_ID=1000002)
    client = app.test_client()
    authorize_url = location(client.get(LOGIN_PATH))
    assert query_of(authorize_url)["agentid"] == "1000002"
    assert location(client.get(visit_wechat(authorize_url))) == "/"


def test_wecom_reused_code_is_refused(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox, "work")
    client = app.test_client()
    code = query_of(sign_in(client).authorized_url)["code"]
    events: Events = []
    state = query_of(location(client.get(LOGIN_PATH)))["state"]
    with signals.oauth_error.connected_to(recorder(events), app):
        response = client.get(AUTHORIZED_PATH + "?" + urlencode({"code": code, "state": state}))
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


def test_oauth_routes_are_mounted_only_when_configured(sandbox: Sandbox) -> None:
    app = Flask("default_oauth_app")
    app.config.update(SECRET_KEY="k", WECHAT_CALLBACK_URL=None, **sandbox.flask_config())
    WeChat(app)
    assert "wechat_oauth" not in app.blueprints
    assert app.test_client().get(LOGIN_PATH).status_code == 404


def test_oauth_url_none_mounts_no_routes(sandbox: Sandbox) -> None:
    app = Flask("no_oauth_app")
    app.config.update(
        SECRET_KEY="k", WECHAT_CALLBACK_URL=None, WECHAT_OAUTH_URL=None, **sandbox.flask_config()
    )
    WeChat(app)
    assert "wechat_oauth" not in app.blueprints
    assert not [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("wechat_")]
    client = app.test_client()
    assert client.get(LOGIN_PATH).status_code == 404
    assert client.get(AUTHORIZED_PATH + "?code=x&state=y").status_code == 404


def test_oauth_url_can_be_moved(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox, WECHAT_OAUTH_URL="/accounts/wechat/")
    client = app.test_client()
    assert client.get(LOGIN_PATH).status_code == 404

    login = location(client.get("/protected"))
    assert urlsplit(login).path == "/accounts/wechat/login"
    authorize_url = location(client.get(login))
    assert query_of(authorize_url)["redirect_uri"] == "http://localhost/accounts/wechat/authorized"
    authorized_url = visit_wechat(authorize_url)
    assert urlsplit(authorized_url).path == "/accounts/wechat/authorized"
    assert location(client.get(authorized_url)) == "/protected"
    assert client.get("/protected").get_data(as_text=True) == SANDBOX_OPENID


# -- WeChat's constraints on state -------------------------------------------------------------


def test_state_uses_only_the_characters_wechat_allows(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox)
    client = app.test_client()
    # 40 logins: with '-' and '_' in 2 of 64 symbols, 22-character states avoid
    # both only about half the time, so a wrong alphabet cannot pass by luck.
    states = [query_of(location(client.get(LOGIN_PATH)))["state"] for _ in range(40)]
    assert len(set(states)) == 40
    for state in states:
        assert re.fullmatch(r"[A-Za-z0-9]{1,128}", state), state
