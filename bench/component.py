"""Messages spread over many authorizers against messages to one account.

A third-party platform serves its authorizers through accounts built on first
use and kept in an LRU. This bench calls two sites as WSGI applications (no
server, as ``bench/wsgi.py`` does), each with a text echo handler and the
default dedup and replay guard on the in-process store:

(one) an Official Account of its own, every message to ``/wechat``;
(single) a third-party platform with one authorizer, every message to it;
(many) a third-party platform with ``--authorizers`` authorizers (10,000), the
messages spread round-robin over all of them at ``/wechat/component/<app_id>``.

Timed interleaved, ``--repeats`` batches of ``--number`` messages each, after a
warm-up that goes once over every authorizer. The figures are ``single / many``
(what spreading over 10,000 authorizers costs; the target: ≥ 0.9) and ``one /
many`` (against the site's own account, whose URL is a static rule where the
authorizers' is a Flask rule with ``<app_id>``; also reported against 0.9). It
then measures the memory an idle authorizer holds: its account and callback,
then its API client as well (tracemalloc).

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

from bench.report import Report
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
#: Requests are stamped this far ahead of their building (as in bench.traffic, which
#: this module does not import: the tests use it without wechatpy): none may look
#: queued past the reply deadline when it is sent.
STAMP_AHEAD = 30

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


def requests_for(
    app: Flask, accounts: t.Sequence[str | None], count: int, serial: int
) -> list[Request]:
    """``count`` encrypted text messages, round-robin over ``accounts``."""
    encoders = {name: WeChatTestClient(app, name) for name in dict.fromkeys(accounts)}
    out = []
    stamp = int(time.time()) + STAMP_AHEAD
    for n in range(count):
        encoder = encoders[accounts[n % len(accounts)]]
        number = serial + n
        message = encoder.message("text", Content=f"hello #{number}", MsgId=10**15 + number)
        body, query = encoder.encode(message, timestamp=stamp)
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


def bench_spread(*, authorizers: int, number: int, repeats: int) -> tuple[float, float]:
    """Median ratios (single / many, one / many) of seconds per batch."""
    one = one_account_site()
    ids = app_ids(authorizers)
    many = component_site(ids)
    single = component_site(ids[:1])
    serial = 1
    # warm-up: every authorizer once (what a live site has after its first messages)
    warm = requests_for(many, list(ids), authorizers, serial)
    serial += authorizers
    call_all(many, warm)
    call_all(one, requests_for(one, [None], min(number, 2000), serial))
    serial += number
    call_all(single, requests_for(single, ids[:1], min(number, 2000), serial))
    serial += number
    spread, own = [], []
    for repeat in range(repeats):
        offset = (repeat * number) % authorizers
        order = ids[offset:] + ids[:offset]
        batches = {
            "one": (one, requests_for(one, [None], number, serial)),
            "single": (single, requests_for(single, ids[:1], number, serial + number)),
            "many": (many, requests_for(many, list(order), number, serial + 2 * number)),
        }
        serial += 3 * number
        names = ["one", "single", "many"]
        names = names[repeat % 3 :] + names[: repeat % 3]  # interleaved, rotating
        seconds = {}
        for name in names:
            gc.collect()
            app, batch = batches[name]
            seconds[name] = call_all(app, batch)
        spread.append(seconds["single"] / seconds["many"])
        own.append(seconds["one"] / seconds["many"])
        per = {name: f"{value / number * 1e6:.1f}" for name, value in seconds.items()}
        print(
            f"  batch {repeat + 1}: µs/msg one {per['one']}, single {per['single']}, "
            f"many {per['many']}; single/many {spread[-1]:.3f}, one/many {own[-1]:.3f}"
        )
    spread.sort()
    own.sort()
    return spread[len(spread) // 2], own[len(own) // 2]


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


def bench_component(
    report: Report, *, authorizers: int, number: int, repeats: int, memory_authorizers: int
) -> None:
    """The spread and memory figures, with their target, added to ``report``."""
    print(f"messages over {authorizers} authorizers vs one account:")
    spread, own = bench_spread(authorizers=authorizers, number=number, repeats=repeats)
    report.target(
        f"messages over {authorizers} authorizers ≥ {RATIO_TARGET} × one authorizer",
        f"{spread:.3f}×",
        spread >= RATIO_TARGET,
    )
    report.figure(
        f"component: messages over {authorizers} authorizers / the site's own account",
        f"{own:.3f}× (against {RATIO_TARGET}; its URL is a static rule, theirs <app_id>)",
    )
    idle, with_client = bench_memory(memory_authorizers)
    report.figure("component: memory per idle authorizer", f"{idle / 1024:.1f} KiB")
    report.figure(
        "component: memory per idle authorizer with its API client",
        f"{with_client / 1024:.1f} KiB",
    )


def main(argv: t.Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.component", description=__doc__)
    parser.add_argument("--authorizers", type=int, default=10_000)
    parser.add_argument("--number", type=int, default=10_000, help="messages per batch")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved batches")
    parser.add_argument("--memory-authorizers", type=int, default=2000)
    args = parser.parse_args(argv)
    print(f"messages over {args.authorizers} authorizers vs one account:")
    spread, own = bench_spread(
        authorizers=args.authorizers, number=args.number, repeats=args.repeats
    )
    for label, ratio in (("single/many", spread), ("one/many", own)):
        verdict = "met" if ratio >= RATIO_TARGET else "MISSED"
        print(f"{label} median ratio {ratio:.3f} (target ≥ {RATIO_TARGET}): {verdict}")
    idle, with_client = bench_memory(args.memory_authorizers)
    print(f"memory per idle authorizer: {idle / 1024:.1f} KiB (account and callback), ")
    print(f"  {with_client / 1024:.1f} KiB with its API client built")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
