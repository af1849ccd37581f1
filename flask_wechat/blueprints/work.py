"""WeCom (企业微信) applications: callbacks always encrypted, their own API host.

Seed ``wecom-callback-mode-crypto.txt``: the GET verification carries an
*encrypted* ``echostr`` signed into ``msg_signature`` (token, timestamp, nonce,
echostr); the answer is the decrypted echostr, exactly. POSTs carry
``<ToUserName/><AgentID/><Encrypt/>``; the receive id inside is the CorpID.
Passive replies are encrypted XML, as for Official Accounts.

The API (``qyapi.weixin.qq.com``) differs too: the access_token comes from
``/cgi-bin/gettoken`` with the CorpID and the app's Secret, replies outside the
answer are application messages from the AgentID, menus belong to an agent, the
JS-SDK has a second ticket for ``wx.agentConfig``, and OAuth resolves a ``code``
to a member's ``UserId``.
"""

from __future__ import annotations

import typing as t

from ..callback import Callback, Inbound, digest
from ..crypto import sign
from ..errors import ConfigError, DecryptError
from ..kf import KF_SYNC
from ..parsing import parse_xml
from ..platform import Platform, SignIn

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from ..api import Client
    from ..config import Account
    from ..crypto import MessageCrypto
    from ..messages import Message
    from ..platform import Outgoing, Query, Verification
    from ..replies import Reply
    from ..state import WeChatState


class WorkCallback(Callback):
    """The callback endpoint of a WeCom application."""

    def _crypto(self) -> MessageCrypto:
        if self.crypto is None:  # pragma: no cover - config requires the key for WeCom
            raise DecryptError("WeCom callbacks need an EncodingAESKey")
        return self.crypto

    def verify_url(self, args: Mapping[str, str]) -> str:
        # The seed insists on URL-decoding echostr; an unescaped "+" in it has
        # become a space by then, which base64 never contains.
        echostr = args.get("echostr", "").replace(" ", "+")
        if not echostr:
            raise DecryptError("missing echostr")
        return self._crypto().decrypt_echostr(
            args.get("msg_signature"), args.get("timestamp", ""), args.get("nonce", ""), echostr
        )

    def open(self, body: bytes, args: Mapping[str, str]) -> Inbound:
        envelope = parse_xml(body)
        encrypt = envelope.get("Encrypt")
        if not isinstance(encrypt, str) or not encrypt:
            raise DecryptError("WeCom message without an Encrypt field")
        timestamp = args.get("timestamp", "")
        nonce = args.get("nonce", "")
        plaintext = self._crypto().open(encrypt, args.get("msg_signature"), timestamp, nonce)
        return Inbound(parse_xml(plaintext), True, digest(plaintext), timestamp, nonce)


def _agent_id(account: Account) -> int:
    if account.agent_id is None:
        raise ConfigError(
            "WECHAT_AGENT_ID", f"WeCom account {account.name!r} needs its AgentID for this call"
        )
    return account.agent_id


class WeCom(Platform):
    """WeCom applications (``WECHAT_KIND = "work"``)."""

    kind = "work"
    title = "WeCom (企业微信)"
    api_base_url = "https://qyapi.weixin.qq.com"
    id_name = "CorpID"
    secret_name = "Secret"  # noqa: S105 - a name, not a secret
    always_encrypted = True
    modes = ("safe",)

    def callback(self, state: WeChatState, account: Account) -> Callback:
        return WorkCallback(state, account)

    def fetch_access_token(self, client: Client, force: bool) -> tuple[str, float]:
        params = {"corpid": client.account.app_id, "corpsecret": client.account.app_secret}
        data = client.request("GET", "/cgi-bin/gettoken", params=params, token=False)
        return str(data["access_token"]), float(data.get("expires_in", 7200))

    def fetch_ticket(self, client: Client, ticket_type: str) -> tuple[str, float]:
        if ticket_type == "jsapi":  # the corp's ticket, for wx.config
            data = client.get("/cgi-bin/get_jsapi_ticket")
        elif ticket_type == "agent_config":  # the app's ticket, for wx.agentConfig
            data = client.get("/cgi-bin/ticket/get", {"type": "agent_config"})
        else:
            raise ValueError(f"WeCom has no {ticket_type!r} ticket")
        return str(data["ticket"]), float(data.get("expires_in", 7200))

    def send_reply(
        self,
        client: Client,
        to_user: str,
        reply: Reply,
        message: Mapping[str, t.Any] | None = None,
    ) -> None:
        body = reply.to_customer_service(to_user)
        open_kfid = message.get("OpenKfId") if message is not None else None
        if isinstance(open_kfid, str) and open_kfid:
            # A 微信客服 customer (see flask_wechat.kf): answered from the 客服账号.
            msgtype = str(body["msgtype"])
            client.kf.send_msg(to_user, open_kfid, msgtype, body[msgtype])
            return
        body["agentid"] = _agent_id(client.account)
        client.post("/cgi-bin/message/send", body)

    def follow_up(self, message: Message) -> list[tuple[str, dict[str, t.Any]]]:
        open_kfid = message.raw.get("OpenKfId")
        if message.event != "kf_msg_or_event" or not isinstance(open_kfid, str) or not open_kfid:
            return []
        token = message.raw.get("Token")
        return [
            (KF_SYNC, {"open_kfid": open_kfid, "token": token if isinstance(token, str) else ""})
        ]

    def menu_params(self, account: Account) -> dict[str, t.Any]:
        return {"agentid": _agent_id(account)}

    def authorize_params(self, account: Account) -> dict[str, t.Any]:
        # WeCom wants the app for snsapi_privateinfo, and accepts it always.
        return {} if account.agent_id is None else {"agentid": account.agent_id}

    def sign_in(self, client: Client, code: str, scope: str) -> SignIn:
        info = client.work.auth_user_info(code)  # the newer path; user/getuserinfo is deprecated
        return SignIn(
            info.get("openid") or info.get("OpenId"),
            None,
            info.get("userid") or info.get("UserId"),
            scope,
            None,
        )

    def jssdk_extra(self, account: Account) -> dict[str, t.Any]:
        return {"beta": True}  # needed for wx.invoke style APIs

    def target(self, account: Account, original_id: str) -> str:
        return account.app_id or original_id  # WeCom messages are addressed to the CorpID

    def extra_fields(self, account: Account) -> dict[str, t.Any]:
        return {} if account.agent_id is None else {"AgentID": account.agent_id}

    def build_request(self, out: Outgoing) -> tuple[bytes, Query]:
        if out.crypto is None:
            raise ValueError("WeCom callbacks are always encrypted")
        sealed = out.crypto.seal(out.body, out.timestamp, out.nonce)
        envelope = {
            "ToUserName": out.fields.get("ToUserName", out.account.app_id),
            "Encrypt": sealed.encrypt,
            "AgentID": out.fields.get("AgentID", out.account.agent_id),
        }
        query = {"msg_signature": sealed.msg_signature, "timestamp": out.timestamp}
        query["nonce"] = out.nonce
        return out.serialise(envelope), query

    def build_verification(self, check: Verification) -> Query:
        if check.crypto is None:
            raise ValueError("WeCom callbacks are always encrypted")
        # WeCom sends the echostr encrypted and expects the plaintext back.
        encrypted = check.crypto.encrypt_raw(check.echostr)
        token = check.account.token or ""
        return {
            "msg_signature": sign(token, check.timestamp, check.nonce, encrypted),
            "timestamp": check.timestamp,
            "nonce": check.nonce,
            "echostr": encrypted,
        }
