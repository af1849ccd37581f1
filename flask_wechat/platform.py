"""What one kind of WeChat account does differently: the platform descriptor.

Official Accounts, Mini Programs and WeCom apps share the callback pipeline, the
API client, the JS-SDK helper and OAuth; where they differ — how a callback is
opened, where the API lives, how the access_token and tickets are fetched, how a
reply is sent outside a passive answer, how the testing client builds WeChat's
envelope, the OAuth and JS-SDK details — the shared code asks the account's
:class:`Platform`. Each platform subclasses it in its own module under
:mod:`flask_wechat.blueprints` and is listed once in
:data:`flask_wechat.blueprints.PLATFORMS`; nothing else knows the kinds.

The base class is the plain WeChat app (an Official Account); subclasses
override what differs.
"""

from __future__ import annotations

import typing as t

from .crypto import sign

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from .api import Client
    from .callback import Callback
    from .config import Account
    from .crypto import MessageCrypto
    from .messages import Message
    from .replies import Reply
    from .state import WeChatState

Query = dict[str, str]


class SignIn(t.NamedTuple):
    """Who an OAuth ``code`` belongs to, and the web token to keep (if any)."""

    open_id: str | None
    union_id: str | None
    user_id: str | None
    scope: str
    token: dict[str, t.Any] | None


class Outgoing(t.NamedTuple):
    """A message the testing client is about to send as WeChat would."""

    fields: t.Mapping[str, t.Any]
    #: ``fields`` serialised in the account's format.
    body: bytes
    account: Account
    crypto: MessageCrypto | None
    #: ``"plain"``, ``"compatible"`` or ``"safe"``.
    mode: str
    timestamp: str
    nonce: str
    serialise: t.Callable[[t.Mapping[str, t.Any]], bytes]


class Verification(t.NamedTuple):
    """A URL verification the testing client is about to send as WeChat would."""

    echostr: str
    account: Account
    crypto: MessageCrypto | None
    timestamp: str
    nonce: str


class Platform:
    """The differences of one ``WECHAT_KIND``; see the module docstring."""

    #: the ``WECHAT_KIND`` value.
    kind: t.ClassVar[str] = ""
    #: a human name, with WeChat's own.
    title: t.ClassVar[str] = ""
    #: where the API lives (``WECHAT_API_BASE_URL`` overrides it).
    api_base_url: t.ClassVar[str] = "https://api.weixin.qq.com"
    #: what WeChat calls the id that encrypted messages carry.
    id_name: t.ClassVar[str] = "AppID"
    #: what WeChat calls the secret that fetches the access_token.
    secret_name: t.ClassVar[str] = "AppSecret"  # noqa: S105 - a name, not a secret
    #: message push formats the admin console offers (``WECHAT_FORMAT``).
    formats: t.ClassVar[tuple[str, ...]] = ("xml",)
    #: whether every callback is encrypted (no plaintext mode).
    always_encrypted: t.ClassVar[bool] = False
    #: whether the callback's answer can carry a reply (else replies are sent
    #: through the API and the callback answers ``success``).
    passive_replies: t.ClassVar[bool] = True
    #: the message modes WeChat offers, for the testing client.
    modes: t.ClassVar[tuple[str, ...]] = ("plain", "compatible", "safe")
    #: whether a callback's query names the sender (``openid``).
    openid_in_query: t.ClassVar[bool] = True

    # -- callbacks ---------------------------------------------------------------

    def callback(self, state: WeChatState, account: Account) -> Callback:
        """The callback endpoint of ``account``."""
        raise NotImplementedError

    # -- the API -------------------------------------------------------------------

    def fetch_access_token(self, client: Client, force: bool) -> tuple[str, float]:
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

    def fetch_ticket(self, client: Client, ticket_type: str) -> tuple[str, float]:
        """``(ticket, expires_in)`` of ``ticket_type`` (``"jsapi"``; WeCom also
        ``"agent_config"``)."""
        if ticket_type != "jsapi":
            raise ValueError(f"{self.title} has no {ticket_type!r} ticket")
        data = client.get("/cgi-bin/ticket/getticket", {"type": "jsapi"})
        return str(data["ticket"]), float(data.get("expires_in", 7200))

    def send_reply(
        self,
        client: Client,
        to_user: str,
        reply: Reply,
        message: Mapping[str, t.Any] | None = None,
    ) -> None:
        """Send ``reply`` to ``to_user`` outside a passive answer: the
        customer-service API (``/cgi-bin/message/custom/send``). ``message`` is
        the raw fields of the message answered, when known (the channel it came
        by may decide how to answer: WeCom 微信客服)."""
        client.post("/cgi-bin/message/custom/send", reply.to_customer_service(to_user))

    def follow_up(self, message: Message) -> list[tuple[str, dict[str, t.Any]]]:
        """Tasks (name, payload) a received message sets off besides its handler,
        such as pulling the WeCom 微信客服 messages a ``kf_msg_or_event``
        announces; none by default."""
        return []

    def menu_params(self, account: Account) -> dict[str, t.Any]:
        """Query parameters every menu call carries (WeCom: the ``agentid``)."""
        return {}

    # -- pages: OAuth and the JS-SDK ---------------------------------------------------

    def authorize_params(self, account: Account) -> dict[str, t.Any]:
        """Extra parameters of the OAuth consent URL (WeCom: the ``agentid``)."""
        return {}

    def sign_in(self, client: Client, code: str, scope: str) -> SignIn:
        """Trade an OAuth ``code`` for the user's ids (and the web token to keep)."""
        data = client.oauth.exchange_code(code)
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

    # -- the testing client ---------------------------------------------------------

    def target(self, account: Account, original_id: str) -> str:
        """The ``ToUserName`` of a message to ``account`` (an original ID ``gh_…``)."""
        return original_id

    def extra_fields(self, account: Account) -> dict[str, t.Any]:
        """Fields WeChat adds to every message of this platform (WeCom: ``AgentID``)."""
        return {}

    def build_request(self, out: Outgoing) -> tuple[bytes, Query]:
        """The POST body and query WeChat sends for ``out``."""
        fields, timestamp, nonce = out.fields, out.timestamp, out.nonce
        token = out.account.token or ""
        query: Query = {"signature": sign(token, timestamp, nonce), "timestamp": timestamp}
        query["nonce"] = nonce
        if self.openid_in_query and "FromUserName" in fields:
            query["openid"] = str(fields["FromUserName"])
        if out.mode == "plain" or out.crypto is None:
            return out.body, query
        sealed = out.crypto.seal(out.body, timestamp, nonce)
        envelope: dict[str, t.Any] = {"ToUserName": fields.get("ToUserName", "")}
        if out.mode == "compatible":
            envelope = dict(fields)
        envelope["Encrypt"] = sealed.encrypt
        query["encrypt_type"] = "aes"
        query["msg_signature"] = sealed.msg_signature
        return out.serialise(envelope), query

    def build_verification(self, check: Verification) -> Query:
        """The query of WeChat's GET URL verification carrying ``check.echostr``."""
        token = check.account.token or ""
        return {
            "signature": sign(token, check.timestamp, check.nonce),
            "timestamp": check.timestamp,
            "nonce": check.nonce,
            "echostr": check.echostr,
        }
