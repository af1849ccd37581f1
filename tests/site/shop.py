"""The ``shop`` blueprint: a form view protected by CSRFProtect."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from .auth import current_site_user, login_required
from .models import ORDERS

shop = Blueprint("shop", __name__, url_prefix="/shop")


@shop.route("/order", methods=["GET", "POST"])
@login_required
def order() -> str | Response:
    """Order something; the form carries the CSRF token."""
    user = current_site_user()
    if request.method == "POST":
        item = request.form.get("item", "").strip()
        if item:
            ORDERS.setdefault(user.id, []).append(item)
        return redirect(url_for("shop.order"))
    return render_template("order.html", orders=ORDERS.get(user.id, []))
