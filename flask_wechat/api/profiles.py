"""How each kind of account uses the API: the API profiles.

An :class:`APIProfile` knows what differs between kinds once a call is to be made:
where the access_token and tickets come from, how a reply is sent outside a
passive answer, the parameters menus and OAuth need, how an OAuth ``code`` is
traded, and what ``wx.config`` adds. The base class is the plain WeChat app (an
Official Account, also a Mini Program); :class:`WeComProfile` overrides what
WeCom does differently. :data:`PROFILES` gives each ``WECHAT_KIND`` its profile; a
client may be given another (accounts that get their token elsewhere).
"""

from __future__ import annotations

import typing as t

from ..errors import ConfigError
from .kf import KfAPI
from .oauth import OAuthAPI
from .work import WorkAPI

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from ..config import Account
    from ..replies import Reply
    from .base import Caller


class SignIn(t.NamedTuple):
    """Who an OAuth ``code`` belongs to, and the web token to keep (if any)."""

    open_id: str | None
    union_id: str | None
    user_id: str | None
    scope: str
    token: dict[str, t.Any] | None


class APIProfile:
    """The API of an Official Account (and a Mini Program)."""

    def fetch_access_token(self, client: Caller, force: bool) -> tuple[str, float]:
        """``(access_token, expires_in)`` from ``/cgi-bin/token`` (or
        ``/cgi-bin/stable_token`` with ``WECHAT_STABLE_TOKEN``)."""
        account = client.account
        if client.stable_token:
            body = {
                "grant_type": "client_credential",
                "appid": account.app_id,
                "secret": account.app_secret,
                "force_refresh": force,
            }
            data = client.request(
                "POST", "/cgi-bin/stable_token", json=body, token=False, idempotent=True
            )
        else:
            params = {
                "grant_type": "client_credential",
                "appid": account.app_id,
                "secret": account.app_secret,
            }
            data = client.request("GET", "/cgi-bin/token", params=params, token=False)
        return str(data["access_token"]), float(data.get("expires_in", 7200))

    def fetch_ticket(self, client: Caller, ticket_type: str) -> tuple[str, float]:
        """``(ticket, expires_in)`` of ``ticket_type`` (``"jsapi"``; WeCom also
        ``"agent_config"``)."""
        if ticket_type != "jsapi":
            raise ValueError(f"{client.account.platform.title} has no {ticket_type!r} ticket")
        data = client.get("/cgi-bin/ticket/getticket", {"type": "jsapi"})
        return str(data["ticket"]), float(data.get("expires_in", 7200))

    def send_reply(
        self,
        client: Caller,
        to_user: str,
        reply: Reply,
        message: Mapping[str, t.Any] | None = None,
    ) -> None:
        """Send ``reply`` to ``to_user`` outside a passive answer: the
        customer-service API (``/cgi-bin/message/custom/send``). ``message`` is
        the raw fields of the message answered, when known (the channel it came
        by may decide how to answer: WeCom 微信客服)."""
        client.post("/cgi-bin/message/custom/send", reply.to_customer_service(to_user))

    def menu_params(self, account: Account) -> dict[str, t.Any]:
        """Query parameters every menu call carries (WeCom: the ``agentid``)."""
        return {}

    def authorize_params(self, account: Account) -> dict[str, t.Any]:
        """Extra parameters of the OAuth consent URL (WeCom: the ``agentid``)."""
        return {}

    def sign_in(self, client: Caller, code: str, scope: str) -> SignIn:
        """Trade an OAuth ``code`` for the user's ids (and the web token to keep)."""
        data = OAuthAPI(client).exchange_code(code)
        token = {
            "access_token": data["access_token"],
            "refresh_token": data.get("refresh_token", ""),
            "expires_in": float(data.get("expires_in", 7200)),
            "scope": data.get("scope", ""),
        }
        return SignIn(
            str(data["openid"]),
            data.get("unionid"),
            None,
            str(data.get("scope") or scope),
            token,
        )

    def jssdk_extra(self, account: Account) -> dict[str, t.Any]:
        """Extra keys of the ``wx.config`` object (WeCom: ``beta: true``)."""
        return {}


def _agent_id(account: Account) -> int:
    if account.agent_id is None:
        raise ConfigError(
            "WECHAT_AGENT_ID", f"WeCom account {account.name!r} needs its AgentID for this call"
        )
    return account.agent_id


class WeComProfile(APIProfile):
    """WeCom applications: ``qyapi.weixin.qq.com``, ``/cgi-bin/gettoken`` with the
    CorpID and the app's Secret, application messages from the AgentID, menus of
    an agent, a second ticket for ``wx.agentConfig``, OAuth to a member's UserId."""

    def fetch_access_token(self, client: Caller, force: bool) -> tuple[str, float]:
        params = {"corpid": client.account.app_id, "corpsecret": client.account.app_secret}
        data = client.request("GET", "/cgi-bin/gettoken", params=params, token=False)
        return str(data["access_token"]), float(data.get("expires_in", 7200))

    def fetch_ticket(self, client: Caller, ticket_type: str) -> tuple[str, float]:
        if ticket_type == "jsapi":  # the corp's ticket, for wx.config
            data = client.get("/cgi-bin/get_jsapi_ticket")
        elif ticket_type == "agent_config":  # the app's ticket, for wx.agentConfig
            data = client.get("/cgi-bin/ticket/get", {"type": "agent_config"})
        else:
            raise ValueError(f"WeCom has no {ticket_type!r} ticket")
        return str(data["ticket"]), float(data.get("expires_in", 7200))

    def send_reply(
        self,
        client: Caller,
        to_user: str,
        reply: Reply,
        message: Mapping[str, t.Any] | None = None,
    ) -> None:
        body = reply.to_customer_service(to_user)
        open_kfid = message.get("OpenKfId") if message is not None else None
        if isinstance(open_kfid, str) and open_kfid:
            # A 微信客服 customer (see flask_wechat.kf): answered from the 客服账号.
            msgtype = str(body["msgtype"])
            KfAPI(client).send_msg(to_user, open_kfid, msgtype, body[msgtype])
            return
        body["agentid"] = _agent_id(client.account)
        client.post("/cgi-bin/message/send", body)

    def menu_params(self, account: Account) -> dict[str, t.Any]:
        return {"agentid": _agent_id(account)}

    def authorize_params(self, account: Account) -> dict[str, t.Any]:
        # WeCom wants the app for snsapi_privateinfo, and accepts it always.
        return {} if account.agent_id is None else {"agentid": account.agent_id}

    def sign_in(self, client: Caller, code: str, scope: str) -> SignIn:
        # the newer path; user/getuserinfo is deprecated
        info = WorkAPI(client).auth_user_info(code)
        return SignIn(
            info.get("openid") or info.get("OpenId"),
            None,
            info.get("userid") or info.get("UserId"),
            scope,
            None,
        )

    def jssdk_extra(self, account: Account) -> dict[str, t.Any]:
        return {"beta": True}  # needed for wx.invoke style APIs


#: ``WECHAT_KIND`` → how its accounts use the API.
PROFILES: dict[str, APIProfile] = {
    "mp": APIProfile(),
    "miniprogram": APIProfile(),
    "work": WeComProfile(),
}
