"""WeCom (企业微信): member OAuth and app messages."""

from __future__ import annotations

import secrets

from ..state import APIFault
from .base import Answer, Context, RouteTable, ok, to_int, to_text

routes = RouteTable()


@routes.endpoint("/cgi-bin/user/getuserinfo", auth="work")
def work_userinfo(ctx: Context) -> Answer:
    """WeCom OAuth: the member's ``UserId`` for a one-time code."""
    code = ctx.state.use_code(ctx.args.get("code", ""), ctx.app.app_id)
    return ok(UserId=code.openid, DeviceId="")


@routes.endpoint("/cgi-bin/auth/getuserinfo", auth="work")
def work_auth_userinfo(ctx: Context) -> Answer:
    """WeCom OAuth (newer path): ``userid`` for a one-time code."""
    code = ctx.state.use_code(ctx.args.get("code", ""), ctx.app.app_id)
    answer = ok(userid=code.openid)
    if code.scope == "snsapi_privateinfo":
        answer.update(user_ticket=secrets.token_urlsafe(32), expires_in=1800)
    return answer


WORK_MSGTYPES = frozenset(
    {
        "text",
        "image",
        "voice",
        "video",
        "file",
        "textcard",
        "news",
        "mpnews",
        "markdown",
        "miniprogram_notice",
        "template_card",
    }
)


@routes.endpoint("/cgi-bin/message/send", methods=("POST",), auth="work")
def work_send(ctx: Context) -> Answer:
    """A WeCom app message; accepted ones are recorded in ``sent``."""
    body = ctx.json()
    if body.get("agentid") in (None, ""):
        raise APIFault(41011)
    if to_int(body.get("agentid")) is None:
        raise APIFault(40056)
    msgtype = body.get("msgtype")
    if msgtype not in WORK_MSGTYPES or not isinstance(body.get(msgtype), dict):
        raise APIFault(40008)
    if not any(to_text(body.get(key)) for key in ("touser", "toparty", "totag")):
        raise APIFault(81013)
    if msgtype in ("text", "markdown") and not to_text(body[msgtype].get("content")):
        raise APIFault(44004)
    ctx.record_sent("work", body)
    return ok(invaliduser="", invalidparty="", invalidtag="", msgid=str(ctx.state.next_id()))
