"""Messages spread over many authorizers against messages to one account.

A third-party platform serves its authorizers through accounts built on first
use and kept in an LRU. This bench calls two sites as WSGI applications (no
server, as ``bench/wsgi.py`` does), each with a text echo handler and the
default dedup and replay guard on the in-process store:

(one) an Official Account of its own, every message to ``/wechat``;
(many) a third-party platform with ``--authorizers`` authorizers (10,000), the
messages spread round-robin over all of them at ``/wechat/component/<app_id>``.

Timed interleaved, ``--repeats`` batches of ``--number`` messages each, after a
warm-up that goes once over every authorizer. The figure is
``one / many`` (the target: ≥ 0.9, messages to many authorizers cost at most
1/0.9 of messages to one). It then measures the memory an idle authorizer
holds: its account and callback, then its API client as well (tracemalloc).

    python -m bench.component                  # defaults
    python -m bench.component --number 2000 --repeats 3   # a short run
"""

from __future__ import annotations

import argparse
import gc
import io
import sys
import time
import tracemalloc
import typing as t
from urllib.parse import urlencode

from flask import Flask

from flask_wechat import WeChat
from flask_wechat.testing import WeChatTestClient

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication

    from flask_wechat.component import Component
    from flask_wechat.messages import Message

TOKEN = "bench-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ACCOUNT_APP_ID = "wxbench000000000001"
COMPONENT_APP_ID = "wxbenchcomponent001"
RATIO_TARGET = 0.9

Request = tuple[str, str, bytes]  # path, query, body


def echo(message: Message) -> str:
    return str(message.content)


def one_account_site() -> Flask:
    app = Flask("bench_one")
    app.config.update(
        WECHAT_TOKEN=TOKEN,
        WECHAT_APP_ID=ACCOUNT_APP_ID,
        WECHAT_APP_SECRET="bench-secret",
        WECHAT_ENCODING_AES_KEY=AES_KEY,
    )
    WeChat(app).on("text")(echo)
    return app


def app_ids(count: int) -> list[str]:
    return [f"wx{n:016x}" for n in range(count)]


def component_site(authorizers: list[str]) -> Flask:
    app = Flask("bench_many")
    app.config.update(
        WECHAT_COMPONENT={
            "app_id": COMPONENT_APP_ID,
            "app_secret": "bench-component-secret",
            "token": TOKEN,
            "encoding_aes_key": AES_KEY,
        }
    )
    WeChat(app, authorizer_cache_size=max(len(authorizers), 1)).on("text")(echo)
    component = t.cast("Component", app.extensions["wechat"].component)
    for app_id in authorizers:  # as finish_authorization leaves them
        component.authorizer_store.set(
            app_id, {"refresh_token": "x", "permissions": [1], "kind": "mp"}
        )
    return app


def requests_for(app: Flask, accounts: list[str | None], count: int, serial: int) -> list[Request]:
    """``count`` encrypted text messages, round-robin over ``accounts``."""
    encoders = {name: WeChatTestClient(app, name) for name in dict.fromkeys(accounts)}
    out = []
    for n in range(count):
        encoder = encoders[accounts[n % len(accounts)]]
        number = serial + n
        message = encoder.message("text", Content=f"hello #{number}", MsgId=10**15 + number)
        body, query = encoder.encode(message)
        out.append((encoder.url, urlencode(query), body))
    return out


def call_all(app: WSGIApplication, batch: list[Request]) -> float:
    """Seconds to answer every request of ``batch``; each must answer 200."""
    statuses: list[str] = []

    def start_response(status: str, headers: t.Any, exc_info: t.Any = None) -> t.Any:
        statuses.append(status)
        return None

    base = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "CONTENT_TYPE": "text/xml",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    started = time.perf_counter()
    for path, query, body in batch:
        environ = dict(base)
        environ["PATH_INFO"] = path
        environ["QUERY_STRING"] = query
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = io.BytesIO(body)
        answer = app(environ, t.cast("StartResponse", start_response))
        for _ in answer:
            pass
        getattr(answer, "close", lambda: None)()
    elapsed = time.perf_counter() - started
    bad = [status for status in statuses if not status.startswith("200")]
    if bad:
        raise SystemExit(f"non-200 answers: {bad[:3]}")
    return elapsed


def bench_spread(*, authorizers: int, number: int, repeats: int) -> float:
    """The median ratio of (one account) / (many authorizers) seconds per batch."""
    one = one_account_site()
    ids = app_ids(authorizers)
    many = component_site(ids)
    serial = 1
    # warm-up: every authorizer once (what a live site has after its first messages)
    warm = requests_for(many, list(ids), authorizers, serial)
    serial += authorizers
    call_all(many, warm)
    call_all(one, requests_for(one, [None], min(number, 2000), serial))
    serial += number
    ratios = []
    for repeat in range(repeats):
        batch_one = requests_for(one, [None], number, serial)
        serial += number
        offset = (repeat * number) % authorizers
        spread = ids[offset:] + ids[:offset]
        batch_many = requests_for(many, list(spread), number, serial)
        serial += number
        gc.collect()
        if repeat % 2:
            many_s, one_s = call_all(many, batch_many), call_all(one, batch_one)
        else:
            one_s, many_s = call_all(one, batch_one), call_all(many, batch_many)
        ratios.append(one_s / many_s)
        print(
            f"  batch {repeat + 1}: one {one_s / number * 1e6:.1f} µs/msg, "
            f"many {many_s / number * 1e6:.1f} µs/msg, ratio {one_s / many_s:.3f}"
        )
    ratios.sort()
    return ratios[len(ratios) // 2]


def bench_memory(count: int) -> tuple[float, float]:
    """Bytes per idle authorizer: (account and callback), (its API client too)."""
    ids = app_ids(count)
    app = component_site(ids)
    state = app.extensions["wechat"]
    component = t.cast("Component", state.component)
    with app.app_context():
        state.authorizer_callback(ids[0])
        component.client(ids[0])  # imports and one-time set-up out of the way
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for app_id in ids[1:]:
            state.authorizer_callback(app_id)
        gc.collect()
        accounts = (tracemalloc.get_traced_memory()[0] - before) / (count - 1)
        before = tracemalloc.get_traced_memory()[0]
        for app_id in ids[1 : min(count, component.cache_size // 10 + 1)]:
            component.client(app_id)
        gc.collect()
        built = min(count, component.cache_size // 10 + 1) - 1
        clients = (tracemalloc.get_traced_memory()[0] - before) / max(1, built)
        tracemalloc.stop()
    return accounts, accounts + clients


def main(argv: t.Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.component", description=__doc__)
    parser.add_argument("--authorizers", type=int, default=10_000)
    parser.add_argument("--number", type=int, default=10_000, help="messages per batch")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved batches")
    parser.add_argument("--memory-authorizers", type=int, default=2000)
    args = parser.parse_args(argv)
    print(f"messages over {args.authorizers} authorizers vs one account:")
    ratio = bench_spread(authorizers=args.authorizers, number=args.number, repeats=args.repeats)
    verdict = "met" if ratio >= RATIO_TARGET else "MISSED"
    print(f"one/many median ratio {ratio:.3f} (target ≥ {RATIO_TARGET}): {verdict}")
    idle, with_client = bench_memory(args.memory_authorizers)
    print(f"memory per idle authorizer: {idle / 1024:.1f} KiB (account and callback), ")
    print(f"  {with_client / 1024:.1f} KiB with its API client built")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
