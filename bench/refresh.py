"""API calls across an access_token refresh, against the sandbox on loopback.

A :class:`~flask_wechat.sandbox.Sandbox` with a short ``token_ttl`` serves the
API; an app pointed at it (default in-process cache) fetches its first token,
then the sandbox's ``/cgi-bin/token`` is made slow (``--token-delay``, 0.5 s)
so that a call waiting for the refresh shows. Several threads each call
``client.get("/cgi-bin/getcallbackip")`` on a fixed schedule (one call every
``interval`` per thread); a call's latency is measured from the time it was
scheduled, so calls held up behind a stalled one count their wait too.

Two windows: *steady*, the first half of the token's life before its refresh
margin (no refresh can happen), and *across the refresh*, from then until a
second after the new token arrived. The old token stays valid throughout (the
refresh starts a fifth of the lifetime before expiry and the sandbox keeps old
tokens valid for 5 minutes), so no call needs to wait for it.
"""

from __future__ import annotations

import threading
import time
import typing as t

from flask import Flask

from bench.report import Report, percentile
from flask_wechat import WeChat
from flask_wechat.sandbox import Sandbox

STALL_MS = 100.0
"""A call waiting longer than this counts as stalled."""
P99_FACTOR = 2.0
"""Target: p99 across the refresh at most this times the steady p99."""


class Sample(t.NamedTuple):
    scheduled: float
    """``time.perf_counter()`` when the call was due."""
    latency: float
    """Seconds from then to its answer."""


def _caller(
    app: Flask,
    wechat: WeChat,
    start: float,
    interval: float,
    stop: threading.Event,
    samples: list[Sample],
    errors: list[BaseException],
) -> None:
    perf = time.perf_counter
    with app.app_context():
        client = wechat.client()
        due = start
        while not stop.is_set():
            wait = due - perf()
            if wait > 0:
                time.sleep(wait)
            try:
                client.get("/cgi-bin/getcallbackip")
            except BaseException as exc:
                errors.append(exc)
                return
            samples.append(Sample(due, perf() - due))
            due += interval


def summarise(samples: t.Sequence[Sample]) -> tuple[float, float, float, int]:
    """p50, p99 and max in ms, and how many calls took longer than :data:`STALL_MS`."""
    latencies = [sample.latency * 1000 for sample in samples]
    return (
        percentile(latencies, 0.50),
        percentile(latencies, 0.99),
        max(latencies),
        sum(latency > STALL_MS for latency in latencies),
    )


def bench_refresh(
    report: Report,
    *,
    threads: int = 4,
    token_ttl: float = 5.0,
    token_delay: float = 0.5,
    interval: float = 0.01,
) -> None:
    """Measure call latency steady and across a refresh; add figures and the target."""
    print(
        f"token refresh: {threads} threads, a call each every {interval * 1000:g} ms, "
        f"token_ttl {token_ttl:g} s, /cgi-bin/token delayed {token_delay:g} s"
    )
    with Sandbox(token_ttl=token_ttl) as sandbox:
        app = Flask("bench_refresh")
        app.config.update(sandbox.flask_config("mp"), WECHAT_CALLBACK_URL=None)
        wechat = WeChat(app)
        with app.app_context():
            wechat.client().get("/cgi-bin/getcallbackip")  # the first token, not timed
        fetched = time.perf_counter()
        sandbox.delay("/cgi-bin/token", token_delay)
        refresh_due = fetched + token_ttl * 4 / 5  # the client's margin: a fifth of the life
        steady_end = fetched + (refresh_due - fetched) / 2

        stop = threading.Event()
        samples: list[Sample] = []
        errors: list[BaseException] = []
        workers = [
            threading.Thread(
                target=_caller,
                args=(app, wechat, fetched + i * interval / threads, interval, stop, samples),
                kwargs={"errors": errors},
                daemon=True,
            )
            for i in range(threads)
        ]
        for worker in workers:
            worker.start()
        deadline = fetched + 3 * token_ttl
        refreshed_at: float | None = None
        while time.perf_counter() < deadline and not errors:
            now = time.perf_counter()
            if refreshed_at is None and sandbox.token_requests >= 2:
                refreshed_at = now
            if refreshed_at is not None and now > refreshed_at + token_delay + 1:
                break
            time.sleep(0.01)
        end = time.perf_counter()
        stop.set()
        for worker in workers:
            worker.join(30)
        token_requests = sandbox.token_requests
    if errors:
        raise SystemExit(f"an API call failed during the refresh bench: {errors[0]!r}")
    if refreshed_at is None:
        raise SystemExit("the token was never refreshed during the refresh bench")

    steady = [s for s in samples if s.scheduled < steady_end]
    across = [s for s in samples if steady_end <= s.scheduled < end]
    s50, s99, smax, sstalled = summarise(steady)
    a50, a99, amax, astalled = summarise(across)
    report.figure(
        "API calls, steady token",
        f"p50 {s50:.2f} ms, p99 {s99:.2f} ms, max {smax:.1f} ms, "
        f"{sstalled} of {len(steady)} > {STALL_MS:.0f} ms",
    )
    report.figure(
        "API calls, across the refresh",
        f"p50 {a50:.2f} ms, p99 {a99:.2f} ms, max {amax:.1f} ms, "
        f"{astalled} of {len(across)} > {STALL_MS:.0f} ms",
    )
    report.figure("token fetches (first + refreshes)", str(token_requests))
    report.target(
        f"p99 across a refresh ≤ {P99_FACTOR:g} × steady p99 (no stall)",
        f"{a99:.2f} / {s99:.2f} ms = {a99 / s99:.1f}×, {astalled} calls > {STALL_MS:.0f} ms",
        a99 <= P99_FACTOR * s99,
    )
