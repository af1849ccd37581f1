"""Running an Official Account: ``clear_quota``, API quotas and rids, the
current menu configuration, the blacklist and the online customer-service staff."""

from __future__ import annotations

import re
import typing as t

from ..state import APIFault
from .base import Answer, Context, JSONDict, RouteTable, ok, page_of, to_text

routes = RouteTable()

#: How often an account may clear its quota (WeChat: 10 times a month).
MAX_QUOTA_CLEARS = 10
#: A rid as WeChat writes it: three groups of hex digits.
RID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}")


@routes.endpoint("/cgi-bin/clear_quota", methods=("POST",))
def clear_quota(ctx: Context) -> Answer:
    """Reset the caller's quotas: injected 45009 faults go away."""
    if to_text(ctx.json().get("appid")) != ctx.app.app_id:
        raise APIFault(40013)
    if ctx.data.quota_clears >= MAX_QUOTA_CLEARS:
        raise APIFault(48006)
    ctx.data.quota_clears += 1
    ctx.state.clear_quota_faults()
    ctx.state.clear_daily(ctx.app.app_id)
    return ok()


@routes.endpoint("/cgi-bin/openapi/quota/get", methods=("POST",))
def get_api_quota(ctx: Context) -> Answer:
    """The caller's daily quota of one API path, counted by the sandbox.

    As WeChat: the path must be given without host and with its leading ``/``
    (76003), ``/sns/`` paths have no quota here (76022), an unknown path is 76021.
    """
    cgi_path = to_text(ctx.json().get("cgi_path"))
    if not cgi_path.startswith("/") or "://" in cgi_path:
        raise APIFault(76003)
    if "/sns/" in cgi_path:
        raise APIFault(76022)
    if cgi_path not in ctx.state.known_paths:
        raise APIFault(76021)
    return ok(quota=ctx.state.quota(ctx.app.app_id, cgi_path))


@routes.endpoint("/cgi-bin/openapi/rid/get", methods=("POST",))
def get_rid_info(ctx: Context) -> Answer:
    """What a rid of the caller's own failed calls names (seven days long)."""
    rid = to_text(ctx.json().get("rid"))
    if not RID.fullmatch(rid):
        raise APIFault(76002)
    found = ctx.state.rid_request(ctx.app.app_id, rid)
    if found is None:
        raise APIFault(76001)
    return ok(request=found)


def _selfmenu_button(button: JSONDict) -> JSONDict:
    converted = {key: value for key, value in button.items() if key != "sub_button"}
    if button.get("sub_button"):
        converted["sub_button"] = {"list": [_selfmenu_button(b) for b in button["sub_button"]]}
    return converted


@routes.endpoint("/cgi-bin/get_current_selfmenu_info")
def selfmenu_info(ctx: Context) -> Answer:
    """The default menu in the admin console's shape (sub-menus under ``list``)."""
    menu = ctx.data.menu
    if menu is None:
        return {"is_menu_open": 0, "selfmenu_info": {"button": []}}
    buttons = [_selfmenu_button(button) for button in menu.get("button", [])]
    return {"is_menu_open": 1, "selfmenu_info": {"button": buttons}}


@routes.endpoint("/cgi-bin/tags/members/getblacklist", methods=("POST",))
def get_blacklist(ctx: Context) -> Answer:
    """One page of the blacklist."""
    listed = ctx.data.blacklist
    begin = to_text(ctx.json().get("begin_openid"))
    return {"total": len(listed), **page_of(ctx, listed, begin)}


def _openids(ctx: Context) -> list[str]:
    openids = ctx.json().get("openid_list")
    if not isinstance(openids, list) or not 1 <= len(openids) <= 20:
        raise APIFault(40032)
    for openid in openids:
        if not isinstance(openid, str) or openid not in ctx.data.users:
            raise APIFault(40003)
    return t.cast(list[str], openids)


@routes.endpoint("/cgi-bin/tags/members/batchblacklist", methods=("POST",))
def batch_blacklist(ctx: Context) -> Answer:
    """Blacklist up to 20 known users."""
    for openid in _openids(ctx):
        if openid not in ctx.data.blacklist:
            ctx.data.blacklist.append(openid)
    return ok()


@routes.endpoint("/cgi-bin/tags/members/batchunblacklist", methods=("POST",))
def batch_unblacklist(ctx: Context) -> Answer:
    """Take up to 20 known users off the blacklist."""
    for openid in _openids(ctx):
        if openid in ctx.data.blacklist:
            ctx.data.blacklist.remove(openid)
    return ok()


@routes.endpoint("/cgi-bin/customservice/getonlinekflist")
def online_kf_list(ctx: Context) -> Answer:
    """The customer-service accounts marked online (an account's ``status``, set
    with :meth:`~..state.SandboxState.set_kf_online`)."""
    online = [
        {
            "kf_account": kf["kf_account"],
            "status": kf["status"],
            "kf_id": kf["kf_id"],
            "accepted_case": kf.get("accepted_case", 0),
        }
        for kf in ctx.state.kf_accounts.values()
        if kf.get("status")
    ]
    return {"kf_online_list": online}
