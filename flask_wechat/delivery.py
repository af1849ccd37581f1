"""Sending a reply outside the callback's answer, through the WeChat API.

Mini Programs have no passive reply, and a handler that runs past
``WECHAT_REPLY_DEADLINE`` missed its chance to answer: both deliver the reply as a
message instead. Official Accounts and Mini Programs use the customer-service
API (``/cgi-bin/message/custom/send``); WeCom sends an application message
(``/cgi-bin/message/send``) from the account's AgentID.
"""

from __future__ import annotations

import dataclasses
import typing as t

from .replies import ImageReply

if t.TYPE_CHECKING:
    from .api import Client
    from .replies import Reply


def upload_files(client: Client, reply: Reply) -> Reply:
    """``reply`` with any local file uploaded as temporary media (its ``media_id`` set)."""
    if isinstance(reply, ImageReply) and reply.file is not None:
        media_id = str(client.media.upload("image", reply.file)["media_id"])
        return dataclasses.replace(reply, media_id=media_id, file=None)
    return reply


def send_reply(client: Client, to_user: str, reply: Reply) -> None:
    """Deliver ``reply`` to ``to_user`` as a message from ``client``'s account."""
    reply = upload_files(client, reply)
    message = reply.to_customer_service(to_user)
    if client.account.kind == "work":
        if client.account.agent_id is None:
            raise ValueError(f"WeCom account {client.account.name!r} needs WECHAT_AGENT_ID")
        message["agentid"] = client.account.agent_id
        client.post("/cgi-bin/message/send", message)
    else:
        client.post("/cgi-bin/message/custom/send", message)
