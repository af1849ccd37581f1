"""Run the benchmarks and print every target as met or MISSED: ``python -m bench``.

``--only`` picks parts (``wsgi``, ``server``, ``memory``, ``refresh``, ``component``;
repeatable);
``memory`` includes the workers' RSS only when ``server`` runs too. The exit
status is non-zero only when a correctness check fails, not for a missed target.
"""

from __future__ import annotations

import argparse
import sys
import typing as t

from bench.component import bench_component
from bench.memory import bench_dedup_memory, report_rss
from bench.refresh import bench_refresh
from bench.report import Report
from bench.server import bench_server
from bench.wsgi import bench_wsgi

PARTS = ("wsgi", "server", "memory", "refresh", "component")


def parse_args(argv: t.Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only", action="append", choices=PARTS, help="run only this part (repeatable)"
    )
    wsgi = parser.add_argument_group("wsgi")
    wsgi.add_argument("--repeats", type=int, default=7, help="interleaved timed batches")
    wsgi.add_argument("--number", type=int, default=2000, help="requests per batch")
    wsgi.add_argument("--warmup", type=int, default=500, help="untimed requests first")
    server = parser.add_argument_group("server")
    server.add_argument("--rounds", type=int, default=3, help="rounds over the five servers")
    server.add_argument("--duration", type=float, default=5.0, help="seconds of wrk per run")
    server.add_argument(
        "--rate",
        type=int,
        default=8000,
        help="distinct requests built per second of a run (must exceed the fastest server)",
    )
    server.add_argument("--connections", type=int, default=8, help="wrk -c")
    server.add_argument("--wrk-threads", type=int, default=2, help="wrk -t")
    server.add_argument("--workers", type=int, default=2, help="gunicorn -w")
    memory = parser.add_argument_group("memory")
    memory.add_argument("--messages", type=int, default=20000, help="N distinct messages")
    component = parser.add_argument_group("component")
    component.add_argument("--authorizers", type=int, default=10_000, help="authorizers")
    component.add_argument(
        "--component-number", type=int, default=10_000, help="messages per batch"
    )
    component.add_argument("--component-repeats", type=int, default=5, help="batches")
    refresh = parser.add_argument_group("refresh")
    refresh.add_argument("--threads", type=int, default=4, help="calling threads")
    refresh.add_argument("--token-ttl", type=float, default=5.0, help="sandbox token lifetime")
    refresh.add_argument(
        "--token-delay", type=float, default=0.5, help="seconds /cgi-bin/token takes"
    )
    refresh.add_argument(
        "--interval", type=float, default=0.01, help="seconds between a thread's calls"
    )
    return parser.parse_args(argv)


def main(argv: t.Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    parts = set(args.only or PARTS)
    print(f"flask_wechat benchmarks (Python {sys.version.split()[0]}): {', '.join(sorted(parts))}")
    report = Report()
    if "wsgi" in parts:
        bench_wsgi(report, repeats=args.repeats, number=args.number, warmup=args.warmup)
    if "server" in parts:
        figures = bench_server(
            report,
            rounds=args.rounds,
            duration=args.duration,
            rate=args.rate,
            threads=args.wrk_threads,
            connections=args.connections,
            workers=args.workers,
        )
        if "memory" in parts:
            report_rss(report, figures)
    if "memory" in parts:
        bench_dedup_memory(report, messages=args.messages)
    if "refresh" in parts:
        bench_refresh(
            report,
            threads=args.threads,
            token_ttl=args.token_ttl,
            token_delay=args.token_delay,
            interval=args.interval,
        )
    if "component" in parts:
        bench_component(
            report,
            authorizers=args.authorizers,
            number=args.component_number,
            repeats=args.component_repeats,
            memory_authorizers=2000,
        )
    report.print_summary()
    return 0


if __name__ == "__main__":
    sys.exit(main())
