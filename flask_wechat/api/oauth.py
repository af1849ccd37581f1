"""Web authorization (网页授权): send a user through WeChat's consent page and
turn the ``code`` it returns into their OpenID (and profile).

These calls carry the *web* access_token of one user, or the AppSecret, never
the account's access_token, so they all pass ``token=False``.
"""

from __future__ import annotations

import typing as t
from urllib.parse import quote

from ..errors import APIError
from .base import APIModule

if t.TYPE_CHECKING:
    from .base import JSON

AUTHORIZE_HOST = "https://open.weixin.qq.com"

#: errcode -1 (system busy) says nothing about the token, so :meth:`OAuthAPI.check`
#: lets it through instead of answering "invalid".
_UNDECIDED = frozenset({-1})


class OAuthAPI(APIModule):
    """OAuth 2.0 web authorization for pages opened inside WeChat."""

    def authorize_url(self, redirect_uri: str, scope: str = "snsapi_base", state: str = "") -> str:
        """The consent page URL to redirect the user to.

        WeChat requires the parameters in exactly this order and the
        ``#wechat_redirect`` suffix. ``snsapi_base`` is silent and yields the
        OpenID; ``snsapi_userinfo`` asks the user and also allows :meth:`userinfo`.
        ``state`` comes back unchanged (WeChat allows ``[a-zA-Z0-9]``, 128 bytes).
        Against a non-WeChat ``api_base_url`` (a sandbox) that host serves the page.
        """
        base = self.client.base_url
        host = AUTHORIZE_HOST if base == self.client.platform.api_base_url else base
        account = self.client.account
        query = self._consent_query(redirect_uri, scope, state)
        for name, value in self.client.profile.authorize_params(account).items():
            query += f"&{name}={quote(str(value), safe='')}"
        return f"{host}/connect/oauth2/authorize?{query}#wechat_redirect"

    def qrconnect_url(self, redirect_uri: str, state: str, scope: str = "snsapi_login") -> str:
        """The website QR login page (微信登录, a 网站应用 of the Open Platform): the
        user scans it with WeChat and comes back to ``redirect_uri`` with a
        ``code`` for :meth:`exchange_code`.

        https://developers.weixin.qq.com/doc/oplatform/Website_App/WeChat_Login/Wechat_Login.html
        """
        query = self._consent_query(redirect_uri, scope, state)
        return f"{AUTHORIZE_HOST}/connect/qrconnect?{query}#wechat_redirect"

    def _consent_query(self, redirect_uri: str, scope: str, state: str) -> str:
        # WeChat wants these four in exactly this order.
        return (
            f"appid={quote(self.client.account.app_id or '', safe='')}"
            f"&redirect_uri={quote(redirect_uri, safe='')}"
            f"&response_type=code&scope={quote(scope, safe='')}"
            f"&state={quote(state, safe='')}"
        )

    def exchange_code(self, code: str) -> JSON:
        """Trade the ``code`` from the redirect for ``access_token``, ``expires_in``,
        ``refresh_token``, ``openid`` and ``scope``.

        A code works once and for five minutes; the call is not repeated after a
        timeout, where a repeat could only answer "code been used" (40163).
        """
        return self.client.trade_code("/sns/oauth2/access_token", "code", code)

    def refresh(self, refresh_token: str) -> JSON:
        """A new web access_token from a ``refresh_token`` (valid 30 days)."""
        params = {
            "appid": self.client.account.app_id,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        return self.client.get("/sns/oauth2/refresh_token", params, token=False)

    def userinfo(self, web_access_token: str, open_id: str, lang: str = "zh_CN") -> JSON:
        """The user's profile (needs scope ``snsapi_userinfo``)."""
        params = {"access_token": web_access_token, "openid": open_id, "lang": lang}
        return self.client.get("/sns/userinfo", params, token=False)

    def check(self, web_access_token: str, open_id: str) -> bool:
        """Whether the web access_token is still valid for this user (``/sns/auth``)."""
        params = {"access_token": web_access_token, "openid": open_id}
        try:
            self.client.get("/sns/auth", params, token=False)
        except APIError as exc:
            if exc.errcode in _UNDECIDED:
                raise
            return False
        return True
