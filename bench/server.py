"""Real servers: gunicorn (2 sync workers) under wrk on loopback.

Seven servers run side by side for the whole bench: bare Flask, bare Flask
reading the request, bare Flask making one redis-py ``SET NX`` per request,
wechatpy in Flask, without and with a redis-py ``SET NX`` dedup of the MsgId,
flask_wechat with the in-process store and with Redis. For
every round, each server in turn gets a fresh set of distinct signed and
encrypted requests (new MsgIds, nonces and timestamps), split into one file per
wrk thread, and ``wrk -t2 -c8 -d<N>s --latency`` sends each of them once. The
figures are medians over the rounds; the order of the servers rotates from round
to round. Correctness is checked outside the clock: one request through each
server must decrypt to the echo, and no wrk run may see a non-2xx answer or a
socket error.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import tempfile
import typing as t
from pathlib import Path

import requests

from bench.apps import AES_KEY, APP_ID, NAMES, REDIS_URL_ENV, TOKEN, URL
from bench.processes import Gunicorn, RedisServer, rss_kib
from bench.report import Report, median
from bench.traffic import build, check_answer, make_encoder, serial_of, write_slices
from flask_wechat.crypto import MessageCrypto

if t.TYPE_CHECKING:
    from flask_wechat.testing import WeChatTestClient

LUA_SCRIPT = Path(__file__).with_name("wrk_requests.lua")

LABELS = {
    "bare": "bare Flask",
    "bare_read": "bare Flask reading query and body",
    "bare_handoff": "bare Flask + one thread hand-off",
    "bare_redis": "bare Flask + redis-py SET NX",
    "wechatpy": "wechatpy in Flask",
    "wechatpy_redis": "wechatpy + redis-py SET NX dedup",
    "wechat": "flask_wechat, in-process store",
    "wechat_redis": "flask_wechat, Redis",
}

THROUGHPUT_TARGETS = (
    ("wechat", "wechatpy", 1.20),
    ("wechat_redis", "wechatpy_redis", 1.25),
    ("wechat_redis", "bare_redis", 0.80),
)
#: Not targets: flask_wechat against the floors of a callback that holds a deadline.
FLOOR_RATIOS = (("wechat", "bare_handoff"), ("wechat_redis", "bare_handoff"))
"""Targets, every guarantee on: req/s of the first server at least this times the second's."""

_BENCH_LINE = re.compile(r"^BENCH (.*)$", re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class WrkRun:
    """What one wrk run reported (from the Lua script's ``done``)."""

    requests: int
    duration_us: int
    non2xx: int
    connect: int
    read: int
    write: int
    timeout: int
    p50_us: int
    p99_us: int
    max_us: int
    sent: int
    wrapped: int
    loaded: int

    @property
    def rps(self) -> float:
        return self.requests / (self.duration_us / 1e6)

    @property
    def socket_errors(self) -> int:
        return self.connect + self.read + self.write + self.timeout


@dataclasses.dataclass
class ServerFigures:
    """Per-server results of the server bench, for the memory report too."""

    runs: dict[str, list[WrkRun]]
    rss_kib: dict[str, list[int]]


def run_wrk(
    url: str, prefix: Path, *, threads: int, connections: int, duration: float
) -> tuple[WrkRun, str]:
    """One wrk run against ``url``; the parsed figures and wrk's own output."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (make bench installs it)")
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration:g}s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        url + URL,
        "--",
        str(prefix),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 120, check=False
    )
    match = _BENCH_LINE.search(done.stdout)
    if done.returncode != 0 or match is None:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    fields = dict(item.split("=", 1) for item in match.group(1).split())
    run = WrkRun(**{name: int(value) for name, value in fields.items()})
    return run, done.stdout


def probe(server: Gunicorn, encoder: WeChatTestClient, crypto: MessageCrypto) -> None:
    """One request through ``server``, outside the clock: it must answer the echo."""
    request = build(encoder, 1)[0]
    response = requests.post(
        server.url + request.target,
        data=request.body,
        headers={"Content-Type": "text/xml"},
        timeout=10,
    )
    check_answer(
        server.name, crypto, response.status_code, response.content, serial_of(request, encoder)
    )


def bench_server(
    report: Report,
    *,
    rounds: int,
    duration: float,
    rate: int,
    threads: int = 2,
    connections: int = 8,
    workers: int = 2,
) -> ServerFigures:
    """Run the five servers under wrk; add req/s, p99 and the targets to ``report``."""
    print(
        f"gunicorn -w {workers} -k sync under wrk -t{threads} -c{connections}: "
        f"{rounds} rounds × {duration:g} s per server, up to {rate} distinct requests/s"
    )
    encoder = make_encoder()
    crypto = MessageCrypto(TOKEN, AES_KEY, APP_ID)
    runs: dict[str, list[WrkRun]] = {name: [] for name in NAMES}
    rss: dict[str, list[int]] = {}
    with RedisServer() as redis_server, tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "requests"
        servers: dict[str, Gunicorn] = {}
        try:
            for name in NAMES:
                servers[name] = Gunicorn(
                    name, workers=workers, env={REDIS_URL_ENV: redis_server.url}
                )
            for server in servers.values():
                probe(server, encoder, crypto)
            # Warm-up: every server answers a second of load before the timed rounds.
            for server in servers.values():
                write_slices(build(encoder, rate), prefix, threads)
                run_wrk(server.url, prefix, threads=threads, connections=connections, duration=1)
            order = list(NAMES)
            for number in range(rounds):
                for name in order:
                    server = servers[name]
                    write_slices(build(encoder, int(rate * duration)), prefix, threads)
                    run, output = run_wrk(
                        server.url,
                        prefix,
                        threads=threads,
                        connections=connections,
                        duration=duration,
                    )
                    check_run(name, run, output)
                    runs[name].append(run)
                    print(
                        f"  round {number + 1} {LABELS[name]:<31} {run.rps:8.0f} req/s"
                        f"  p99 {run.p99_us / 1000:6.2f} ms  ({run.requests} requests)"
                    )
                order = order[1:] + order[:1]
            for name, server in servers.items():
                rss[name] = [rss_kib(pid) for pid in server.worker_pids()]
                probe(server, encoder, crypto)  # still answering correctly after the load
        finally:
            for server in servers.values():
                server.close()

    rps = {name: median(run.rps for run in runs[name]) for name in NAMES}
    p99 = {name: median(run.p99_us / 1000 for run in runs[name]) for name in NAMES}
    for name in NAMES:
        report.figure(f"server {LABELS[name]}", f"{rps[name]:.0f} req/s, p99 {p99[name]:.2f} ms")
    for name in NAMES[1:]:
        per_round = [run.rps / bare.rps for run, bare in zip(runs[name], runs["bare"], strict=True)]
        report.figure(
            f"server {LABELS[name]} / bare, median of per-round ratios",
            f"{median(per_round):.2f}× ({', '.join(f'{r:.2f}' for r in per_round)})",
        )
    for name, other in FLOOR_RATIOS:
        report.figure(
            f"server {LABELS[name]} / {LABELS[other]}",
            f"{rps[name] / rps[other]:.2f}× (not a target: the floor's share)",
        )
    for name, other, fraction in THROUGHPUT_TARGETS:
        ratio = rps[name] / rps[other]
        report.target(
            f"{LABELS[name]} req/s ≥ {fraction:.2f} × {LABELS[other]}",
            f"{rps[name]:.0f} / {rps[other]:.0f} = {ratio:.2f}×",
            ratio >= fraction,
        )
    return ServerFigures(runs, rss)


def check_run(name: str, run: WrkRun, output: str) -> None:
    """Fail loudly when a timed run was not all good answers to distinct requests."""
    if run.non2xx or "Non-2xx" in output:
        raise SystemExit(f"{name}: {run.non2xx} non-2xx answers under load\n{output}")
    if run.socket_errors:
        raise SystemExit(f"{name}: socket errors under load\n{output}")
    if run.wrapped and not name.startswith("bare"):
        raise SystemExit(
            f"{name}: wrk ran out of distinct requests ({run.wrapped} repeats of "
            f"{run.loaded}); raise --rate"
        )
    if run.wrapped:
        print(f"  note: {name} repeated {run.wrapped} requests (bare Flask does not store them)")
