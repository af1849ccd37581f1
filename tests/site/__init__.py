"""A site built the usual way, which then adds flask_wechat.

An app factory; two blueprints of its own — ``shop`` (a form view, under
Flask-WTF's ``CSRFProtect``) and ``wechat`` (the site's own pages about its
Official Account, one behind Flask-Login); an async view. Because the site
already has a blueprint called ``wechat``, flask_wechat's is named ``weixin``.
"""

from __future__ import annotations

import typing as t

from flask import Flask

from . import bot  # noqa: F401 - registers the handlers
from .extensions import csrf, login_manager, wechat
from .pages import pages
from .shop import shop
from .views import register_views

__all__ = ["create_app", "wechat"]


def create_app(config: t.Mapping[str, t.Any] | None = None) -> Flask:
    """The site; ``config`` holds (or overrides) its settings."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY="site-secret-key", WECHAT_CALLBACK_URL="/weixin")
    app.config.update(config or {})
    csrf.init_app(app)
    login_manager.init_app(app)
    app.register_blueprint(shop)
    app.register_blueprint(pages)
    register_views(app)
    wechat.init_app(app)  # added last, as to a site that already exists
    return app
