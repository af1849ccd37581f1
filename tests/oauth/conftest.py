"""OAuth web sign-in (网页授权) tests: an app on the sandbox, and a browser walking
the sandbox's authorize page over real HTTP and back."""

from __future__ import annotations

import dataclasses
import typing as t
from urllib.parse import parse_qsl, urlsplit

import requests
from flask import Flask, Response, jsonify, render_template_string
from flask.sessions import SecureCookieSessionInterface

from flask_wechat import APIError, WeChat
from flask_wechat.oauth import (
    WeChatUser,
    current_wechat_user,
    logout,
    userinfo,
    wechat_login_required,
)
from flask_wechat.sandbox import Sandbox

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


def recorder(events: Events) -> t.Callable[..., None]:
    def receive(sender: Flask, **payload: t.Any) -> None:
        events.append({"sender": sender, **payload})

    return receive


# -- the happy path ------------------------------------------------------------------------
