"""The callback blueprint: one URL per configured account, one module per platform.

``mp`` (Official Account), ``miniprogram`` and ``work`` (WeCom) each live in a
module of their own; what they share is :class:`flask_wechat.callback.Callback`.
"""

from __future__ import annotations

import typing as t

from flask import Blueprint, Response, current_app, request

from ..relay import add_relay_routes
from .miniprogram import MiniProgramCallback
from .mp import OfficialAccountCallback
from .work import WorkCallback

if t.TYPE_CHECKING:
    from ..callback import Callback
    from ..config import Account
    from ..state import WeChatState

#: The callback class of each ``WECHAT_KIND``.
CALLBACKS: dict[str, type[Callback]] = {
    "mp": OfficialAccountCallback,
    "miniprogram": MiniProgramCallback,
    "work": WorkCallback,
}


def make_callback(state: WeChatState, account: Account) -> Callback:
    """Build the callback endpoint of ``account``, by its kind."""
    return CALLBACKS[account.kind](state, account)


def _view(account_name: str) -> t.Callable[[], Response]:
    def callback() -> Response:
        state: WeChatState = current_app.extensions["wechat"]
        endpoint = state.callbacks[account_name]
        if request.method == "GET":
            return endpoint.get()
        return endpoint.post()

    callback.__name__ = f"callback_{account_name}"
    return callback


def make_blueprint(state: WeChatState) -> Blueprint:
    """A blueprint named ``wechat`` with every account's callback URL.

    Endpoints are ``wechat.callback_<account>`` (``url_for("wechat.callback_default")``).
    Views find their account through ``current_app``, so one blueprint per app
    and nothing per request is kept on it.
    """
    blueprint = Blueprint("wechat", __name__)
    for account in state.accounts.values():
        if account.callback_url is None:
            continue
        state.callbacks[account.name] = make_callback(state, account)
        blueprint.add_url_rule(
            account.callback_url,
            endpoint=f"callback_{account.name}",
            view_func=_view(account.name),
            methods=["GET", "POST"],
            strict_slashes=False,
        )

    # -- customer-service relay (7moor): agent replies and the media proxy -----------
    # (flask_wechat/relay.py; endpoints wechat.relay_<account>, wechat.relay_media_<account>)
    for account in state.accounts.values():
        if account.relay_url:
            add_relay_routes(blueprint, account)
    return blueprint
