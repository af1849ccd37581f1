"""Mini Program and Mini Game customer service (小程序/小游戏客服消息).

URL verification and signatures are the Official Account's (seed
``miniprogram-message-server-setup.txt``). Message push comes as XML or JSON,
as configured with ``WECHAT_FORMAT`` in the admin console; safe mode wraps it in
``{"ToUserName": ..., "Encrypt": ...}`` (seed
``minigame-customer-service-and-access-token.txt``). Mini programs take no
passive reply: a handler's reply is sent through the customer-service API and
the callback answers ``success``. The one exception is
:class:`~flask_wechat.replies.TransferCustomerServiceReply`, which WeChat takes
only as the answer (转发客服消息), in the account's format.
"""

from __future__ import annotations

import typing as t

from ..parsing import parse_json, parse_xml
from .mp import OfficialAccountCallback

if t.TYPE_CHECKING:
    from ..parsing import Fields


class MiniProgramCallback(OfficialAccountCallback):
    """The customer-service message endpoint of a Mini Program or Mini Game."""

    def parse(self, body: bytes) -> Fields:
        """JSON or XML, as the account is configured (``WECHAT_FORMAT``)."""
        return parse_json(body) if self.account.format == "json" else parse_xml(body)
