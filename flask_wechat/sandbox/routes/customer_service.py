"""Customer-service messages (客服消息), the typing indicator and kf accounts."""

from __future__ import annotations

import re

from ..state import APIFault
from .base import Answer, Context, RouteTable, ok, to_text
from .media import uploaded_media

routes = RouteTable()


CUSTOM_MSGTYPES = frozenset(
    {
        "text",
        "image",
        "voice",
        "video",
        "music",
        "news",
        "mpnews",
        "mpnewsarticle",
        "msgmenu",
        "wxcard",
        "miniprogrampage",
        "link",
    }
)


@routes.endpoint("/cgi-bin/message/custom/send", methods=("POST",))
def custom_send(ctx: Context) -> Answer:
    """A customer-service message; accepted ones are recorded in ``sent``."""
    body = ctx.json()
    if not to_text(body.get("touser")):
        raise APIFault(40003)
    msgtype = body.get("msgtype")
    if msgtype not in CUSTOM_MSGTYPES or not isinstance(body.get(msgtype), dict):
        raise APIFault(40008)
    if msgtype == "text" and not to_text(body["text"].get("content")):
        raise APIFault(44004)
    ctx.state.record_sent("custom", body)
    return ok()


@routes.endpoint("/cgi-bin/message/custom/typing", methods=("POST",))
def custom_typing(ctx: Context) -> Answer:
    """The "typing…" indicator."""
    body = ctx.json()
    if not to_text(body.get("touser")):
        raise APIFault(40003)
    if body.get("command") not in ("Typing", "CancelTyping"):
        raise APIFault(40097)
    return ok()


_KF_ACCOUNT = re.compile(r"^[A-Za-z0-9_]{1,10}@\S+$")


def _kf_fields(ctx: Context) -> tuple[str, str]:
    body = ctx.body if isinstance(ctx.body, dict) else {}
    if ctx.body_problem is not None and not ctx.args.get("kf_account"):
        raise APIFault(ctx.body_problem)
    account = to_text(body.get("kf_account")) or ctx.args.get("kf_account", "")
    return account, to_text(body.get("nickname"))


def _check_nickname(nickname: str) -> None:
    if not nickname or len(nickname) > 16:
        raise APIFault(65403)


@routes.endpoint("/customservice/kfaccount/add", methods=("POST",))
def kf_add(ctx: Context) -> Answer:
    """Add a customer-service account ``prefix@wechat_id``."""
    account, nickname = _kf_fields(ctx)
    if not _KF_ACCOUNT.match(account):
        raise APIFault(65404)
    _check_nickname(nickname)
    if account in ctx.state.kf_accounts:
        raise APIFault(65406)
    if len(ctx.state.kf_accounts) >= 100:
        raise APIFault(65405)
    ctx.state.kf_accounts[account] = {
        "kf_account": account,
        "kf_nick": nickname,
        "kf_id": str(ctx.state.new_kf_id()),
        "kf_headimgurl": "",
    }
    return ok()


@routes.endpoint("/customservice/kfaccount/update", methods=("POST",))
def kf_update(ctx: Context) -> Answer:
    """Rename a customer-service account."""
    account, nickname = _kf_fields(ctx)
    if account not in ctx.state.kf_accounts:
        raise APIFault(65401)
    _check_nickname(nickname)
    ctx.state.kf_accounts[account]["kf_nick"] = nickname
    return ok()


@routes.endpoint("/customservice/kfaccount/del", methods=("GET", "POST"))
def kf_delete(ctx: Context) -> Answer:
    """Delete a customer-service account (JSON body or ``?kf_account=``)."""
    account, _ = _kf_fields(ctx)
    if ctx.state.kf_accounts.pop(account, None) is None:
        raise APIFault(65401)
    return ok()


@routes.endpoint("/cgi-bin/customservice/getkflist")
def kf_list(ctx: Context) -> Answer:
    """All customer-service accounts."""
    return {"kf_list": [dict(kf) for kf in ctx.state.kf_accounts.values()]}


@routes.endpoint("/customservice/kfaccount/uploadheadimg", methods=("POST",))
def kf_headimg(ctx: Context) -> Answer:
    """Set an account's avatar from the multipart field ``media`` (JPEG only)."""
    account = ctx.args.get("kf_account", "")
    kf = ctx.state.kf_accounts.get(account)
    if kf is None:
        raise APIFault(65401)
    media = uploaded_media(ctx, "image")
    if media.content_type != "image/jpeg":
        raise APIFault(40113)
    kf["kf_headimgurl"] = f"http://mmbiz.qpic.cn/mmbiz/sandbox{kf['kf_id']}/0"
    return ok()
