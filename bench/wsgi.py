"""The apps called as WSGI applications, without a server or a test client.

Each request is a WSGI environ built here (a fresh ``io.BytesIO`` body every
call) handed to ``app(environ, start_response)``, whose answer is consumed and
closed, as a server would. Timed, interleaved, for each repeat:

(a) the bare Flask app, and (a') the same reading the query string and the body,
the floor of any callback; (b) wechatpy in Flask; (c) flask_wechat with its
defaults, and (c₀) the same with ``WECHAT_DEDUP_TTL=0`` and
``WECHAT_REPLAY_WINDOW=0`` (no dedup, no replay guard, no timestamp check; not a
target, it tells what those cost); (cᵢ) with ``handler_threads=0`` (handlers in
the request's thread: what the deadline's hand-off costs; not a target); the
pipeline alone (``bench/callback.py``'s figure (c): verify, decrypt, parse,
dispatch, reply, encrypt, without Flask or dedup); and (d) the bare app and then
the pipeline alone for every request, in one loop: what (c) would cost if
flask_wechat did nothing but the pipeline inside Flask. Run apart, each part of a
loop finds its code and data in the CPU's caches; run one after the other, each
evicts the other's, so (d) is more than (a) plus the pipeline.

Then (a), (aₕ), (b) and (c) again with every thread of the process on one CPU.
On an idle machine a hand-off wakes a thread asleep on another CPU, which a
virtual machine makes slow (tens of microseconds a wake-up); under load, as on a
busy server, the handler thread runs on the CPU that is already awake. Not a
target: it tells how much of (c) is that wake-up.
"""

from __future__ import annotations

import functools
import gc
import io
import os
import sys
import time
import typing as t

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

from bench import callback
from bench.apps import (
    AES_KEY,
    APP_ID,
    TOKEN,
    URL,
    build_wechat,
    build_wechat_app,
    make_bare_app,
    make_bare_handoff_app,
    make_bare_read_app,
)
from bench.apps import make_wechatpy_app as make_wechatpy
from bench.report import Report, median
from bench.traffic import build, check_answer, make_encoder, serial_of
from flask_wechat.contrib.otel import instrument
from flask_wechat.crypto import MessageCrypto
from flask_wechat.testing import WeChatTestClient

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from flask_wechat import WeChat

W = t.TypeVar("W", bound="Wire")

PIPELINE_TARGET_US = 30.0
"""Target for the pipeline alone, per message."""
COST_RATIO_TARGET = 0.8
"""Target: flask_wechat's cost over bare Flask at most this times wechatpy's, with
every guarantee on (dedup, the replay guard, the reply deadline's hand-off)."""

BASE_ENVIRON: dict[str, t.Any] = {
    "REQUEST_METHOD": "POST",
    "SCRIPT_NAME": "",
    "PATH_INFO": URL,
    "CONTENT_TYPE": "text/xml",
    "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "8000",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "127.0.0.1",
    "HTTP_HOST": "127.0.0.1:8000",
    "HTTP_USER_AGENT": "Mozilla/4.0",
    "wsgi.version": (1, 0),
    "wsgi.url_scheme": "http",
    "wsgi.errors": sys.stderr,
    "wsgi.multithread": False,
    "wsgi.multiprocess": True,
    "wsgi.run_once": False,
}


class Wire(t.Protocol):
    """A request as sent: a :class:`~bench.traffic.Signed`, or a ``callback.Request``."""

    @property
    def body(self) -> bytes: ...

    @property
    def query(self) -> str: ...


def environ_for(request: Wire) -> WSGIEnvironment:
    """The WSGI environ of ``request``, with its own body stream."""
    environ = BASE_ENVIRON.copy()
    environ["QUERY_STRING"] = request.query
    environ["CONTENT_LENGTH"] = str(len(request.body))
    environ["wsgi.input"] = io.BytesIO(request.body)
    return environ


class Caller:
    """Calls one WSGI app; remembers any answer that was not ``200``."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app
        self.failures: list[str] = []
        self.status = ""

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: t.Any = None
    ) -> t.Callable[[bytes], object]:
        self.status = status
        if not status.startswith("200"):
            self.failures.append(status)
        return self._write

    @staticmethod
    def _write(data: bytes) -> None:  # pragma: no cover - Flask never calls it
        raise RuntimeError("write() is not supported")

    def call(self, request: Wire) -> tuple[int, bytes]:
        """One request, outside any clock: the status code and the body."""
        result = self.app(environ_for(request), t.cast("StartResponse", self.start_response))
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return int(self.status.split()[0]), body

    def run(self, batch: t.Sequence[W], then: t.Callable[[W], object] | None = None) -> int:
        """Every request of ``batch`` (each followed by ``then(request)``, if
        given); elapsed nanoseconds."""
        app = self.app
        start_response = t.cast("StartResponse", self.start_response)
        base = BASE_ENVIRON
        new_input = io.BytesIO
        perf = time.perf_counter_ns
        start = perf()
        for request in batch:
            environ = base.copy()
            environ["QUERY_STRING"] = request.query
            environ["CONTENT_LENGTH"] = str(len(request.body))
            environ["wsgi.input"] = new_input(request.body)
            result = app(environ, start_response)
            for _ in result:
                pass
            close = getattr(result, "close", None)
            if close is not None:
                close()
            if then is not None:
                then(request)
        return perf() - start


class InstrumentedCaller(Caller):
    """A :class:`Caller` with ``instrument(wechat)`` on while it runs: the tracer
    it installs sees every app of the process, so it is taken off after."""

    def __init__(self, app: WSGIApplication, wechat: WeChat) -> None:
        super().__init__(app)
        self.wechat = wechat

    def run(self, batch: t.Sequence[W], then: t.Callable[[W], object] | None = None) -> int:
        instrumentation = instrument(
            self.wechat,
            tracer_provider=TracerProvider(),
            meter_provider=MeterProvider(metric_readers=[InMemoryMetricReader()]),
        )
        try:
            return super().run(batch, then)
        finally:
            instrumentation.uninstrument()


#: The apps timed again on one CPU.
ONE_CPU_APPS = ("bare", "bare_handoff", "wechatpy", "wechat")


def pin_to_one_cpu() -> set[int] | None:
    """Every thread of this process (and those it starts) on one CPU; the CPUs
    they had, or ``None`` where this cannot be done (not Linux)."""
    tasks = "/proc/self/task"
    if not hasattr(os, "sched_setaffinity") or not os.path.isdir(tasks):
        return None
    previous = os.sched_getaffinity(0)
    _set_affinity({min(previous)})
    return previous


def unpin(cpus: set[int]) -> None:
    """Every thread of this process back on ``cpus``."""
    _set_affinity(cpus)


def _set_affinity(cpus: set[int]) -> None:
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except ProcessLookupError:  # a thread that ended meanwhile
            continue


def check(name: str, caller: Caller, encoder: WeChatTestClient, crypto: MessageCrypto) -> None:
    """One request through ``caller``, outside the clock: it must answer the echo."""
    request = build(encoder, 1)[0]
    status, body = caller.call(request)
    check_answer(name, crypto, status, body, serial_of(request, encoder))


def bench_wsgi(report: Report, *, repeats: int, number: int, warmup: int) -> None:
    """Time (a), (b), (c) and the pipeline; add their figures and targets to ``report``."""
    print(f"WSGI called directly: {repeats} interleaved repeats × {number} requests")
    encoder = make_encoder()
    crypto = MessageCrypto(TOKEN, AES_KEY, APP_ID)
    wechat_app, counter = build_wechat_app()
    # not a target: what dedup and the replay guard (with the timestamp check) add
    unguarded_app, _ = build_wechat_app(WECHAT_DEDUP_TTL=0, WECHAT_REPLAY_WINDOW=0)
    # not a target either: handlers in the request's thread, no deadline hand-off
    inline_app, _ = build_wechat_app(handler_threads=0)
    # nor this: OpenTelemetry on, with the SDK's providers (spans and metrics
    # recorded, nothing exported), installed only while this app is timed
    otel_app, otel_wechat, _ = build_wechat()
    callers = {
        "bare": Caller(make_bare_app()),
        "bare_read": Caller(make_bare_read_app()),
        "bare_handoff": Caller(make_bare_handoff_app()),
        "wechatpy": Caller(make_wechatpy()),
        "wechat": Caller(wechat_app),
        "wechat_unguarded": Caller(unguarded_app),
        "wechat_inline": Caller(inline_app),
        "wechat_otel": InstrumentedCaller(otel_app, otel_wechat),
    }
    for name, caller in callers.items():
        check(name, caller, encoder, crypto)
        caller.run(build(encoder, warmup))

    pipeline_app, pipeline_wechat, _ = callback.make_wechat_app()
    pipeline_encoder = WeChatTestClient(pipeline_app)
    probe = callback.build_requests(pipeline_encoder, 1)[0]
    if callback.check_pipeline_answers(pipeline_wechat, crypto, probe) != "hello 你好 #0":
        raise SystemExit("the pipeline did not echo the message")
    callback.run_pipeline(
        pipeline_wechat, crypto, callback.build_requests(pipeline_encoder, warmup)
    )

    then_pipeline = functools.partial(callback.pipeline, pipeline_wechat.handlers.find, crypto)
    timings: dict[str, list[float]] = {
        name: [] for name in (*callers, "pipeline", "bare_then_pipeline")
    }
    runs_before = counter.runs
    handled = 0
    for _ in range(repeats):
        for name, caller in callers.items():
            batch = build(encoder, number)  # fresh MsgIds, nonces and timestamps
            gc.collect()
            timings[name].append(caller.run(batch) / number / 1000)
            if name == "wechat":
                handled += number
        batch_c = callback.build_requests(pipeline_encoder, number)
        gc.collect()
        timings["pipeline"].append(
            callback.run_pipeline(pipeline_wechat, crypto, batch_c) / number / 1000
        )
        batch_d = callback.build_requests(pipeline_encoder, number)
        gc.collect()
        timings["bare_then_pipeline"].append(
            callers["bare"].run(batch_d, then=then_pipeline) / number / 1000
        )
    one_cpu: dict[str, list[float]] = {name: [] for name in ONE_CPU_APPS}
    previous = pin_to_one_cpu()
    if previous is not None:
        try:
            for _ in range(repeats):
                for name in ONE_CPU_APPS:
                    batch = build(encoder, number)
                    gc.collect()
                    one_cpu[name].append(callers[name].run(batch) / number / 1000)
                    if name == "wechat":
                        handled += number
        finally:
            unpin(previous)
    for name, caller in callers.items():
        if caller.failures:
            raise SystemExit(f"{name} answered {caller.failures[:3]} during the timed runs")
    if counter.runs - runs_before != handled:
        raise SystemExit(
            f"the flask_wechat handler ran {counter.runs - runs_before} times for {handled}"
            " requests: some were refused or taken for retries"
        )

    a, b, c, p = (median(timings[name]) for name in ("bare", "wechatpy", "wechat", "pipeline"))
    report.figure("wsgi (a) bare Flask", f"{a:.1f} µs/request")
    h = median(timings["bare_handoff"])
    report.figure("wsgi (aₕ) bare Flask + one thread hand-off", f"{h:.1f} µs/request")
    report.figure(
        "wsgi flask_wechat's cost over that floor / wechatpy's over bare: (c−aₕ)/(b−a)",
        f"{(c - h) / (b - a):.2f}× (not a target)",
    )
    r = median(timings["bare_read"])
    report.figure("wsgi (a') bare Flask reading query and body", f"{r:.1f} µs/request")
    report.figure("wsgi (b) wechatpy in Flask", f"{b:.1f} µs/request")
    report.figure("wsgi (c) flask_wechat", f"{c:.1f} µs/request")
    report.figure("wsgi cost over bare: wechatpy (b−a)", f"{b - a:.1f} µs")
    report.figure("wsgi cost over bare: flask_wechat (c−a)", f"{c - a:.1f} µs")
    report.figure("pipeline alone (verify … encrypt)", f"{p:.1f} µs/message")
    d = median(timings["bare_then_pipeline"])
    report.figure("wsgi (d) bare Flask, then the pipeline alone", f"{d:.1f} µs/request")
    report.figure("wsgi the pipeline beside Flask (d−a) / alone", f"{d - a:.1f} / {p:.1f} µs")
    report.figure("wsgi flask_wechat beyond the pipeline (c−d)", f"{c - d:.1f} µs")
    u = median(timings["wechat_unguarded"])
    report.figure("wsgi (c₀) flask_wechat, no dedup, no replay window", f"{u:.1f} µs/request")
    report.figure(
        "wsgi (c₀−a) / (b−a): the ratio with neither", f"{(u - a) / (b - a):.2f}× (not a target)"
    )
    i = median(timings["wechat_inline"])
    report.figure("wsgi (cᵢ) flask_wechat, handlers in the request's thread", f"{i:.1f} µs/request")
    report.figure("wsgi the deadline's hand-off (c−cᵢ)", f"{c - i:.1f} µs (not a target)")
    o = median(timings["wechat_otel"])
    report.figure("wsgi (cₒ) flask_wechat with contrib.otel.instrument", f"{o:.1f} µs/request")
    report.figure("wsgi what instrument() costs (cₒ−c)", f"{o - c:.1f} µs (not a target)")
    if all(one_cpu.values()):
        a1, h1, b1, c1 = (median(one_cpu[name]) for name in ONE_CPU_APPS)
        report.figure(
            "wsgi on one CPU: (a) / (aₕ) / (b) / (c)",
            f"{a1:.1f} / {h1:.1f} / {b1:.1f} / {c1:.1f} µs/request",
        )
        report.figure(
            "wsgi on one CPU: (c−a)/(b−a)", f"{(c1 - a1) / (b1 - a1):.2f}× (not a target)"
        )
    ratio = (c - a) / (b - a) if b > a else float("inf")
    report.target(
        f"flask_wechat cost over bare ≤ {COST_RATIO_TARGET} × wechatpy's",
        f"{c - a:.1f} / {b - a:.1f} µs = {ratio:.2f}×",
        ratio <= COST_RATIO_TARGET,
    )
    report.target(
        f"pipeline alone ≤ {PIPELINE_TARGET_US:.0f} µs",
        f"{p:.1f} µs",
        p <= PIPELINE_TARGET_US,
    )
