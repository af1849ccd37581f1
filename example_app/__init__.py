"""A small site using flask_wechat: an Official Account bot plus a page to try it.

Run it with ``make run``. Without real credentials in the environment
(``WECHAT_TOKEN``, ``WECHAT_APP_ID``, ``WECHAT_APP_SECRET``,
``WECHAT_ENCODING_AES_KEY``) it uses built-in demo values: the page at ``/``
plays WeChat against the callback at ``/wechat`` in safe (encrypted) mode, and
API calls go to an in-process sandbox (:mod:`flask_wechat.sandbox`) instead of
WeChat.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import typing as t

from flask import Flask, render_template, request

from flask_wechat import APIError, Article, Message, NewsReply, TextReply, WeChat, signals
from flask_wechat.oauth import current_wechat_user, wechat_login_required
from flask_wechat.sandbox import Sandbox
from flask_wechat.testing import WeChatTestClient

wechat = WeChat()

DEMO_CONFIG = {
    "WECHAT_TOKEN": "example-token",
    "WECHAT_APP_ID": "wx0000000000example",
    "WECHAT_APP_SECRET": "example-secret",
    "WECHAT_ENCODING_AES_KEY": "exampleexampleexampleexampleexampleexample1",
}

MENU_GOOD = "V1001_GOOD"

MENU: dict[str, t.Any] = {
    "button": [
        {"type": "click", "name": "赞一下我们", "key": MENU_GOOD},
        {
            "name": "菜单",
            "sub_button": [{"type": "view", "name": "主页", "url": "https://example.com/"}],
        },
    ]
}


@wechat.on("subscribe")
def greet(message: Message) -> TextReply:
    """Welcome new followers; mention the QR code they came from."""
    greeting = "欢迎关注! Send 'news' for today's articles, or anything to hear it back."
    if message.qr_scene:
        greeting += f" (scene {message.qr_scene})"
    return TextReply(greeting)


@wechat.on("click", key=MENU_GOOD)
def thank(message: Message) -> str:
    """The "赞一下我们" menu button."""
    return "谢谢你的赞 👍"


@wechat.on("text", match=r"^\s*news\s*$")
def news(message: Message) -> NewsReply:
    """Today's articles."""
    return NewsReply(
        [
            Article(
                "flask_wechat",
                "Connect Flask to WeChat",
                "https://example.com/logo.png",
                "https://example.com/",
            ),
            Article("Changelog", "What is new", None, "https://example.com/changes"),
        ]
    )


@wechat.on("text")
def echo(message: Message) -> TextReply:
    """Anything else said is said back."""
    return TextReply(message.content or "")


@wechat.on()
def fallback(message: Message) -> None:
    """Events nobody handles are received and answered with ``success``."""


def create_app(
    config: t.Mapping[str, t.Any] | None = None, sandbox: Sandbox | None = None
) -> Flask:
    """Build the example site; real credentials come from the environment.

    Without a real AppSecret the WeChat API is played by ``sandbox`` (one is
    started when none is given).
    """
    app = Flask(__name__)
    app.config.from_mapping(DEMO_CONFIG)
    # Sessions carry the signed-in WeChat user; set SECRET_KEY in production.
    app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY") or secrets.token_hex(16)
    real = bool(os.environ.get("WECHAT_APP_SECRET"))
    for key in DEMO_CONFIG:
        if os.environ.get(key):
            app.config[key] = os.environ[key]
    if not real:
        if sandbox is None:
            sandbox = Sandbox().start()
            atexit.register(sandbox.stop)
        app.config.update(sandbox.flask_config("mp"))
        app.extensions["example_sandbox"] = sandbox
    app.config.update(config or {})
    wechat.init_app(app)

    log: list[str] = []

    def remember(sender: Flask, message: Message, **extra: t.Any) -> None:
        log.append(f"{message.dispatch_name} from {message.source}")
        del log[:-20]

    signals.message_received.connect(remember, app, weak=False)

    @app.route("/", methods=["GET", "POST"])
    def index() -> str:
        """Play WeChat: send a message or event to this site's own callback."""
        result = None
        if request.method == "POST":
            client = WeChatTestClient(app)
            if sandbox is not None:
                # what WeChat learns as the user writes: customer-service
                # messages (late replies) may reach them for 48 hours
                sandbox.user_wrote(client.user)
            kind = request.form.get("kind", "text")
            if kind == "subscribe":
                result = client.event("subscribe", EventKey="qrscene_demo")
            elif kind == "click":
                result = client.event("CLICK", EventKey=MENU_GOOD)
            else:
                result = client.text(request.form.get("content", ""))
        shown = None
        if result is not None:
            shown = (
                json.dumps(result.reply, ensure_ascii=False, indent=2)
                if result.reply
                else result.text
            )
        return render_template("index.html", result=result, shown=shown, log=log)

    @app.route("/menu", methods=["GET", "POST"])
    def menu() -> str:
        """Push the example menu through the WeChat API and show what WeChat has."""
        client = wechat.client()
        if request.method == "POST":
            client.menus.create(MENU)
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

    return app
