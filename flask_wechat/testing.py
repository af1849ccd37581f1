"""Test helpers: play WeChat against your app's callbacks.

:class:`WeChatTestClient` builds callback requests exactly as WeChat sends them,
signed and, when the account has an EncodingAESKey, encrypted; posts them
through Flask's test client; and hands back the answer decrypted and parsed::

    from flask_wechat.testing import WeChatTestClient

    def test_echo(app):
        wechat = WeChatTestClient(app)
        result = wechat.text("hello")
        assert result.reply["Content"] == "hello"

For a third-party platform's authorizer, name its AppID:
``WeChatTestClient(app, "wx0123456789abcdef")`` posts to the platform's
``callback_url``, encrypted with the platform's Token, key and AppID.

The pytest plugin shipped with flask_wechat offers it as the ``wechat_client``
fixture (it uses your ``app`` fixture), and a fake WeChat API as the ``sandbox``
fixture.

:class:`Recorder` remembers what a signal sent, and :func:`recording` connects
one for a block::

    from flask_wechat import signals
    from flask_wechat.testing import recording

    def test_rejections_are_signalled(app):
        with recording(signals.request_rejected, app) as rejected:
            app.test_client().post("/wechat/")
        assert [call["reason"] for call in rejected.calls]
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
import typing as t
from collections.abc import Iterator

from blinker import ANY

from .crypto import MessageCrypto, check_signature, make_nonce, sign
from .parsing import parse_json, parse_xml, to_xml

if t.TYPE_CHECKING:
    from blinker import Signal
    from flask import Flask
    from flask.testing import FlaskClient
    from werkzeug.test import TestResponse

    from .config import Account
    from .messages import Message
    from .parsing import Fields
    from .platform import Platform

MODES = ("plain", "compatible", "safe")

DEFAULT_USER = "oTestUser0000000000000000000"
"""The OpenID messages come from unless a test says otherwise."""

DEFAULT_ORIGINAL_ID = "gh_0123456789ab"
"""The account's original ID (``ToUserName``) unless a test says otherwise."""


Query = dict[str, str]


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


class Envelopes:
    """How WeChat sends an Official Account's (or a Mini Program's) callbacks."""

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
        if out.account.platform.openid_in_query and "FromUserName" in fields:
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


class WeComEnvelopes(Envelopes):
    """WeCom: messages to the CorpID with the ``AgentID``, always encrypted, and an
    encrypted ``echostr``."""

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


#: ``WECHAT_KIND`` → how WeChat sends its callbacks.
ENVELOPES: dict[str, Envelopes] = {
    "mp": Envelopes(),
    "miniprogram": Envelopes(),
    "work": WeComEnvelopes(),
}


class CallbackResult:
    """What the callback answered to one request, decrypted and parsed."""

    def __init__(self, response: TestResponse, sent: Fields, reply: Fields | None, encrypted: bool):
        #: the Flask test response, untouched.
        self.response = response
        #: the message fields that were sent.
        self.sent = sent
        #: the reply's fields (``{"MsgType": "text", "Content": ...}``), or ``None``
        #: when the callback answered ``success``/nothing.
        self.reply = reply
        #: whether the answer came encrypted.
        self.encrypted = encrypted

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def text(self) -> str:
        """The raw answer body as text."""
        return self.response.get_data(as_text=True)

    @property
    def is_success(self) -> bool:
        """Whether the callback answered ``success`` (or nothing): no passive reply."""
        return self.status_code == 200 and self.reply is None

    @property
    def msg_type(self) -> str | None:
        """The reply's ``MsgType``."""
        return None if self.reply is None else self.reply.get("MsgType")

    @property
    def content(self) -> str | None:
        """A text reply's ``Content``."""
        return None if self.reply is None else self.reply.get("Content")

    def __repr__(self) -> str:
        return f"<CallbackResult {self.status_code} reply={self.reply!r}>"


class WeChatTestClient:
    """Sends callback requests to one account of ``app`` the way WeChat does.

    :param account: the account name (default: the app's default account).
    :param mode: ``"plain"``, ``"compatible"`` or ``"safe"``; by default safe mode
        when the account has an EncodingAESKey, else plaintext.
    :param user: the OpenID messages come from.
    """

    def __init__(
        self,
        app: Flask,
        account: str | None = None,
        *,
        mode: str | None = None,
        user: str = DEFAULT_USER,
        original_id: str = DEFAULT_ORIGINAL_ID,
        client: FlaskClient | None = None,
    ) -> None:
        self.app = app
        self.account: Account = app.extensions["wechat"].account(account)
        if self.account.callback_url is None:
            raise ValueError(f"account {self.account.name!r} has no callback URL")
        self.crypto: MessageCrypto | None = None
        if self.account.encoding_aes_key:
            self.crypto = MessageCrypto(
                self.account.token or "", self.account.encoding_aes_key, self.account.receive_id
            )
        self.platform: Platform = self.account.platform
        #: how WeChat sends this account's callbacks.
        self.envelopes = ENVELOPES[self.account.kind]
        self.mode = mode or ("safe" if self.crypto else "plain")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if self.mode != "plain" and self.crypto is None:
            raise ValueError(f"{self.mode} mode needs an EncodingAESKey on the account")
        if self.mode not in self.platform.modes:
            raise ValueError(
                f"{self.platform.title} callbacks come in {' or '.join(self.platform.modes)} mode"
            )
        self.user = user
        self.original_id = self.envelopes.target(self.account, original_id)
        self.client = client or app.test_client()

    # -- building messages -------------------------------------------------------

    def message(self, msg_type: str, **fields: t.Any) -> Fields:
        """The fields of a message of ``msg_type``; ``fields`` use WeChat's names
        (``Content="hi"``, ``MediaId="..."``) and override the defaults."""
        message: Fields = {
            "ToUserName": self.original_id,
            "FromUserName": self.user,
            "CreateTime": int(time.time()),
            "MsgType": msg_type,
            "MsgId": secrets.randbits(63),
        }
        self._add_agent(message)
        message.update(fields)
        return message

    def event_message(self, event: str, **fields: t.Any) -> Fields:
        """The fields of an event, spelt as WeChat spells it (``"CLICK"``, ``"subscribe"``)."""
        message: Fields = {
            "ToUserName": self.original_id,
            "FromUserName": self.user,
            "CreateTime": int(time.time()),
            "MsgType": "event",
            "Event": event,
        }
        self._add_agent(message)
        message.update(fields)
        return message

    def _add_agent(self, message: Fields) -> None:
        message.update(self.envelopes.extra_fields(self.account))

    # -- sending -------------------------------------------------------------------

    def text(self, content: str, **fields: t.Any) -> CallbackResult:
        """Send a text message."""
        return self.send(self.message("text", Content=content, **fields))

    def event(self, event: str, **fields: t.Any) -> CallbackResult:
        """Send an event (``wechat.event("CLICK", EventKey="V1001_GOOD")``)."""
        return self.send(self.event_message(event, **fields))

    def send(
        self,
        message: Fields,
        *,
        timestamp: int | None = None,
        nonce: str | None = None,
    ) -> CallbackResult:
        """Send ``message`` (a dict of fields) signed, and encrypted per the mode;
        send the same dict twice to play a WeChat retry."""
        body, query = self.encode(message, timestamp=timestamp, nonce=nonce)
        response = self.post(body, query)
        reply, encrypted = self.decode_reply(response)
        return CallbackResult(response, message, reply, encrypted)

    def encode(
        self,
        message: Fields,
        *,
        timestamp: int | None = None,
        nonce: str | None = None,
        body: bytes | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """The body and query string WeChat would send for ``message``.

        :param body: the message exactly as serialised (default: the account's
            format); for tests of bytes WeChat never writes itself.
        """
        ts = str(int(time.time()) if timestamp is None else timestamp)
        return self.envelopes.build_request(
            Outgoing(
                message,
                self._serialise(message) if body is None else body,
                self.account,
                self.crypto if self.mode != "plain" else None,
                self.mode,
                ts,
                nonce or make_nonce(10),
                self._serialise,
            )
        )

    @property
    def is_json(self) -> bool:
        """Whether the account takes JSON message push (Mini Programs so configured)."""
        return self.account.format == "json"

    def _serialise(self, fields: t.Mapping[str, t.Any]) -> bytes:
        if self.is_json:
            text = json.dumps(fields, ensure_ascii=False)
            try:
                return text.encode()
            except UnicodeEncodeError:  # a lone surrogate: JSON can still spell it
                return json.dumps(fields).encode()
        return to_xml(fields).encode()

    def post(
        self,
        body: bytes | str,
        query: t.Mapping[str, str] | None = None,
        content_type: str = "text/xml",
    ) -> TestResponse:
        """POST a raw ``body`` to the callback URL (for tests of hostile input)."""
        if content_type == "text/xml" and self.is_json:
            content_type = "application/json"
        return self.client.post(
            self.url, query_string=dict(query or {}), data=body, content_type=content_type
        )

    def verify_url(
        self,
        echostr: str = "echo-1234567890",
        *,
        timestamp: int | None = None,
        nonce: str | None = None,
    ) -> TestResponse:
        """Send WeChat's GET URL verification; the answer should be ``echostr``."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        check = Verification(echostr, self.account, self.crypto, ts, nonce or make_nonce(10))
        query = self.envelopes.build_verification(check)
        return self.client.get(self.url, query_string=query)

    @property
    def url(self) -> str:
        """The account's callback URL as mounted (with ``WeChat(url_prefix=...)``);
        an authorizer's is the third-party platform's ``callback_url``."""
        state = self.app.extensions["wechat"]
        endpoint = f"{state.blueprint_name}.callback_{self.account.name}"
        if self.account.name not in state.accounts:  # a third-party platform's authorizer
            endpoint = f"{state.blueprint_name}.component_callback"
        try:
            rule = next(iter(self.app.url_map.iter_rules(endpoint))).rule
        except (KeyError, StopIteration):
            return self.account.callback_url or ""
        return rule.replace("<app_id>", self.account.name)

    # -- over real HTTP, as WeChat delivers ----------------------------------------------

    def deliver(
        self, url: str, message: Fields, *, timeout: float = 5.0, tries: int = 3
    ) -> Delivery:
        """Deliver ``message`` to a running site at ``url`` the way WeChat does:
        each try waits ``timeout`` seconds for the answer, then the identical
        request (same query string, same body) is sent again, up to ``tries``
        times; a try answered with 200 ends the delivery.

        For checking a deployment end to end: whether the 5-second answer holds
        on its server, under its load.
        """
        import requests  # noqa: PLC0415 - only deliveries over HTTP need it

        body, query = self.encode(message)
        content_type = "application/json" if self.is_json else "text/xml"
        delivery = Delivery()
        for _ in range(tries):
            started = time.monotonic()
            try:
                answer = requests.post(
                    url,
                    params=query,
                    data=body,
                    headers={"Content-Type": content_type},
                    timeout=timeout,
                )
            except (requests.Timeout, requests.ConnectionError):  # WeChat tries again
                delivery.tries.append(Try(None, time.monotonic() - started, None, False))
                continue
            elapsed = time.monotonic() - started
            reply, encrypted = self.decode_body(answer.status_code, answer.content)
            delivery.tries.append(Try(answer.status_code, elapsed, reply, encrypted))
            if answer.status_code == 200:
                break
        return delivery

    # -- reading the answer --------------------------------------------------------

    def decode_reply(self, response: TestResponse) -> tuple[Fields | None, bool]:
        """The reply fields in ``response`` (decrypted when encrypted) and whether it was."""
        return self.decode_body(response.status_code, response.get_data())

    def decode_body(self, status: int, body: bytes) -> tuple[Fields | None, bool]:
        """The reply fields in an answer's ``body`` (decrypted when encrypted) and
        whether it was; for answers that did not come through Flask's test client."""
        if status != 200 or body.strip() in (b"", b"success"):
            return None, False
        parse = parse_json if body.lstrip()[:1] == b"{" else parse_xml
        fields = parse(body)
        if "Encrypt" not in fields:
            return fields, False
        if self.crypto is None:
            raise AssertionError("an encrypted reply from an account without an AES key")
        # The reply's own signature must verify, as WeChat checks it.
        check_signature(
            str(fields.get("MsgSignature", "")),
            self.crypto.token,
            str(fields.get("TimeStamp", "")),
            str(fields.get("Nonce", "")),
            str(fields["Encrypt"]),
        )
        return parse(self.crypto.decrypt_raw(str(fields["Encrypt"]))), True


class Try(t.NamedTuple):
    """One try of a :meth:`WeChatTestClient.deliver`: the HTTP status (``None``
    when no answer came in time), how long it took, the decoded reply."""

    status: int | None
    seconds: float
    reply: Fields | None
    encrypted: bool


class Delivery:
    """Every try of one message delivered as WeChat delivers it."""

    def __init__(self) -> None:
        self.tries: list[Try] = []

    @property
    def answered(self) -> Try | None:
        """The try answered with 200, if any."""
        return next((each for each in self.tries if each.status == 200), None)

    @property
    def answered_first_time(self) -> bool:
        """Whether WeChat's first try got its answer (no retry was needed)."""
        return bool(self.tries) and self.tries[0].status == 200

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{'no answer' if each.status is None else each.status} in {each.seconds:.2f}s"
            for each in self.tries
        )
        return f"<Delivery {shown}>"


class Recorder:
    """A blinker receiver remembering every send: the sender and the keyword payload.

    Each call is kept as a dict, ``{"sender": app, **payload}``; :attr:`calls` lists
    them in order (a copy: the recorder may be called from other threads meanwhile).
    ``on_call``, when given, runs at each send and its result is kept as ``"observed"``,
    to see what was true at the moment the signal fired.
    """

    def __init__(self, on_call: t.Callable[[], object] | None = None) -> None:
        self._calls: list[dict[str, t.Any]] = []
        self._lock = threading.Lock()
        self.on_call = on_call

    def __call__(self, sender: object, **payload: t.Any) -> None:
        extra: dict[str, t.Any] = {}
        if self.on_call is not None:
            extra["observed"] = self.on_call()
        with self._lock:
            self._calls.append({"sender": sender, **payload, **extra})

    @property
    def calls(self) -> list[dict[str, t.Any]]:
        """Every send so far, oldest first."""
        with self._lock:
            return list(self._calls)

    @property
    def messages(self) -> list[Message]:
        """The ``message=`` of every send (for the signals that carry one)."""
        return [call["message"] for call in self.calls]


@contextlib.contextmanager
def recording(
    signal: Signal, app: Flask | None = None, recorder: Recorder | None = None
) -> Iterator[Recorder]:
    """Record ``signal`` (sent by ``app``, or by anyone without one) for a ``with`` block."""
    recorder = Recorder() if recorder is None else recorder
    sender: t.Any = app if app is not None else ANY
    with signal.connected_to(recorder, sender):
        yield recorder
