"""The callback pipeline every platform shares, written once and run on each of them.

The ``platform`` fixture is, in turn, an Official Account in each message mode, a
mini program in each format and mode, and a WeCom app; each test states what is true
of all of them. What only one platform does stays in tests/blueprints/.
"""

from __future__ import annotations

import json
import time
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from flask import Flask

from flask_wechat import Message, WeChat, signals
from flask_wechat.crypto import sign
from flask_wechat.parsing import parse_xml
from flask_wechat.sandbox import SANDBOX_APP_ID, Sandbox
from flask_wechat.tasks import InlineRunner
from flask_wechat.testing import (
    DEFAULT_ORIGINAL_ID,
    DEFAULT_USER,
    CallbackResult,
    Recorder,
    WeChatTestClient,
)

from .rejections import assert_refused

TOKEN = "shared-pipeline-token"
# 43 characters, as the admin consoles generate an EncodingAESKey.
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
WORK_USER = "zhangsan"
WORK_AGENT_ID = "1000002"
SEND_PATH = "/cgi-bin/message/custom/send"

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

ALL = [pytest.param(v, id="-".join(v)) for v in VARIANTS]
PLAIN = [pytest.param(v, id="-".join(v)) for v in VARIANTS if v[2] == "plain"]
# Compatible mode is left out: its plaintext copy keeps the plain signature meaningful.
ENCRYPTED = [pytest.param(v, id="-".join(v)) for v in VARIANTS if v[2] == "safe"]


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
    def passive(self) -> bool:
        """Whether replies travel in the HTTP answer (else they are sent through the API)."""
        return bool(self.app.extensions["wechat"].account().platform.passive_replies)

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

    def good_request(self) -> tuple[bytes, dict[str, str]]:
        return self.client.encode(self.client.message("text", Content="hello"))

    def assert_rejected(self, response: t.Any, status: int, *keywords: str) -> str:
        """``response`` is a 4xx with a short reason naming one of ``keywords``; nothing ran."""
        assert 400 <= status < 500
        reason = assert_refused(
            response,
            status,
            keywords,
            app=self.app,
            account=self.client.account.name,
            rejected=self.rejected,
            handled=self.handled,
            received=self.received,
        )
        assert self.sandbox.count(SEND_PATH) == 0
        return reason


def make_platform(sandbox: Sandbox, kind: str, fmt: str, mode: str) -> Platform:
    app = Flask(f"{kind}_{fmt}_{mode}_app")
    app.config.update(sandbox.flask_config(kind))
    app.config.update(
        TESTING=True,
        WECHAT_TOKEN=TOKEN,
        WECHAT_ENCODING_AES_KEY=None if mode == "plain" else AES_KEY,
    )
    if kind == "miniprogram":
        app.config["WECHAT_FORMAT"] = fmt
    if kind == "work":
        app.config["WECHAT_AGENT_ID"] = WORK_AGENT_ID
    wechat = WeChat(app, task_runner=InlineRunner(attempts=2, backoff=0.01))
    user = WORK_USER if kind == "work" else DEFAULT_USER
    client = WeChatTestClient(app, mode=mode, user=user)
    return Platform(kind, fmt, mode, app, wechat, client, sandbox)


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


# == the control: nothing wrong ==========================================================


def test_a_good_request_gets_through(platform: Platform) -> None:
    """The control for every rejection below: the same setup with nothing wrong."""
    body, _query = platform.good_request()
    if platform.fmt == "json":
        assert json.loads(body)["ToUserName"] == DEFAULT_ORIGINAL_ID
    result = platform.client.send(platform.client.message("text", Content="hello"))
    assert result.status_code == 200
    assert platform.reply_of(result) == "a handler ran"
    assert [m.content for m in platform.handled] == ["hello"]
    assert len(platform.received.calls) == 1
    assert platform.rejected.calls == []
    if not platform.passive:
        assert (result.status_code, result.response.get_data()) == (200, b"success")
        assert platform.sandbox.sent == [
            {
                "touser": DEFAULT_USER,
                "msgtype": "text",
                "text": {"content": "a handler ran"},
                "kind": "custom",
                "app_id": SANDBOX_APP_ID,
            }
        ]


# == rejections ==========================================================================


@pytest.mark.parametrize("platform", PLAIN, indirect=True)
@pytest.mark.parametrize("tamper", ["wrong-token", "missing", "other-nonce"])
def test_rejects_a_bad_signature(platform: Platform, tamper: str) -> None:
    body, query = platform.good_request()
    if tamper == "missing":
        del query["signature"]
    elif tamper == "wrong-token":
        query["signature"] = sign("not-the-token", query["timestamp"], query["nonce"])
    else:
        query["signature"] = sign(TOKEN, query["timestamp"], "another-nonce")
    response = platform.client.post(body, query)
    platform.assert_rejected(response, 403, "signature")


@pytest.mark.parametrize("platform", ENCRYPTED, indirect=True)
@pytest.mark.parametrize("tamper", ["zeros", "missing", "over-other-ciphertext", "wrong-token"])
def test_rejects_a_bad_msg_signature(platform: Platform, tamper: str) -> None:
    body, query = platform.good_request()
    ts, nonce = query["timestamp"], query["nonce"]
    if tamper == "missing":
        del query["msg_signature"]
    elif tamper == "zeros":
        query["msg_signature"] = "0" * 40
    elif tamper == "over-other-ciphertext":
        query["msg_signature"] = sign(TOKEN, ts, nonce, "other")
    else:
        encrypt = envelope_encrypt(platform, body)
        query["msg_signature"] = sign("not-the-token", ts, nonce, encrypt)
    response = platform.client.post(body, query)
    platform.assert_rejected(response, 403, "signature")


def envelope_encrypt(platform: Platform, body: bytes) -> str:
    """The ``Encrypt`` field of a request body, in either format."""
    if platform.fmt == "json":
        return str(json.loads(body)["Encrypt"])
    return str(parse_xml(body)["Encrypt"])


@pytest.mark.parametrize(
    "offset", [-301, -3600, -86400, 3600], ids=["301s-old", "an-hour-old", "a-day-old", "future"]
)
def test_rejects_a_stale_timestamp(platform: Platform, offset: int) -> None:
    client = platform.client
    body, query = client.encode(
        client.message("text", Content="old"), timestamp=int(time.time()) + offset
    )
    response = client.post(body, query)
    platform.assert_rejected(response, 403, "timestamp")


# == dedup of WeChat's retries ===========================================================


def test_a_retried_message_runs_once_and_gets_the_same_reply(platform: Platform) -> None:
    ignored = Recorder()
    message = platform.client.message("text", Content="retry me")
    with signals.duplicate_ignored.connected_to(ignored, platform.app):
        first = platform.client.send(message)
        second = platform.client.send(message)
        third = platform.client.send(message)
    assert len(platform.handled) == 1
    assert len(platform.received.calls) == 1
    assert len(ignored.calls) == 2
    assert all(call["message"].id == message["MsgId"] for call in ignored.calls)
    assert platform.reply_of(first) == "a handler ran"
    assert second.reply == first.reply
    assert third.reply == first.reply
    assert second.encrypted is first.encrypted
    if platform.passive:
        assert first.content == second.content == "a handler ran"
        assert second.response.get_data() == first.response.get_data()
        assert second.encrypted is platform.encrypted
    else:
        assert [first.text, second.text, third.text] == ["success"] * 3
        assert platform.sandbox.count(SEND_PATH) == 1
