""" "Connect your account": Official Accounts and Mini Programs authorize this
site's third-party platform (开放平台), and the site serves them from then on.

``/connect`` lists the accounts connected so far and starts WeChat's 授权页;
WeChat sends the admin back to ``/connect/done`` with an ``auth_code``, which
the platform trades for the account (its refresh token is saved). In
development the sandbox plays the 授权页: it agrees at once and comes back.
"""

from __future__ import annotations

import typing as t

from flask import Blueprint, abort, redirect, render_template, request, url_for

from flask_wechat import APIError

from .bot import wechat

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from flask_wechat.component import Component

connect = Blueprint("connect", __name__, url_prefix="/connect")


def _component() -> Component:
    component = wechat.component
    if component is None:
        abort(404)
    return component


@connect.get("/")
def index() -> str:
    """The connected accounts, and a button to connect another."""
    component = _component()
    authorizers = [component.authorizer(app_id) for app_id in sorted(component.authorizers())]
    return render_template(
        "connect.html",
        authorizers=[a for a in authorizers if a is not None],
        ticket_age=component.ticket_age(),
    )


@connect.post("/start")
def start() -> Response:
    """Off to WeChat's 授权页 (a fresh pre_auth_code each time)."""
    target = url_for("connect.done", _external=True)
    mobile = request.form.get("mobile") == "1"
    return redirect(_component().authorize_url(target, mobile=mobile))


@connect.get("/done")
def done() -> Response | tuple[str, int]:
    """WeChat's redirect: trade the auth_code for the account."""
    code = request.args.get("auth_code", "")
    if not code:
        return "the authorization was not completed", 400
    try:
        _component().finish_authorization(code)
    except APIError as exc:  # an expired or used code
        return f"WeChat refused the authorization code ({exc.errcode}); try again", 400
    return redirect(url_for("connect.index"))
