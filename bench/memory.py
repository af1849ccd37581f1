"""Memory: RSS of the gunicorn workers, and what dedup keeps per message.

* RSS per worker: ``VmRSS`` from ``/proc/<pid>/status`` of each worker of every
  server, read after the last load round of the server bench.
* Bytes per remembered message, in-process: flask_wechat (defaults, in-process
  cache) called as a WSGI app for N distinct messages under ``tracemalloc``;
  the growth of traced memory (after a warm-up, after ``gc.collect()``) / N.
* Bytes per remembered message, Redis: the same N messages through an app with
  ``CACHE_TYPE="RedisCache"`` on a fresh redis-server; the growth of
  ``INFO memory`` ``used_memory`` / N.
"""

from __future__ import annotations

import gc
import tracemalloc
import typing as t

from bench.apps import build_wechat_app
from bench.processes import RedisServer
from bench.server import LABELS
from bench.traffic import build, make_encoder
from bench.wsgi import Caller

if t.TYPE_CHECKING:
    from bench.apps import Counter
    from bench.report import Report
    from bench.server import ServerFigures

WARMUP = 200


def report_rss(report: Report, figures: ServerFigures) -> None:
    """Add the workers' RSS after the load to ``report``."""
    for name, values in figures.rss_kib.items():
        each = ", ".join(f"{kib / 1024:.1f}" for kib in values)
        report.figure(f"RSS per worker after load, {LABELS[name]}", f"{each} MiB")


def _handle(caller: Caller, counter: Counter, count: int) -> None:
    requests = build(make_encoder(), count)
    before = counter.runs
    caller.run(requests)
    if caller.failures or counter.runs - before != count:
        raise SystemExit(
            f"dedup memory: {counter.runs - before} of {count} messages handled,"
            f" failures {caller.failures[:3]}"
        )


def in_process_bytes(messages: int) -> float:
    """Traced memory growth per distinct message, with the in-process cache."""
    app, counter = build_wechat_app()
    caller = Caller(app)
    _handle(caller, counter, WARMUP)
    requests = build(make_encoder(), messages)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        runs = counter.runs
        caller.run(requests)
        del requests
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    if caller.failures or counter.runs - runs != messages:
        raise SystemExit(f"dedup memory: {counter.runs - runs} of {messages} messages handled")
    return (after - before) / messages


def redis_bytes(messages: int) -> float:
    """``used_memory`` growth per distinct message, with a Redis cache."""
    with RedisServer() as server:
        app, counter = build_wechat_app(server.url)
        caller = Caller(app)
        _handle(caller, counter, WARMUP)
        requests = build(make_encoder(), messages)
        before = server.used_memory()
        runs = counter.runs
        caller.run(requests)
        after = server.used_memory()
        keys = int(server.client.dbsize())
    if caller.failures or counter.runs - runs != messages:
        raise SystemExit(f"dedup memory: {counter.runs - runs} of {messages} messages handled")
    print(f"  redis holds {keys} keys after {messages + WARMUP} messages")
    return (after - before) / messages


def bench_dedup_memory(report: Report, *, messages: int) -> None:
    print(f"dedup memory: {messages} distinct messages through the WSGI app")
    report.figure(
        "dedup bytes per remembered message, in-process (tracemalloc)",
        f"{in_process_bytes(messages):.0f} B",
    )
    report.figure(
        "dedup bytes per remembered message, Redis (used_memory)",
        f"{redis_bytes(messages):.0f} B",
    )
