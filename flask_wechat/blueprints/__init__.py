"""The platforms, and the blueprint that mounts their callbacks.

:data:`PLATFORMS` is the one table of ``WECHAT_KIND`` → platform descriptor
(:class:`flask_wechat.platform.Platform`); each platform lives in its own module
here, with its callback. Adding a platform is a new module and one line below.
"""

from __future__ import annotations

import typing as t

from flask import Blueprint, Response

from .. import observe
from ..edge import current_request
from .miniprogram import MiniProgram
from .mp import OfficialAccount
from .relay import add_relay_routes
from .work import WeCom

if t.TYPE_CHECKING:
    from ..platform import Platform
    from ..state import WeChatState

#: ``WECHAT_KIND`` → what that kind of account does differently.
PLATFORMS: dict[str, Platform] = {
    platform.kind: platform for platform in (OfficialAccount(), MiniProgram(), WeCom())
}


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
            blueprint.add_url_rule(
                account.callback_url,
                endpoint=f"callback_{account.name}",
                view_func=_view(state, account.name),
                methods=["GET", "POST"],
                strict_slashes=False,
            )
        if account.relay_url:
            add_relay_routes(blueprint, account)
    return blueprint
