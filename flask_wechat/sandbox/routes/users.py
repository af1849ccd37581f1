"""Followers: their info, the paged follower list, remarks."""

from __future__ import annotations

import json

from ..state import APIFault
from . import work
from .base import Answer, Context, JSONDict, RouteTable, ok, page_of, to_text

routes = RouteTable()


def _user_info(ctx: Context, openid: str) -> JSONDict:
    if not openid:
        raise APIFault(41009)
    user = ctx.data.users.get(openid)
    if user is None:
        raise APIFault(40003)
    if not user.get("subscribe"):
        # WeChat tells nothing but the openid (and unionid) about non-followers.
        gone: JSONDict = {"subscribe": 0, "openid": openid, "tagid_list": []}
        if user.get("unionid"):
            gone["unionid"] = user["unionid"]
        return gone
    return json.loads(json.dumps(user))  # type: ignore[no-any-return]


@routes.endpoint("/cgi-bin/user/info")
def user_info(ctx: Context) -> Answer:
    """One follower's info."""
    return _user_info(ctx, ctx.args.get("openid", ""))


@routes.endpoint("/cgi-bin/user/info/batchget", methods=("POST",))
def user_info_batch(ctx: Context) -> Answer:
    """Up to 100 followers' info."""
    wanted = ctx.json().get("user_list")
    if not isinstance(wanted, list) or not 1 <= len(wanted) <= 100:
        raise APIFault(40032)
    infos = []
    for item in wanted:
        if not isinstance(item, dict):
            raise APIFault(47001)
        infos.append(_user_info(ctx, to_text(item.get("openid"))))
    return {"user_info_list": infos}


@routes.endpoint("/cgi-bin/user/get", auth="any")
def user_list(ctx: Context) -> Answer:
    """The followers' openids, ``page_size`` at a time; on WeCom's host the same
    path reads one member (:func:`.work.member`)."""
    if ctx.app.kind == "work":
        return work.member(ctx)
    openids = ctx.followers()
    return {"total": len(openids), **page_of(ctx, openids, ctx.args.get("next_openid", ""))}


@routes.endpoint("/cgi-bin/user/info/updateremark", methods=("POST",))
def user_remark(ctx: Context) -> Answer:
    """Set a follower's remark (≤ 30 characters)."""
    body = ctx.json()
    user = ctx.data.users.get(to_text(body.get("openid")))
    if user is None:
        raise APIFault(40003)
    remark = body.get("remark")
    if not isinstance(remark, str) or len(remark) > 30:
        raise APIFault(40097)
    user["remark"] = remark
    return ok()
