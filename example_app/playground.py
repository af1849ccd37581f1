"""A development-only page that plays WeChat against the site's own callback.

Registered by :func:`example_app.create_app` only when the site runs on the
in-process sandbox (no real credentials): it builds callbacks with
:mod:`flask_wechat.testing`, which has no place in a production view.
"""

from __future__ import annotations

import json
import typing as t

from flask import Blueprint, Flask, current_app, render_template, request

from flask_wechat import Message, signals
from flask_wechat.testing import WeChatTestClient

from .bot import MENU_GOOD

playground = Blueprint("playground", __name__)

_LOG_KEY = "example_playground_log"


@playground.route("/", methods=["GET", "POST"])
def index() -> str:
    """Send a text, a follow or a menu click to this site's callback; show the answer."""
    app = t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    result = None
    if request.method == "POST":
        client = WeChatTestClient(app)
        sandbox = app.extensions.get("example_sandbox")
        if sandbox is not None:
            # what WeChat learns as the user writes: customer-service messages
            # (late replies) may reach them for 48 hours
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
            json.dumps(result.reply, ensure_ascii=False, indent=2) if result.reply else result.text
        )
    log = app.extensions[_LOG_KEY]
    return render_template("index.html", result=result, shown=shown, log=log, playground=True)


def init_playground(app: Flask) -> None:
    """Mount the playground at ``/`` and keep a log of recent messages for it."""
    log: list[str] = []
    app.extensions[_LOG_KEY] = log

    def remember(sender: Flask, message: Message, **extra: t.Any) -> None:
        log.append(f"{message.dispatch_name} from {message.source}")
        del log[:-20]

    signals.message_received.connect(remember, app, weak=False)
    app.register_blueprint(playground)
