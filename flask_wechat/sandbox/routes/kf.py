"""WeCom 微信客服: reading what customers wrote (``kf/sync_msg``) and answering
(``kf/send_msg``).

Customers are played by :meth:`~..state.SandboxState.kf_customer_writes`. As
WeCom does: ``sync_msg`` pages through each 客服账号's messages with an opaque
cursor and checks the event's ``Token`` (10 minutes); ``send_msg`` answers only
within 48 hours of the customer's last message, at most 5 times per message.
The errcodes 95001 (count) and 95002 (time) follow WeCom's global list.
"""

from __future__ import annotations

import base64
import binascii

from ..state import SERVICE_WINDOW, APIFault
from .base import Answer, Context, JSONDict, RouteTable, ok, to_int, to_text

routes = RouteTable()

KF_MSGTYPES = frozenset(
    {"text", "image", "voice", "video", "file", "link", "miniprogram", "msgmenu", "location"}
)
_MEDIA_TYPES = frozenset({"image", "voice", "video", "file"})


def _cursor(open_kfid: str, index: int) -> str:
    return base64.urlsafe_b64encode(f"{open_kfid}:{index}".encode()).decode().rstrip("=")


def _position(open_kfid: str, cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        owner, _, index = text.rpartition(":")
        if owner == open_kfid and index.isdigit():
            return int(index)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise APIFault(40097, "invalid cursor")


@routes.endpoint("/cgi-bin/kf/sync_msg", methods=("POST",), auth="work")
def sync_msg(ctx: Context) -> Answer:
    """One page of a 客服账号's messages after ``cursor``."""
    body = ctx.json()
    open_kfid = to_text(body.get("open_kfid"))
    if not open_kfid:
        raise APIFault(95000)
    limit = to_int(body.get("limit", 1000))
    if limit is None or not 1 <= limit <= 1000:
        raise APIFault(40097, "invalid limit")
    token = to_text(body.get("token"))
    if token:
        issued = ctx.data.kf_tokens.get(token)
        if issued is None or issued[0] != open_kfid or ctx.state.clock() >= issued[1]:
            raise APIFault(95007)
    messages = ctx.data.kf_messages.get(open_kfid, [])
    cursor = to_text(body.get("cursor"))
    start = _position(open_kfid, cursor) if cursor else 0
    page = messages[start : start + limit]
    end = start + len(page)
    return ok(
        next_cursor=_cursor(open_kfid, end),
        has_more=1 if end < len(messages) else 0,
        msg_list=[dict(item) for item in page],
    )


@routes.endpoint("/cgi-bin/kf/send_msg", methods=("POST",), auth="work")
def send_msg(ctx: Context) -> Answer:
    """An answer to a customer; accepted ones are recorded in ``sent`` (kind ``"kf"``)."""
    body = ctx.json()
    touser = to_text(body.get("touser"))
    if not touser:
        raise APIFault(40096)
    open_kfid = to_text(body.get("open_kfid"))
    if not open_kfid:
        raise APIFault(95000)
    if open_kfid not in ctx.data.kf_messages:
        raise APIFault(95004)
    msgtype = body.get("msgtype")
    content = body.get(msgtype) if isinstance(msgtype, str) else None
    if msgtype not in KF_MSGTYPES or not isinstance(content, dict):
        raise APIFault(40008)
    _check_content(ctx, msgtype, content)
    window = ctx.data.kf_windows.get((open_kfid, touser))
    if window is None or ctx.state.clock() - window[0] >= SERVICE_WINDOW:
        raise APIFault(95002)
    if window[1] <= 0:
        raise APIFault(95001)
    window[1] -= 1
    msgid = to_text(body.get("msgid")) or f"sandbox{ctx.state.next_id()}"
    ctx.record_sent("kf", {**body, "msgid": msgid})
    return ok(msgid=msgid)


def _check_content(ctx: Context, msgtype: str, content: JSONDict) -> None:
    if msgtype == "text":
        text = to_text(content.get("content"))
        if not text:
            raise APIFault(44004)
        if len(text.encode()) > 2048:
            raise APIFault(45002)
    elif msgtype in _MEDIA_TYPES:
        media = ctx.state.media.get(to_text(content.get("media_id")))
        if media is None:
            raise APIFault(40007)
    elif msgtype == "link" and not (to_text(content.get("url")) and to_text(content.get("title"))):
        raise APIFault(40097)
