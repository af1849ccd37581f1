"""WeCom (企业微信) app calls: identify a member from an OAuth code, send app messages."""

from __future__ import annotations

import typing as t

from .base import APIModule

if t.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .base import JSON

#: A recipient list: ``"a|b"`` as WeCom writes it, or a sequence of ids.
Recipients: t.TypeAlias = "str | Sequence[str | int] | None"


def _recipients(value: Recipients) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    return "|".join(str(item) for item in value) or None


class WorkAPI(APIModule):
    """WeCom app messages and member identification."""

    def get_user_info(self, code: str) -> JSON:
        """The member (``UserId``) or outsider (``OpenId``) behind a WeCom OAuth ``code``
        (``/cgi-bin/user/getuserinfo``, deprecated by WeCom; kept for compatibility:
        prefer :meth:`auth_user_info`).

        A code works once, so the call is not repeated after a timeout.
        """
        return self.client.get("/cgi-bin/user/getuserinfo", {"code": code}, idempotent=False)

    def auth_user_info(self, code: str) -> JSON:
        """The member (``userid``, and with ``snsapi_privateinfo`` a ``user_ticket``
        for :meth:`auth_user_detail`) or non-member (``openid``,
        ``external_userid``) behind a WeCom OAuth ``code`` (``/cgi-bin/auth/getuserinfo``).

        A code works once, so the call is not repeated after a timeout.

        https://developer.work.weixin.qq.com/document/path/91023
        """
        return self.client.get("/cgi-bin/auth/getuserinfo", {"code": code}, idempotent=False)

    def auth_user_detail(self, user_ticket: str) -> JSON:
        """A member's sensitive details (``gender``, ``avatar``, ``qr_code``,
        ``mobile``, ``email``, ``biz_mail``, ``address``) for the ``user_ticket``
        of :meth:`auth_user_info` (``/cgi-bin/auth/getuserdetail``); the member
        must have consented (``snsapi_privateinfo``).

        https://developer.work.weixin.qq.com/document/path/95833
        """
        return self.client.post(
            "/cgi-bin/auth/getuserdetail", {"user_ticket": user_ticket}, idempotent=True
        )

    def get_user(self, userid: str) -> JSON:
        """A member of the corp by ``userid`` (``/cgi-bin/user/get``): ``name``,
        ``department``, ``position``, ``status``, ... as far as the app may see.

        https://developer.work.weixin.qq.com/document/path/90196
        """
        return self.client.get("/cgi-bin/user/get", {"userid": userid})

    def send_message(
        self,
        msgtype: str,
        body: Mapping[str, t.Any],
        touser: Recipients = None,
        toparty: Recipients = None,
        totag: Recipients = None,
        agent_id: int | None = None,
        safe: bool = False,
    ) -> JSON:
        """Send an app message of any ``msgtype``; ``body`` is the object under that key.

        Recipients are members (``"@all"`` for everyone), departments and tags;
        WeCom needs at least one. The answer lists ``invaliduser`` etc. for
        recipients it skipped.

        :param agent_id: the sending app; default ``WECHAT_AGENT_ID``.
        :param safe: 保密消息 (watermarked, cannot be forwarded).
        """
        agent = agent_id if agent_id is not None else self.client.account.agent_id
        if agent is None:
            raise ValueError("WeCom messages need the app's AgentID (WECHAT_AGENT_ID or agent_id=)")
        message: dict[str, t.Any] = {"msgtype": msgtype, "agentid": int(agent)}
        targets = {"touser": touser, "toparty": toparty, "totag": totag}
        for key, value in targets.items():
            joined = _recipients(value)
            if joined is not None:
                message[key] = joined
        if not any(key in message for key in targets):
            raise ValueError("a WeCom message needs touser, toparty or totag")
        message[msgtype] = dict(body)
        message["safe"] = 1 if safe else 0
        return self.client.post("/cgi-bin/message/send", message)

    def send_text(
        self,
        content: str,
        touser: Recipients = "@all",
        toparty: Recipients = None,
        totag: Recipients = None,
        agent_id: int | None = None,
        safe: bool = False,
    ) -> JSON:
        """Send a text message, by default to everyone in the app's visible range
        (pass ``touser=None`` to address only departments or tags)."""
        return self.send_message(
            "text",
            {"content": content},
            touser=touser,
            toparty=toparty,
            totag=totag,
            agent_id=agent_id,
            safe=safe,
        )
