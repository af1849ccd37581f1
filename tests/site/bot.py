"""The site's WeChat handlers: they use the site's own models."""

from __future__ import annotations

import asyncio

from flask_wechat import Message, TextReply

from .extensions import wechat
from .models import ORDERS, user_by_open_id


@wechat.on("text", match=r"^orders?$")
async def orders(message: Message) -> TextReply:
    """A bound user's orders (an async handler, awaited like an async view)."""
    await asyncio.sleep(0)
    user = user_by_open_id(message.source or "")
    if user is None:
        return TextReply("bind your account first")
    return TextReply(", ".join(ORDERS.get(user.id, [])) or "no orders")


@wechat.on("subscribe")
def welcome(message: Message) -> str:
    return "welcome to the shop"


@wechat.on("click", key="BROKEN")
def broken(message: Message) -> None:
    raise LookupError("the menu's handler is broken")
