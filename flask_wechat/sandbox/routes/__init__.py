"""The sandbox's HTTP endpoints: a Flask app that answers like the WeChat API.

One module per API domain, mirroring :mod:`flask_wechat.api`; each declares its
endpoints in its own :class:`~.base.RouteTable` (``routes``), and
:func:`create_app` serves the tables listed in :data:`DOMAINS`.
"""

from __future__ import annotations

import time
import typing as t

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from ..state import APIFault, SandboxState
from . import (
    component,
    control,
    customer_service,
    kf,
    material,
    media,
    menus,
    miniprogram,
    oauth,
    operations,
    qrcode,
    subscribe,
    tags,
    templates,
    tokens,
    users,
    work,
)
from .base import STATE_KEY, RouteTable, error_answer, make_view, read_body

#: The route table of every API domain the sandbox serves.
DOMAINS: tuple[RouteTable, ...] = (
    tokens.routes,
    customer_service.routes,
    templates.routes,
    menus.routes,
    tags.routes,
    users.routes,
    media.routes,
    material.routes,
    operations.routes,
    oauth.routes,
    miniprogram.routes,
    subscribe.routes,
    qrcode.routes,
    work.routes,
    kf.routes,
    component.routes,
)


def create_app(state: SandboxState, tables: t.Iterable[RouteTable] = DOMAINS) -> Flask:
    """A Flask app serving the endpoints of ``tables`` (every domain) out of ``state``."""
    app = Flask("flask_wechat.sandbox")
    app.config["MAX_CONTENT_LENGTH"] = 32 * 1024 * 1024
    app.extensions[STATE_KEY] = state
    tables = list(tables)
    state.known_paths = frozenset(route.rule for table in tables for route in table)

    @app.before_request
    def arrive() -> Response | None:
        g.sandbox_started = time.monotonic()
        if request.path.startswith(control.PREFIX + "/"):
            return None  # the sandbox's own endpoints: not an API call
        body, problem = read_body()
        g.sandbox_body = body
        g.sandbox_body_problem = problem
        args = request.args.to_dict()
        wait = state.arrive(request.method, request.path, args, body)
        fault = state.take_fault(request.path)
        if fault is None:
            over = state.count_daily(request.path, args, body)
            fault = None if over is None else (over, 200)
        if wait > 0:
            state.stopping.wait(wait)
        if fault is not None:
            error, status = fault
            return error_answer(error, status)
        return None

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if exc.code == 404:
            return error_answer(APIFault(40066, "invalid url"), 404)
        if exc.code == 405:
            # WeChat answers a wrong method with HTTP 200 and 43001/43002.
            allowed = getattr(exc, "valid_methods", None) or ()
            return error_answer(APIFault(43002 if "POST" in allowed else 43001))
        if exc.code == 413:
            return error_answer(APIFault(40006))
        return error_answer(APIFault(-1), exc.code or 500)

    for route in (route for table in tables for route in table):
        app.add_url_rule(
            route.rule,
            endpoint=route.rule,
            view_func=make_view(state, route),
            methods=list(route.methods),
            provide_automatic_options=False,
        )
    app.register_blueprint(control.create_blueprint(state))
    return app


__all__ = ["DOMAINS", "RouteTable", "create_app"]
