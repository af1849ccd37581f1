"""A small site using flask_wechat, laid out as a template to copy.

* :func:`create_app` is the app factory; configuration comes from environment
  variables, as in production: ``WECHAT_TOKEN``, ``WECHAT_APP_ID``,
  ``WECHAT_APP_SECRET``, ``WECHAT_ENCODING_AES_KEY``, ``WECHAT_REDIS_URL`` (the
  shared store of several processes), ``SECRET_KEY``;
* the bot — the ``WeChat`` object and its handlers — is :mod:`example_app.bot`;
* the site's own pages (``/menu``, ``/me``) are plain views; ``/connect``
  (:mod:`example_app.connect`) lets accounts authorize the site's third-party
  platform (开放平台) when one is configured (``WECHAT_COMPONENT_*``).

Without ``WECHAT_APP_SECRET`` in the environment (``make run`` on a laptop) it
runs in development mode: built-in demo credentials, the WeChat API played by an
in-process sandbox (:mod:`flask_wechat.sandbox`), and a page at ``/`` that
plays WeChat against the callback (:mod:`example_app.playground`, registered
only then).
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import typing as t

from flask import Flask, redirect, render_template, url_for
from werkzeug.wrappers import Response

from flask_wechat import APIError
from flask_wechat.oauth import current_wechat_user, wechat_login_required
from flask_wechat.sandbox import Sandbox

from .bot import MENU, MENU_GOOD, wechat
from .connect import connect

__all__ = ["MENU", "MENU_GOOD", "create_app", "wechat"]

#: Read from the environment when set.
ENVIRONMENT_KEYS = (
    "WECHAT_TOKEN",
    "WECHAT_APP_ID",
    "WECHAT_APP_SECRET",
    "WECHAT_ENCODING_AES_KEY",
    "WECHAT_REDIS_URL",
    "SECRET_KEY",
)

#: The third-party platform, when the site has one: ``WECHAT_COMPONENT_<KEY>``.
COMPONENT_KEYS = ("app_id", "app_secret", "token", "encoding_aes_key")

#: Development only: credentials of nobody, for the sandbox and the playground.
DEMO_CONFIG = {
    "WECHAT_TOKEN": "example-token",
    "WECHAT_APP_ID": "wx0000000000example",
    "WECHAT_APP_SECRET": "example-secret",
    "WECHAT_ENCODING_AES_KEY": "exampleexampleexampleexampleexampleexample1",
}


def create_app(
    config: t.Mapping[str, t.Any] | None = None, sandbox: Sandbox | None = None
) -> Flask:
    """Build the site. Real credentials come from the environment; ``config``
    overrides (tests). Without a real AppSecret the site runs in development
    mode, on ``sandbox`` (one is started when none is given)."""
    app = Flask(__name__)
    app.config["WECHAT_OAUTH_URL"] = "/wechat/oauth"  # the sign-in behind /me
    app.config.update({key: os.environ[key] for key in ENVIRONMENT_KEYS if os.environ.get(key)})
    component = {k: os.environ.get(f"WECHAT_COMPONENT_{k.upper()}") for k in COMPONENT_KEYS}
    if all(component.values()):
        app.config["WECHAT_COMPONENT"] = component
    development = not os.environ.get("WECHAT_APP_SECRET")
    if development:
        for key, value in DEMO_CONFIG.items():
            app.config.setdefault(key, value)
        if sandbox is None:
            sandbox = Sandbox().start()
            atexit.register(sandbox.stop)
        app.config.update(sandbox.flask_config("mp"))
        app.config.update(sandbox.register_component().flask_config())
        app.extensions["example_sandbox"] = sandbox
        # Sessions carry the signed-in WeChat user: production sets SECRET_KEY.
        app.config["SECRET_KEY"] = app.config.get("SECRET_KEY") or secrets.token_hex(16)
    app.config.update(config or {})
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("set SECRET_KEY: sessions carry the signed-in WeChat user")
    wechat.init_app(app)
    register_views(app)
    app.register_blueprint(connect)
    if development:
        from .playground import init_playground  # noqa: PLC0415 - development only

        init_playground(app)
    else:

        @app.get("/")
        def index() -> str:
            return render_template("index.html", playground=False, log=[])

    if development and sandbox is not None:
        # what WeChat does every 10 minutes: the platform gets its ticket
        fake = sandbox.register_component()
        fake.push_ticket(
            app.test_client(), app.config["WECHAT_COMPONENT"].get("auth_url", "/wechat/component")
        )
    return app


def register_views(app: Flask) -> None:
    """The site's own pages."""

    @app.get("/favicon.ico")
    def favicon() -> Response:
        """Browsers ask for it on every page; answer with the site's icon, not a 404."""
        with app.open_resource("static/favicon.ico") as icon:
            data = icon.read()
        response = Response(data, mimetype="image/vnd.microsoft.icon")
        response.cache_control.max_age = 86400
        return response

    @app.post("/menu")
    def push_menu() -> Response:
        """Push the example menu, then show it (POST/redirect/GET)."""
        wechat.client().menus.create(MENU)
        return redirect(url_for("menu"), code=303)

    @app.get("/menu")
    def menu() -> str:
        """Show the menu WeChat has for the account."""
        client = wechat.client()
        try:
            shown = json.dumps(client.menus.get(), ensure_ascii=False, indent=2)
        except APIError as exc:
            if exc.errcode != 46003:  # 46003: no menu yet
                raise
            shown = "no menu yet"
        return render_template("menu.html", shown=shown)

    @app.route("/me")
    @wechat_login_required
    def me() -> str:
        """A page for inside WeChat: signed in through OAuth, with the JS-SDK set up."""
        return render_template("me.html", user=current_wechat_user)
