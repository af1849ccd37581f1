"""Template messages (模板消息): industries, the account's templates, sends."""

from __future__ import annotations

import secrets
import typing as t

from ..state import CLIENT_MSG_ID_WINDOW, APIFault
from .base import Answer, Context, JSONDict, RouteTable, ok, to_int, to_text

routes = RouteTable()


_INDUSTRIES = {
    "1": ("IT科技", "互联网/电子商务"),
    "2": ("IT科技", "IT软件与服务"),
    "3": ("IT科技", "IT硬件与设备"),
    "4": ("IT科技", "电子技术"),
    "5": ("IT科技", "通信与运营商"),
    "6": ("IT科技", "网络游戏"),
    "7": ("金融业", "银行"),
    "8": ("金融业", "基金理财信托"),
    "9": ("金融业", "保险"),
}


def _industry(industry_id: str) -> JSONDict:
    first, second = _INDUSTRIES.get(industry_id, ("其它", "其它"))
    return {"first_class": first, "second_class": second}


@routes.endpoint("/cgi-bin/template/api_set_industry", methods=("POST",))
def set_industry(ctx: Context) -> Answer:
    """Set the two industries (ids 1-41)."""
    body = ctx.json()
    ids = [to_int(body.get("industry_id1")), to_int(body.get("industry_id2"))]
    if any(i is None or not 1 <= i <= 41 for i in ids):
        raise APIFault(40102)
    ctx.state.industry = (str(ids[0]), str(ids[1]))
    return ok()


@routes.endpoint("/cgi-bin/template/get_industry")
def get_industry(ctx: Context) -> Answer:
    """The two industries set."""
    primary, secondary = ctx.state.industry
    return {"primary_industry": _industry(primary), "secondary_industry": _industry(secondary)}


@routes.endpoint("/cgi-bin/template/api_add_template", methods=("POST",))
def add_template(ctx: Context) -> Answer:
    """Add a template from the library by its short id; answers the template_id."""
    body = ctx.json()
    short = to_text(body.get("template_id_short"))
    if not short:
        raise APIFault(40037)
    if len(ctx.state.templates) >= 25:
        raise APIFault(45026)
    template_id = secrets.token_urlsafe(32)[:43]
    primary, secondary = ctx.state.industry
    ctx.state.templates[template_id] = {
        "template_id": template_id,
        "title": f"沙盒模板 {short}",
        "primary_industry": _industry(primary)["first_class"],
        "deputy_industry": _industry(secondary)["second_class"],
        "content": "{{first.DATA}}\n内容：{{keyword1.DATA}}\n{{remark.DATA}}",
        "example": "您好\n内容：示例\n谢谢",
    }
    return ok(template_id=template_id)


@routes.endpoint("/cgi-bin/template/get_all_private_template")
def list_templates(ctx: Context) -> Answer:
    """The account's templates."""
    return {"template_list": [dict(tpl) for tpl in ctx.state.templates.values()]}


@routes.endpoint("/cgi-bin/template/del_private_template", methods=("POST",))
def delete_template(ctx: Context) -> Answer:
    """Delete a template."""
    template_id = to_text(ctx.json().get("template_id"))
    if ctx.state.templates.pop(template_id, None) is None:
        raise APIFault(40037)
    return ok()


@routes.endpoint("/cgi-bin/message/template/send", methods=("POST",))
def template_send(ctx: Context) -> Answer:
    """A template message; accepted ones are recorded in ``sent``."""
    body = ctx.json()
    touser = to_text(body.get("touser"))
    if not touser:
        raise APIFault(40003)
    if to_text(body.get("template_id")) not in ctx.state.templates:
        raise APIFault(40037)
    user = ctx.data.users.get(touser)
    if user is not None and not user.get("subscribe"):
        raise APIFault(43004)
    if not isinstance(body.get("data", {}), dict):
        raise APIFault(47001)
    miniprogram = body.get("miniprogram")
    if miniprogram is not None and not (
        isinstance(miniprogram, dict) and to_text(miniprogram.get("appid"))
    ):
        raise APIFault(40097)
    _check_client_msg_id(ctx, touser, body.get("client_msg_id"))
    ctx.record_sent("template", body)
    return ok(msgid=ctx.state.next_id())


def _check_client_msg_id(ctx: Context, touser: str, value: t.Any) -> None:
    """One message per user and ``client_msg_id`` within WeChat's 10 minutes.

    WeChat's documentation names no errcode for the repeat; 43105 ("repeated
    msg") is assumed here (the mass-send API answers 45065 "clientmsgid exist").
    """
    client_msg_id = to_text(value)
    if not client_msg_id:
        return
    now = ctx.state.clock()
    seen = ctx.data.template_msg_ids
    for key, when in list(seen.items()):
        if now - when >= CLIENT_MSG_ID_WINDOW:
            del seen[key]
    if (touser, client_msg_id) in seen:
        raise APIFault(43105)
    seen[(touser, client_msg_id)] = now
