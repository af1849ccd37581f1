"""Mini Program (and Mini Game) server-side login."""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from .client import JSON, Client


class MiniProgramAPI:
    """Calls specific to Mini Programs."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def code_to_session(self, js_code: str) -> JSON:
        """Trade the code from ``wx.login()`` for ``openid``, ``session_key`` (and
        ``unionid``). Keep the session_key on the server: it decrypts user data.

        Signed with the AppSecret, not the access_token; a code works once, so
        the call is not repeated after a timeout.
        """
        return self.client.trade_code("/sns/jscode2session", "js_code", js_code)
