"""Customer-service messages (客服消息), the typing indicator and kf accounts."""

from __future__ import annotations

import re
import typing as t

from ..state import SERVICE_WINDOW, APIFault
from .base import Answer, Context, JSONDict, RouteTable, ok, to_text
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
#: What a Mini Program may send as a customer-service message.
MINIPROGRAM_MSGTYPES = frozenset({"text", "image", "link", "miniprogrampage"})
#: Message types whose ``media_id`` must name uploaded (temporary) media.
_MEDIA_MSGTYPES = frozenset({"image", "voice", "video"})


@routes.endpoint("/cgi-bin/message/custom/send", methods=("POST",))
def custom_send(ctx: Context) -> Answer:
    """A customer-service message; accepted ones are recorded in ``sent``."""
    body = ctx.json()
    touser = to_text(body.get("touser"))
    if touser not in ctx.data.users:
        raise APIFault(40003)
    msgtype = body.get("msgtype")
    allowed = MINIPROGRAM_MSGTYPES if ctx.app.kind == "miniprogram" else CUSTOM_MSGTYPES
    if msgtype not in allowed or not isinstance(body.get(msgtype), dict):
        raise APIFault(40008)
    _check_content(ctx, msgtype, body[msgtype])
    service = body.get("customservice")
    if service is not None:
        account = to_text(service.get("kf_account")) if isinstance(service, dict) else ""
        if account not in ctx.state.kf_accounts:
            raise APIFault(65401)
    last = ctx.data.last_interaction.get(touser)
    if last is None or ctx.state.clock() - last > SERVICE_WINDOW:
        raise APIFault(45015)
    ctx.record_sent("custom", body)
    return ok()


def _check_media_id(ctx: Context, value: t.Any) -> None:
    """40007 unless ``value`` names media uploaded to the sandbox."""
    if to_text(value) not in ctx.state.media:
        raise APIFault(40007)


def _check_content(ctx: Context, msgtype: str, content: JSONDict) -> None:
    """Refuse the message bodies WeChat refuses."""
    if msgtype == "text" and not to_text(content.get("content")):
        raise APIFault(44004)
    if msgtype in _MEDIA_MSGTYPES:
        _check_media_id(ctx, content.get("media_id"))
    if msgtype == "mpnews" and not to_text(content.get("media_id")):
        # mpnews names permanent material, which the sandbox does not keep:
        # only a missing media_id can be told apart.
        raise APIFault(40007)
    if msgtype == "music":
        # an empty card or one without its music is empty content; the
        # thumbnail is required and must be uploaded media
        if not to_text(content.get("musicurl")):
            raise APIFault(44004)
        _check_media_id(ctx, content.get("thumb_media_id"))
    if msgtype == "news":
        articles = content.get("articles")
        if not isinstance(articles, list) or not articles:
            raise APIFault(44004)
        # WeChat now allows a single article per customer-service news message.
        if len(articles) > 1:
            raise APIFault(45008)
    if msgtype == "link" and not all(
        to_text(content.get(key)) for key in ("title", "description", "url", "thumb_url")
    ):
        raise APIFault(40097)
    if msgtype == "miniprogrampage":
        required = (
            ("title", "pagepath")
            if ctx.app.kind == "miniprogram"
            else ("title", "appid", "pagepath")
        )
        if not all(to_text(content.get(key)) for key in required):
            raise APIFault(40097)
        _check_media_id(ctx, content.get("thumb_media_id"))


@routes.endpoint("/cgi-bin/message/custom/typing", methods=("POST",))
def custom_typing(ctx: Context) -> Answer:
    """The "typing…" indicator."""
    body = ctx.json()
    if to_text(body.get("touser")) not in ctx.data.users:
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


@routes.endpoint("/customservice/kfaccount/del")
def kf_delete(ctx: Context) -> Answer:
    """Delete a customer-service account (``?kf_account=``; WeChat documents GET)."""
    account = ctx.args.get("kf_account", "")
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
