"""Official Account scene QR codes: ``qrcode/create`` and the ``showqrcode`` image."""

from __future__ import annotations

import base64
import secrets
import typing as t

from flask import Response

from ..state import APIFault
from .base import Answer, Context, RouteTable, error_answer, to_int, to_text

routes = RouteTable()

#: A 1x1 PNG: what ``showqrcode`` serves for every ticket.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg=="
)
_ACTIONS = {"QR_SCENE", "QR_STR_SCENE", "QR_LIMIT_SCENE", "QR_LIMIT_STR_SCENE"}
#: A temporary code lives 30 seconds unless told otherwise, 30 days at most.
DEFAULT_EXPIRE, MAX_EXPIRE = 30, 2_592_000


@routes.endpoint("/cgi-bin/qrcode/create", methods=("POST",))
def create(ctx: Context) -> Answer:
    """A temporary or permanent QR code; WeChat's limits on the scene and life."""
    body = ctx.json()
    action = body.get("action_name")
    if action not in _ACTIONS:
        raise APIFault(40097)
    info = body.get("action_info")
    scene_info = info.get("scene") if isinstance(info, dict) else None
    if not isinstance(scene_info, dict):
        raise APIFault(40053)
    temporary = action in ("QR_SCENE", "QR_STR_SCENE")
    scene: t.Any
    if action.endswith("STR_SCENE"):
        scene = to_text(scene_info.get("scene_str"))
        if not 1 <= len(scene) <= 64:
            raise APIFault(40053)
    else:
        scene = to_int(scene_info.get("scene_id"))
        top = 2**32 - 1 if temporary else 100_000
        if scene is None or not 1 <= scene <= top:
            raise APIFault(40053)
    now = ctx.state.clock()
    expires_at = None
    answer: dict[str, t.Any] = {}
    if temporary:
        expire = body.get("expire_seconds", DEFAULT_EXPIRE)
        seconds = to_int(expire)
        if seconds is None or not 1 <= seconds <= MAX_EXPIRE:
            raise APIFault(40097)
        expires_at = now + seconds
        answer["expire_seconds"] = seconds
    ticket = "gQ" + secrets.token_urlsafe(72)
    ctx.data.qrcodes[ticket] = {"scene": scene, "expires_at": expires_at}
    return {"ticket": ticket, **answer, "url": "http://weixin.qq.com/q/" + ticket[2:24]}


@routes.endpoint("/cgi-bin/showqrcode", auth="none")
def showqrcode(ctx: Context) -> Answer:
    """The image of a valid ticket (of any app); 404 for an unknown or expired one."""
    ticket = ctx.args.get("ticket", "")
    for data in ctx.state.apps.values():
        qrcode = data.qrcodes.get(ticket)
        if qrcode is None:
            continue
        expires_at = qrcode["expires_at"]
        if expires_at is None or ctx.state.clock() < expires_at:
            return Response(PNG, content_type="image/jpg")
    return error_answer(APIFault(40097), 404)
