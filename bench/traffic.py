"""Building the callback requests the benches send, signed and encrypted as WeChat does.

Every request is a text message with its own ``MsgId`` and its own nonce, and a
timestamp of when it was built: build them shortly before sending (flask_wechat
refuses timestamps older than ``WECHAT_REPLAY_WINDOW``, 300 s by default).
"""

from __future__ import annotations

import itertools
import time
import typing as t
from urllib.parse import urlencode

from flask import Flask

from bench.apps import URL, wechat_config
from flask_wechat import WeChat
from flask_wechat.crypto import MessageCrypto, check_signature
from flask_wechat.parsing import parse_xml
from flask_wechat.testing import WeChatTestClient

if t.TYPE_CHECKING:
    from pathlib import Path

_serial = itertools.count()


class Signed(t.NamedTuple):
    """One pre-built callback request."""

    body: bytes
    query: str
    """The query string, already URL-encoded."""

    @property
    def target(self) -> str:
        """The request target: path and query."""
        return f"{URL}?{self.query}"


def make_encoder() -> WeChatTestClient:
    """A test client for the bench account, used only to build requests."""
    app = Flask("bench_encoder")
    app.config.update(wechat_config())
    WeChat(app)
    encoder = WeChatTestClient(app)
    if encoder.mode != "safe":
        raise SystemExit(f"expected safe mode, the test client chose {encoder.mode!r}")
    return encoder


def content_of(n: int) -> str:
    """The text of message number ``n``; the apps echo it."""
    return f"hello 你好 #{n}"


#: How far ahead of the time they are built requests are stamped (seconds).
#: WeChat stamps a request when it sends it, and flask_wechat counts a request's
#: age against its reply deadline; the benches build tens of thousands of requests
#: before sending them over the next seconds, so stamped with their build time the
#: last would look queued for longer than the deadline. Stamped ahead (as by a
#: WeChat clock a little ahead of the server's, well inside the replay window),
#: none looks queued.
STAMP_AHEAD = 30


def build(encoder: WeChatTestClient, count: int) -> list[Signed]:
    """``count`` signed, encrypted text messages, each with a new MsgId and nonce."""
    out: list[Signed] = []
    stamp = int(time.time()) + STAMP_AHEAD
    for _ in range(count):
        n = next(_serial)
        message = encoder.message("text", Content=content_of(n), MsgId=10**15 + n)
        body, query = encoder.encode(message, timestamp=stamp)
        out.append(Signed(body, urlencode(query)))
    return out


def write_slices(requests: t.Sequence[Signed], prefix: Path, slices: int) -> None:
    """Split ``requests`` into ``slices`` files ``<prefix>.0``, ``<prefix>.1``, ...

    One file per wrk thread. Each record is a line ``<target length> <body
    length>`` followed by the target and the body, byte for byte.
    """
    size = len(requests) // slices
    for index in range(slices):
        chunk = requests[index * size : (index + 1) * size]
        with open(f"{prefix}.{index}", "wb") as out:
            for request in chunk:
                target = request.target.encode("ascii")
                out.write(b"%d %d\n" % (len(target), len(request.body)))
                out.write(target)
                out.write(request.body)


def decode_echo(crypto: MessageCrypto, body: bytes) -> str:
    """The ``Content`` of an encrypted reply ``body``, after checking its signature."""
    envelope = parse_xml(body)
    check_signature(
        str(envelope.get("MsgSignature", "")),
        crypto.token,
        str(envelope.get("TimeStamp", "")),
        str(envelope.get("Nonce", "")),
        str(envelope["Encrypt"]),
    )
    reply = parse_xml(crypto.decrypt_raw(str(envelope["Encrypt"])))
    if reply.get("MsgType") != "text":
        raise ValueError(f"not a text reply: {reply!r}")
    return str(reply["Content"])


def check_answer(app_name: str, crypto: MessageCrypto, status: int, body: bytes, n: int) -> None:
    """Fail loudly unless ``body`` is what app ``app_name`` must answer to message ``n``."""
    if status != 200:
        raise SystemExit(f"{app_name} answered HTTP {status}: {body[:200]!r}")
    if app_name.startswith("bare"):
        if body != b"success":
            raise SystemExit(f"{app_name} answered {body[:200]!r}")
        return
    try:
        echoed = decode_echo(crypto, body)
    except Exception as exc:
        raise SystemExit(f"{app_name} did not answer an encrypted reply: {exc!r}") from exc
    if echoed != content_of(n):
        raise SystemExit(f"{app_name} echoed {echoed!r}, expected {content_of(n)!r}")


def serial_of(request: Signed, encoder: WeChatTestClient) -> int:
    """The message number of ``request`` (decrypting it, outside any clock)."""
    if encoder.crypto is None:  # pragma: no cover - make_encoder checked safe mode
        raise RuntimeError("no crypto")
    envelope = parse_xml(request.body)
    message = parse_xml(encoder.crypto.decrypt_raw(str(envelope["Encrypt"])))
    return int(message["MsgId"]) - 10**15
