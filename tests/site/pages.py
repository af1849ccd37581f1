"""The site's own ``wechat`` blueprint: pages about its Official Account."""

from __future__ import annotations

from flask import Blueprint, request

from .auth import current_site_user, login_required

pages = Blueprint("wechat", __name__, url_prefix="/wechat")


@pages.get("/about")
def about() -> str:
    return "Follow us on WeChat"


@pages.route("/bind", methods=["GET", "POST"])
@login_required
def bind() -> str:
    """Bind the signed-in user to an OpenID (the bot then knows them)."""
    user = current_site_user()
    if request.method == "POST":
        user.open_id = request.form["open_id"]
    return f"{user.id} is bound to {user.open_id}"
