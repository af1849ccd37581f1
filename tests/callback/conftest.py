"""The ``platform`` fixture: every kind, format and mode flask_wechat answers.

The tests in this directory are the callback pipeline every platform shares, written
once and run on each: an Official Account in each message mode, a mini program in each
format and mode, and a WeCom app. What only one platform does stays in tests/blueprints/.
"""

from __future__ import annotations

import base64
import json
import secrets
import struct
import time
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from Crypto.Cipher import AES
from flask import Flask

from flask_wechat import Message, WeChat, signals
from flask_wechat.config import Account
from flask_wechat.crypto import MessageCrypto, sign
from flask_wechat.parsing import parse_xml, to_xml
from flask_wechat.platform import PLATFORMS
from flask_wechat.sandbox import SANDBOX_CORP_ID, Sandbox
from flask_wechat.tasks import InlineRunner
from flask_wechat.testing import (
    DEFAULT_ORIGINAL_ID,
    DEFAULT_USER,
    CallbackResult,
    Outgoing,
    Recorder,
    WeChatTestClient,
)

from ..helpers import custom_text, sandbox_app, stringify
from ..rejections import assert_refused

TOKEN = "shared-pipeline-token"
# 43 characters, as the admin consoles generate an EncodingAESKey.
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
WORK_USER = "zhangsan"
WORK_AGENT_ID = "1000002"
SEND_PATH = "/cgi-bin/message/custom/send"

Fields = dict[str, t.Any]

# (kind, format, mode) of every callback flask_wechat answers.
VARIANTS = [
    ("mp", "xml", "plain"),
    ("mp", "xml", "compatible"),
    ("mp", "xml", "safe"),
    ("miniprogram", "xml", "plain"),
    ("miniprogram", "xml", "compatible"),
    ("miniprogram", "xml", "safe"),
    ("miniprogram", "json", "plain"),
    ("miniprogram", "json", "compatible"),
    ("miniprogram", "json", "safe"),
    ("work", "xml", "safe"),
]


def variants(keep: t.Callable[[str, str, str], bool] = lambda kind, fmt, mode: True) -> list[t.Any]:
    """The ``platform`` params for which ``keep(kind, fmt, mode)``, for ``indirect=True``."""
    return [pytest.param(v, id="-".join(v)) for v in VARIANTS if keep(*v)]


ALL = variants()
PLAIN = variants(lambda kind, fmt, mode: mode == "plain")
# Compatible mode is left out: its plaintext copy keeps the plain signature meaningful.
ENCRYPTED = variants(lambda kind, fmt, mode: mode == "safe")
XML = variants(lambda kind, fmt, mode: fmt == "xml")
PLAIN_XML = variants(lambda kind, fmt, mode: fmt == "xml" and mode == "plain")
ENCRYPTED_XML = variants(lambda kind, fmt, mode: fmt == "xml" and mode == "safe")
JSON = variants(lambda kind, fmt, mode: fmt == "json")
PLAIN_JSON = variants(lambda kind, fmt, mode: fmt == "json" and mode == "plain")
ENCRYPTED_JSON = variants(lambda kind, fmt, mode: fmt == "json" and mode == "safe")
# Accounts that take nothing but ciphertext, and verify the URL with an encrypted echostr.
ALWAYS_ENCRYPTED = variants(lambda kind, fmt, mode: PLATFORMS[kind].always_encrypted)
ENCRYPTED_ECHOSTR = ALWAYS_ENCRYPTED


@dataclass
class Platform:
    """One platform's app, a client playing WeChat against it, and what reached it."""

    kind: str
    fmt: str
    mode: str
    app: Flask
    wechat: WeChat
    client: WeChatTestClient
    sandbox: Sandbox
    handled: list[Message] = field(default_factory=list)
    received: Recorder = field(default_factory=Recorder)
    rejected: Recorder = field(default_factory=Recorder)

    @property
    def account(self) -> Account:
        return self.client.account

    @property
    def passive(self) -> bool:
        """Whether replies travel in the HTTP answer (else they are sent through the API)."""
        return bool(self.account.platform.passive_replies)

    @property
    def encrypted(self) -> bool:
        return self.mode != "plain"

    def reply_of(self, result: CallbackResult) -> str | None:
        """The text reply the user got for ``result``: answered, or sent through the API."""
        if self.passive:
            return result.content
        assert result.text == "success"
        texts = [body["text"]["content"] for body in self.sandbox.sent if "text" in body]
        return texts[-1] if texts else None

    def good_request(self, **options: t.Any) -> tuple[bytes, dict[str, str]]:
        return self.client.encode(self.client.message("text", Content="hello"), **options)

    def serialise(self, fields: t.Mapping[str, t.Any]) -> bytes:
        """``fields`` in the account's format, as WeChat writes a body."""
        if self.fmt == "json":
            return json.dumps(fields, ensure_ascii=False).encode()
        return to_xml(fields).encode()

    def parse(self, body: bytes) -> Fields:
        if self.fmt == "json":
            return t.cast(Fields, json.loads(body))
        return dict(parse_xml(body))

    def sealed_request(
        self, plaintext: bytes, *, receive_id: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """A safe-mode request (this platform's envelope, both signatures right) carrying
        ``plaintext`` encrypted for ``receive_id`` (by default the account's own ID)."""
        own = self.account.app_id or ""
        crypto = MessageCrypto(TOKEN, AES_KEY, own if receive_id is None else receive_id)
        return self.client.envelopes.build_request(
            Outgoing(
                self.client.message("text", Content="hi"),
                plaintext,
                self.account,
                crypto,
                "safe",
                str(int(time.time())),
                "n" + secrets.token_hex(5),
                self.serialise,
            )
        )

    def with_encrypt(self, encrypt: str) -> tuple[bytes, dict[str, str]]:
        """A good safe-mode request whose ``Encrypt`` is ``encrypt``, signed right."""
        body, query = self.good_request()
        envelope = self.parse(body)
        envelope["Encrypt"] = encrypt
        query["msg_signature"] = sign(TOKEN, query["timestamp"], query["nonce"], encrypt)
        return self.serialise(envelope), query

    def expected_raw(self, sent: Fields) -> Fields:
        """``message.raw`` for ``sent``: JSON keeps its types, XML makes every leaf a string."""
        return sent if self.fmt == "json" else t.cast(Fields, stringify(sent))

    def assert_reply(self, result: CallbackResult, sent: Fields, content: str) -> None:
        """The user got the text reply ``content`` to ``sent``: answered passively
        (in the request's mode, addressed back), or sent through the API."""
        assert result.status_code == 200
        if self.passive:
            assert result.encrypted is self.encrypted
            assert result.msg_type == "text"
            assert result.content == content
            assert result.reply is not None
            assert result.reply["ToUserName"] == sent["FromUserName"] == self.client.user
            assert result.reply["FromUserName"] == sent["ToUserName"]
            assert result.reply["CreateTime"].isdigit()
            assert self.sandbox.sent == []
        else:
            assert result.text == "success"
            assert result.reply is None
            assert self.sandbox.sent == [text_sent(self, content)]

    def plaintext(self, fields: t.Mapping[str, t.Any]) -> bytes:
        """The plaintext a message's ``Encrypt`` carries."""
        return self.serialise(fields)

    def assert_rejected(self, response: t.Any, status: int | None, *keywords: str) -> str:
        """``response`` is a 4xx with a short reason naming one of ``keywords``; nothing ran."""
        reason = assert_refused(
            response,
            status,
            keywords,
            app=self.app,
            account=self.account.name,
            rejected=self.rejected,
            handled=self.handled,
            received=self.received,
        )
        assert self.sandbox.count(SEND_PATH) == 0
        return reason


def wrongly_padded(plaintext: bytes, receive_id: str, style: str) -> str:
    """WeChat's ciphertext of ``plaintext`` for ``receive_id`` with broken PKCS#7 padding."""
    key = base64.b64decode(AES_KEY + "=")
    body = (
        secrets.token_bytes(16)
        + struct.pack(">I", len(plaintext))
        + plaintext
        + receive_id.encode()
    )
    gap = 32 - len(body) % 32  # what correct padding would add: 1..32 bytes
    if style == "zeros":
        padding = bytes(gap)
    elif style == "over-32":
        padding = bytes((64,)) * gap
    else:  # says 2, but the byte before is not 2
        room = gap if gap >= 2 else gap + 32
        padding = bytes(room - 1) + b"\x02"
    encrypted = AES.new(key, AES.MODE_CBC, key[:16]).encrypt(body + padding)
    return base64.b64encode(encrypted).decode()


def make_platform(sandbox: Sandbox, kind: str, fmt: str, mode: str, **config: t.Any) -> Platform:
    if kind == "miniprogram":
        config.setdefault("WECHAT_FORMAT", fmt)
    if kind == "work":
        config.setdefault("WECHAT_AGENT_ID", WORK_AGENT_ID)
    app, wechat = sandbox_app(
        sandbox,
        kind,
        token=TOKEN,
        aes_key=None if mode == "plain" else AES_KEY,
        task_runner=InlineRunner(attempts=2, backoff=0.01),
        **config,
    )
    user = WORK_USER if kind == "work" else DEFAULT_USER
    client = WeChatTestClient(app, mode=mode, user=user)
    return Platform(kind, fmt, mode, app, wechat, client, sandbox)


@pytest.fixture(params=ALL)
def bare_platform(request: pytest.FixtureRequest, sandbox: Sandbox) -> Platform:
    """Every platform, format and mode in turn, with no handler and no recorder."""
    kind, fmt, mode = t.cast(tuple[str, str, str], request.param)
    return make_platform(sandbox, kind, fmt, mode)


@pytest.fixture(params=ALL)
def platform(request: pytest.FixtureRequest, sandbox: Sandbox) -> Iterator[Platform]:
    """Every platform, format and mode in turn, with a recording handler and signals."""
    kind, fmt, mode = t.cast(tuple[str, str, str], request.param)
    platform = make_platform(sandbox, kind, fmt, mode)

    @platform.wechat.on()
    @platform.wechat.on("text")
    def record(message: Message) -> str:
        platform.handled.append(message)
        runs = len(platform.handled)
        return "a handler ran" if runs == 1 else f"a handler ran {runs} times"

    with (
        signals.message_received.connected_to(platform.received, platform.app),
        signals.request_rejected.connected_to(platform.rejected, platform.app),
    ):
        yield platform


# The ToUserName WeChat puts on what it pushes to each kind of account.
TARGETS = {"mp": DEFAULT_ORIGINAL_ID, "miniprogram": DEFAULT_ORIGINAL_ID, "work": SANDBOX_CORP_ID}


def text_sent(platform: Platform, content: str) -> dict[str, t.Any]:
    """A text customer-service message to the platform's user, as the sandbox records it."""
    return custom_text(content, platform.client.user)
