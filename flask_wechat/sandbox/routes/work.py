"""WeCom (企业微信): member OAuth and app messages."""

from __future__ import annotations

import secrets

from ..state import PRIVATE_MEMBER_FIELDS, APIFault
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
        ticket = secrets.token_urlsafe(32)
        expires_at = ctx.state.clock() + 1800
        ctx.state.user_tickets[ticket] = (ctx.app.key, code.openid, expires_at)
        answer.update(user_ticket=ticket, expires_in=1800)
    return answer


@routes.endpoint("/cgi-bin/auth/getuserdetail", methods=("POST",), auth="work")
def work_auth_userdetail(ctx: Context) -> Answer:
    """A member's sensitive fields for a ``user_ticket`` (valid 30 minutes).
    WeCom names no errcode of its own for a bad ticket here; 40129 is assumed."""
    ticket = to_text(ctx.json().get("user_ticket"))
    issued = ctx.state.user_tickets.get(ticket)
    if issued is None or issued[0] != ctx.app.key or ctx.state.clock() >= issued[2]:
        raise APIFault(40129)
    member = ctx.data.members.get(issued[1]) or {"userid": issued[1]}
    detail = {key: member[key] for key in ("userid", *PRIVATE_MEMBER_FIELDS) if key in member}
    return ok(**detail)


def member(ctx: Context) -> Answer:
    """``/cgi-bin/user/get`` for a WeCom app: one member (60111 unknown), without
    the fields only ``getuserdetail`` gives."""
    userid = ctx.args.get("userid", "")
    if not userid:
        raise APIFault(41009, "missing userid")
    found = ctx.data.members.get(userid)
    if found is None:
        raise APIFault(60111)
    return ok(**{key: value for key, value in found.items() if key not in PRIVATE_MEMBER_FIELDS})


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
