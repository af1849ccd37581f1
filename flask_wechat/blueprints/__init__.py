"""The callback of each platform, and the blueprint that mounts them.

:data:`CALLBACKS` is the one table of ``WECHAT_KIND`` → callback class; each
platform's callback lives in its own module here. (The platforms' data is
:data:`flask_wechat.platform.PLATFORMS`, their API :mod:`flask_wechat.api.profiles`.)
"""

from __future__ import annotations

import typing as t

from flask import Blueprint, Response

from .. import observe
from ..edge import current_request
from .component import add_component_routes, authorizer_callback
from .miniprogram import MiniProgramCallback
from .mp import OfficialAccountCallback
from .relay import add_relay_routes
from .work import WorkCallback

if t.TYPE_CHECKING:
    from ..callback import Callback
    from ..state import WeChatState

#: ``WECHAT_KIND`` → the class of its accounts' callback endpoints.
CALLBACKS: dict[str, type[Callback]] = {
    "mp": OfficialAccountCallback,
    "miniprogram": MiniProgramCallback,
    "work": WorkCallback,
}


__all__ = ["CALLBACKS", "authorizer_callback", "make_blueprint"]


def _view(state: WeChatState, account_name: str) -> t.Callable[[], Response]:
    callbacks = state.callbacks

    def callback() -> Response:
        endpoint = callbacks[account_name]
        if current_request().method == "GET":
            return endpoint.get()
        with observe.callback(account_name):  # callback_handled, the wechat.callback span
            return endpoint.post()

    callback.__name__ = f"callback_{account_name}"
    return callback


def make_blueprint(
    state: WeChatState, name: str = "wechat", url_prefix: str | None = None
) -> Blueprint:
    """A blueprint with every account's callback URL (and relay endpoints).

    Endpoints are ``<name>.callback_<account>`` (``url_for("wechat.callback_default")``).
    The blueprint is made for one app's ``state`` and registered on that app only.
    """
    blueprint = Blueprint(name, __name__, url_prefix=url_prefix)
    for account in state.accounts.values():
        if account.callback_url is not None:
            state.callbacks[account.name] = CALLBACKS[account.kind](state, account)
            blueprint.add_url_rule(
                account.callback_url,
                endpoint=f"callback_{account.name}",
                view_func=_view(state, account.name),
                methods=["GET", "POST"],
                strict_slashes=False,
            )
        if account.relay_url:
            add_relay_routes(blueprint, account)
    add_component_routes(blueprint, state)
    return blueprint
