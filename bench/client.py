"""What the API client costs, against the sandbox over real HTTP on loopback.

Three figures from one run, each the best of several timed batches:

(a) ``client.access_token`` on a warm cache (the default in-process SimpleCache):
    what every API call pays to get its token;
(b) ``client.post("/cgi-bin/message/custom/send", ...)``, a full round trip:
    token, JSON encoding, HTTP to the sandbox, decoding, errcode check;
(c) a bare ``requests.Session().post`` of the same body to the same endpoint
    (with the same access_token in the query): the floor of (b).

It prints µs per operation and the ratio (b)/(c). Run
``python bench/client.py [--repeats N] [--number N]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import typing as t

import requests
from flask import Flask

from flask_wechat import WeChat
from flask_wechat.sandbox import SANDBOX_APP_ID, SANDBOX_APP_SECRET, SANDBOX_OPENID, Sandbox

if t.TYPE_CHECKING:
    from flask_wechat.api import Client

SEND = "/cgi-bin/message/custom/send"
BODY: dict[str, t.Any] = {
    "touser": SANDBOX_OPENID,
    "msgtype": "text",
    "text": {"content": "基准测试 bench"},
}


def make_client(sandbox: Sandbox) -> tuple[Flask, Client]:
    """An app with the default cache, pointed at ``sandbox``, and its client."""
    app = Flask("bench_client")
    app.config.update(
        WECHAT_APP_ID=SANDBOX_APP_ID,
        WECHAT_APP_SECRET=SANDBOX_APP_SECRET,
        WECHAT_API_BASE_URL=sandbox.url,
        WECHAT_CALLBACK_URL=None,
    )
    wechat = WeChat(app)
    with app.app_context():
        return app, wechat.client()


def best_us(run: t.Callable[[int], int], repeats: int, number: int) -> float:
    """µs per operation of the fastest of ``repeats`` batches of ``number``."""
    run(max(1, number // 10))  # warm-up
    best = None
    for _ in range(repeats):
        gc.collect()
        elapsed = run(number)
        best = elapsed if best is None else min(best, elapsed)
    assert best is not None
    return best / number / 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=5, help="timed batches per figure")
    parser.add_argument("--number", type=int, default=500, help="HTTP calls per batch")
    args = parser.parse_args(argv)
    repeats, number = args.repeats, args.number

    with Sandbox() as sandbox:
        _, client = make_client(sandbox)
        token = client.access_token
        # Check the set-up before timing anything: a send really succeeds.
        if client.post(SEND, BODY) != {"errcode": 0, "errmsg": "ok"}:
            print("the sandbox did not accept the message", file=sys.stderr)
            return 1
        perf = time.perf_counter_ns

        def run_token(n: int) -> int:
            start = perf()
            for _ in range(n):
                client.access_token  # noqa: B018 - the property is what is timed
            return perf() - start

        def run_client(n: int) -> int:
            start = perf()
            for _ in range(n):
                client.post(SEND, BODY)
            return perf() - start

        session = requests.Session()
        url = sandbox.url + SEND
        raw_body = json.dumps(BODY, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8"}

        def run_bare(n: int) -> int:
            start = perf()
            for _ in range(n):
                response = session.post(
                    url,
                    params={"access_token": token},
                    data=raw_body,
                    headers=headers,
                    timeout=10,
                )
                response.content  # noqa: B018 - read the answer, as the client does
            return perf() - start

        try:
            token_us = best_us(run_token, repeats, number * 100)
            # Interleave (b) and (c) so that both see the same machine load.
            client_us = bare_us = float("inf")
            for _ in range(2):
                client_us = min(client_us, best_us(run_client, repeats, number))
                bare_us = min(bare_us, best_us(run_bare, repeats, number))
        finally:
            session.close()
        sent = len(sandbox.sent)
        if sandbox.token_requests != 1:
            print(f"unexpected token requests: {sandbox.token_requests}", file=sys.stderr)
            return 1

    print(f"(a) access_token, warm cache: {token_us:9.3f} µs")
    print(f"(b) client.post round trip:   {client_us:9.1f} µs")
    print(f"(c) bare Session.post:        {bare_us:9.1f} µs")
    print(f"ratio (b)/(c): {client_us / bare_us:.2f}x  ({sent} messages accepted)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
