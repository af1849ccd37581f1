"""The sandbox's own endpoints, for a sandbox running in another process
(``python -m flask_wechat.sandbox``): what a test or a developer does with a
:class:`~flask_wechat.sandbox.Sandbox` object in-process, over HTTP.

* ``POST /_sandbox/user-wrote`` (JSON or form: ``open_id``, optional ``app_id``)
  records that a user just wrote to an app, opening its 48-hour window for
  customer-service messages (otherwise WeChat, and the sandbox, refuse them
  with 40003 / 45015);
* ``GET /_sandbox/sent`` lists every message the sandbox accepted (JSON, oldest
  first; ``?app_id=`` for one app);
* ``GET /_sandbox/`` shows both on a page.

WeChat has no such paths; requests to them are not recorded as API calls and no
injected fault applies to them.
"""

from __future__ import annotations

import json
import typing as t

from flask import Blueprint, Response, jsonify, redirect, request
from markupsafe import escape

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response as BaseResponse

    from ..state import SandboxState

#: Where the control endpoints live.
PREFIX = "/_sandbox"


def create_blueprint(state: SandboxState) -> Blueprint:
    """The control endpoints over ``state``."""
    control = Blueprint("sandbox_control", __name__, url_prefix=PREFIX)

    def sent_messages() -> list[dict[str, t.Any]]:
        app_id = request.args.get("app_id")
        return [body for body in state.sent if app_id in (None, body.get("app_id"))]

    @control.post("/user-wrote")
    def user_wrote() -> BaseResponse | tuple[Response, int]:
        data = request.get_json(silent=True) if request.is_json else request.form
        if not isinstance(data, t.Mapping):
            return jsonify(error="send JSON or a form with open_id"), 400
        open_id = data.get("open_id")
        app_id = data.get("app_id") or None
        if not isinstance(open_id, str) or not open_id.strip():
            return jsonify(error="open_id is required"), 400
        if app_id is not None and not isinstance(app_id, str):
            return jsonify(error="app_id must be a string"), 400
        try:
            state.user_wrote(open_id.strip(), app_id)
        except KeyError:
            return jsonify(error=f"no app {app_id!r} is registered with the sandbox"), 404
        if not request.is_json:
            return redirect(f"{PREFIX}/", code=303)  # the page's form: back to the page
        return jsonify(ok=True, open_id=open_id.strip(), app_id=app_id), 200

    @control.get("/sent")
    def sent() -> Response:
        return jsonify(sent_messages())

    @control.get("/")
    def page() -> Response:
        rows = "".join(
            f"<li><pre>{escape(json.dumps(body, ensure_ascii=False, sort_keys=True))}</pre></li>"
            for body in sent_messages()
        )
        html = (
            "<!doctype html><meta charset=utf-8><title>WeChat sandbox</title>"
            "<h1>WeChat sandbox</h1>"
            f'<form method=post action="{PREFIX}/user-wrote">'
            "<label>OpenID of a user who just wrote <input name=open_id required></label> "
            "<label>AppID (optional) <input name=app_id></label> "
            "<button>Mark as written</button></form>"
            f"<h2>Sent ({len(sent_messages())})</h2><ol id=sent>{rows}</ol>"
        )
        return Response(html, content_type="text/html; charset=utf-8")

    return control
