"""How much flask_wechat's callback costs on top of Flask.

Three figures from one run, each the best of several timed repeats:

(a) a bare Flask app whose POST endpoint answers ``success``, through
    ``app.test_client()``: the floor any Flask callback pays;
(b) flask_wechat's safe-mode callback (verify → decrypt → parse → dedup →
    dispatch → TextReply → encrypt), through ``app.test_client()``, every
    request a new ``MsgId`` so that dedup claims and stores each one;
(c) the same pipeline without Flask or dedup: ``MessageCrypto.open``,
    ``parse_xml``, ``Message``, ``handlers.find``, the handler, ``to_xml`` and
    ``seal``.

Requests are signed and encrypted with ``WeChatTestClient.encode`` before the
clock starts, so only the callback is timed. Run ``python bench/callback.py``;
``--profile b`` or ``--profile c`` prints a cProfile of that hot loop instead.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import sys
import time
import typing as t
from urllib.parse import urlencode

from flask import Flask

from flask_wechat import Message, TextReply, WeChat
from flask_wechat.crypto import MessageCrypto, check_signature
from flask_wechat.parsing import parse_xml
from flask_wechat.testing import WeChatTestClient

if t.TYPE_CHECKING:
    from flask.testing import FlaskClient

    from flask_wechat.dispatch import Handler

TOKEN = "bench-token"
APP_ID = "wxbench0123456789"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
URL = "/wechat"

PIPELINE_TARGET_US = 30.0
"""Target for (c): the pipeline without Flask, per message."""
RATIO_TARGET = 1.3
"""Target for (b)/(a): the callback against a bare Flask POST."""


class Request(t.NamedTuple):
    """One pre-built callback request."""

    body: bytes
    query: str
    """The query string, already URL-encoded."""
    encrypt: str
    msg_signature: str
    timestamp: str
    nonce: str


class Counter:
    """Counts handler runs, to prove that every timed request reached the handler."""

    def __init__(self) -> None:
        self.runs = 0


def make_wechat_app() -> tuple[Flask, WeChat, Counter]:
    """A safe-mode Official Account whose text handler echoes the content."""
    app = Flask("bench_wechat")
    app.config.update(
        WECHAT_TOKEN=TOKEN,
        WECHAT_APP_ID=APP_ID,
        WECHAT_APP_SECRET="bench-secret",
        WECHAT_ENCODING_AES_KEY=AES_KEY,
        WECHAT_CALLBACK_URL=URL,
        WECHAT_REPLY_DEADLINE=float(os.environ.get("BENCH_REPLY_DEADLINE", "4.5")),
    )
    wechat = WeChat(app)
    counter = Counter()

    @wechat.on("text")
    def echo(message: Message) -> TextReply:
        counter.runs += 1
        return TextReply(message.content or "")

    return app, wechat, counter


def make_bare_app() -> Flask:
    """Flask alone: a POST endpoint answering ``success``."""
    app = Flask("bench_bare")

    @app.post(URL)
    def callback() -> str:
        return "success"

    return app


def build_requests(encoder: WeChatTestClient, count: int) -> list[Request]:
    """``count`` signed, encrypted text messages, each with its own MsgId."""
    requests: list[Request] = []
    for n in range(count):
        message = encoder.message("text", Content=f"hello 你好 #{n}")
        body, query = encoder.encode(message)
        envelope = parse_xml(body)
        requests.append(
            Request(
                body=body,
                query=urlencode(query),
                encrypt=str(envelope["Encrypt"]),
                msg_signature=query["msg_signature"],
                timestamp=query["timestamp"],
                nonce=query["nonce"],
            )
        )
    return requests


# -- the three loops; each returns elapsed nanoseconds ---------------------------------


def run_flask(client: FlaskClient, batch: t.Sequence[Request]) -> int:
    """POST every request of ``batch`` through the test client (figures a and b)."""
    post = client.post
    perf = time.perf_counter_ns
    start = perf()
    for request in batch:
        post(URL, query_string=request.query, data=request.body, content_type="text/xml")
    return perf() - start


def pipeline(
    find: t.Callable[[Message], Handler | None], crypto: MessageCrypto, request: Request
) -> str:
    """One message through the callback's work without Flask or dedup; the reply envelope."""
    plaintext = crypto.open(
        request.encrypt, request.msg_signature, request.timestamp, request.nonce
    )
    message = Message(parse_xml(plaintext), "default")
    handler = find(message)
    if handler is None:
        raise RuntimeError("no handler for a text message")
    reply = handler.func(message)
    xml = reply.to_xml(to_user=message.source, from_user=message.target)
    return crypto.seal(xml).to_xml()


def run_pipeline(wechat: WeChat, crypto: MessageCrypto, batch: t.Sequence[Request]) -> int:
    """:func:`pipeline` over every request of ``batch`` (figure c)."""
    find = wechat.handlers.find
    perf = time.perf_counter_ns
    start = perf()
    for request in batch:
        pipeline(find, crypto, request)
    return perf() - start


def best_us(
    loop: t.Callable[[t.Sequence[Request]], int],
    batches: t.Sequence[t.Sequence[Request]],
    warmup: t.Sequence[Request],
) -> float:
    """µs per request of the fastest batch, after a warm-up batch."""
    loop(warmup)
    timings = []
    for batch in batches:
        gc.collect()
        timings.append(loop(batch) / len(batch))
    return min(timings) / 1000


# -- checks that the loops do what they claim ------------------------------------------


def check_callback_answers(client: FlaskClient, encoder: WeChatTestClient, request: Request) -> str:
    """Send one request outside the clock; it must come back as an encrypted echo."""
    response = client.post(
        URL, query_string=request.query, data=request.body, content_type="text/xml"
    )
    reply, encrypted = encoder.decode_reply(response)
    if response.status_code != 200 or reply is None or not encrypted:
        raise SystemExit(f"the callback did not answer a reply: {response.status_code} {reply!r}")
    return str(reply["Content"])


def check_pipeline_answers(wechat: WeChat, crypto: MessageCrypto, request: Request) -> str:
    """Run :func:`pipeline` once; its envelope must decrypt to the echo."""
    envelope = parse_xml(pipeline(wechat.handlers.find, crypto, request).encode())
    check_signature(
        str(envelope["MsgSignature"]),
        crypto.token,
        str(envelope["TimeStamp"]),
        str(envelope["Nonce"]),
        str(envelope["Encrypt"]),
    )
    return str(parse_xml(crypto.decrypt_raw(str(envelope["Encrypt"])))["Content"])


def check_bare_answers(client: FlaskClient, request: Request) -> None:
    response = client.post(
        URL, query_string=request.query, data=request.body, content_type="text/xml"
    )
    if response.status_code != 200 or response.get_data() != b"success":
        raise SystemExit(f"the bare app answered {response.status_code} {response.get_data()!r}")


# -- main --------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main(argv: t.Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=5, help="timed batches per figure")
    parser.add_argument("--number", type=int, default=2000, help="requests per batch")
    parser.add_argument("--warmup", type=int, default=500, help="untimed requests first")
    parser.add_argument(
        "--profile",
        choices=("b", "c"),
        help="profile one batch of figure (b) or (c) with cProfile instead of timing",
    )
    parser.add_argument("--top", type=int, default=30, help="rows of the profile to print")
    args = parser.parse_args(argv)

    wechat_app, wechat, counter = make_wechat_app()
    bare_app = make_bare_app()
    encoder = WeChatTestClient(wechat_app)
    if encoder.mode != "safe":
        raise SystemExit(f"expected safe mode, the test client chose {encoder.mode!r}")
    crypto = MessageCrypto(TOKEN, AES_KEY, APP_ID)

    # Every request a distinct MsgId: (b) must never hit a dedup'd answer, so each
    # figure gets its own requests. Built now, timed later (well inside the
    # 300 s replay window).
    def batches() -> tuple[list[Request], list[list[Request]]]:
        warmup = build_requests(encoder, args.warmup)
        return warmup, [build_requests(encoder, args.number) for _ in range(args.repeats)]

    wechat_client = wechat_app.test_client()
    bare_client = bare_app.test_client()

    probe = build_requests(encoder, 1)[0]
    check_bare_answers(bare_client, probe)
    for what, echoed in (
        ("the callback", check_callback_answers(wechat_client, encoder, probe)),
        ("the pipeline", check_pipeline_answers(wechat, crypto, probe)),
    ):
        if echoed != "hello 你好 #0":
            raise SystemExit(f"{what} echoed {echoed!r}")

    if args.profile:
        warmup = build_requests(encoder, args.warmup)
        batch = build_requests(encoder, args.number)

        def profiled(requests: t.Sequence[Request]) -> int:
            if args.profile == "b":
                return run_flask(wechat_client, requests)
            return run_pipeline(wechat, crypto, requests)

        profiled(warmup)  # warm up outside the profile
        profiler = cProfile.Profile()
        profiler.runcall(profiled, batch)
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.strip_dirs().sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)
        return 0

    warmup, timed = batches()
    bare_us = best_us(lambda batch: run_flask(bare_client, batch), timed, warmup)

    warmup, timed = batches()
    runs_before = counter.runs
    callback_us = best_us(lambda batch: run_flask(wechat_client, batch), timed, warmup)
    expected_runs = len(warmup) + sum(map(len, timed))
    if counter.runs - runs_before != expected_runs:
        raise SystemExit(
            f"the handler ran {counter.runs - runs_before} times for {expected_runs} requests:"
            " some were refused or taken for retries"
        )

    warmup, timed = batches()
    pipeline_us = best_us(lambda batch: run_pipeline(wechat, crypto, batch), timed, warmup)

    ratio = callback_us / bare_us
    print(
        f"flask_wechat callback benchmark: best of {args.repeats} × {args.number} requests "
        f"(Python {sys.version.split()[0]})"
    )
    print(f"(a) bare Flask POST → 'success', test client   {bare_us:8.1f} µs/request")
    print(f"(b) safe-mode callback with dedup, test client  {callback_us:8.1f} µs/request")
    print(f"(c) pipeline without Flask or dedup             {pipeline_us:8.1f} µs/message")
    print(
        f"(c) against the {PIPELINE_TARGET_US:.0f} µs target:                 "
        f"{pipeline_us:8.1f} µs    {verdict(pipeline_us <= PIPELINE_TARGET_US)}"
    )
    print(
        f"(b)/(a) against the {RATIO_TARGET}× target:                "
        f"{ratio:8.2f}×     {verdict(ratio <= RATIO_TARGET)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
