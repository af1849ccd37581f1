"""The site's app-level views: sign-in and an async status page."""

from __future__ import annotations

import asyncio

from flask import Flask, redirect, render_template_string, request, url_for
from werkzeug.wrappers import Response

from .auth import login_user
from .models import USERS, User

LOGIN_FORM = """<form method="post">
  <input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
  <input name="name"><button>Sign in</button>
</form>"""


def register_views(app: Flask) -> None:
    @app.route("/login", methods=["GET", "POST"])
    def login() -> str | Response:
        if request.method == "POST":
            name = request.form["name"]
            user = USERS.setdefault(name, User(name))
            login_user(user)
            return redirect(request.args.get("next") or url_for("shop.order"))
        return render_template_string(LOGIN_FORM)

    @app.get("/status")
    async def status() -> dict[str, str]:
        await asyncio.sleep(0)
        return {"status": "ok"}
