"""A development-only page that plays WeChat against the site's own callback.

Registered by :func:`example_app.create_app` only when the site runs on the
in-process sandbox (no real credentials): it builds callbacks with
:mod:`flask_wechat.testing`, which has no place in a production view.
"""

from __future__ import annotations

import json
import typing as t

from flask import (
    Blueprint,
    Flask,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from flask_wechat import Message, signals
from flask_wechat.testing import WeChatTestClient

from .bot import MENU_GOOD

playground = Blueprint("playground", __name__)

_LOG_KEY = "example_playground_log"


_RESULT_KEY = "playground_result"


@playground.get("/")
def index() -> str:
    """The page: the last answer (once) and the recent messages."""
    app = t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    result = session.pop(_RESULT_KEY, None)
    log = app.extensions[_LOG_KEY]
    return render_template("index.html", result=result, log=log, playground=True)


@playground.post("/")
def send() -> Response:
    """Send a text, a follow or a menu click to this site's callback, then go back
    to the page (POST/redirect/GET: reloading the page does not send it again)."""
    app = t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
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
    shown = json.dumps(result.reply, ensure_ascii=False, indent=2) if result.reply else result.text
    session[_RESULT_KEY] = {
        "status_code": result.status_code,
        "encrypted": result.encrypted,
        "shown": shown,
    }
    return redirect(url_for("playground.index"), code=303)


def init_playground(app: Flask) -> None:
    """Mount the playground at ``/`` and keep a log of recent messages for it."""
    log: list[str] = []
    app.extensions[_LOG_KEY] = log

    def remember(sender: Flask, message: Message, **extra: t.Any) -> None:
        said = message.content or message.event_key or message.media_id or ""
        log.append(f"{message.dispatch_name} from {message.source}" + (f": {said}" if said else ""))
        del log[:-20]

    signals.message_received.connect(remember, app, weak=False)
    app.register_blueprint(playground)
