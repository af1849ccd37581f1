"""WeCom 微信客服 (WeChat customer service run from WeCom): read and send messages.

Customers write to a 客服账号 (``open_kfid``) from WeChat; WeCom only pushes a
``kf_msg_or_event`` event (with a ``Token``) to the app's callback, and the
messages are read with :meth:`KfAPI.sync_msg` (see :mod:`flask_wechat.kf`, which
does that on its own). Answers go out with :meth:`KfAPI.send_msg`, within 48
hours of the customer's last message (at most 5 per message).

https://developer.work.weixin.qq.com/document/path/94670 (sync_msg) and
https://developer.work.weixin.qq.com/document/path/94677 (send_msg)
"""

from __future__ import annotations

import typing as t

from .base import APIModule

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from .base import JSON


class KfAPI(APIModule):
    """``/cgi-bin/kf/sync_msg`` and ``/cgi-bin/kf/send_msg``."""

    def sync_msg(
        self,
        open_kfid: str,
        cursor: str | None = None,
        token: str | None = None,
        limit: int = 1000,
        voice_format: int | None = None,
    ) -> JSON:
        """One page of messages and events of ``open_kfid`` after ``cursor`` (from
        the oldest of the last 3 days without one): ``msg_list``, ``next_cursor``
        and ``has_more``.

        :param token: the ``Token`` of the ``kf_msg_or_event`` event (valid 10
            minutes); without it WeCom limits the call strictly.
        :param limit: at most 1000.
        :param voice_format: 0 AMR (the default), 1 Silk.
        """
        body: dict[str, t.Any] = {"open_kfid": open_kfid, "limit": limit}
        if cursor:
            body["cursor"] = cursor
        if token:
            body["token"] = token
        if voice_format is not None:
            body["voice_format"] = voice_format
        return self.client.post("/cgi-bin/kf/sync_msg", body, idempotent=True)

    def send_msg(
        self,
        touser: str,
        open_kfid: str,
        msgtype: str,
        body: Mapping[str, t.Any],
        msgid: str | None = None,
    ) -> str:
        """Send a message of ``msgtype`` (``text``, ``image``, ``voice``, ``video``,
        ``file``, ``link``, ``miniprogram``, ``msgmenu``, ``location``) from
        ``open_kfid`` to the customer ``touser`` (their ``external_userid``);
        ``body`` is the object under that key. Returns the ``msgid``.

        :param msgid: an id of one's own (``[0-9a-zA-Z_-]``, at most 32 bytes).
        """
        message: dict[str, t.Any] = {"touser": touser, "open_kfid": open_kfid}
        if msgid is not None:
            message["msgid"] = msgid
        message["msgtype"] = msgtype
        message[msgtype] = dict(body)
        return str(self.client.post("/cgi-bin/kf/send_msg", message)["msgid"])
