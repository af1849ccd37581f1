"""Run the sandbox in the foreground: ``python -m flask_wechat.sandbox --port 8900``.

It prints the base URL and the pre-registered credentials as ``WECHAT_*``
lines to paste into an app's configuration (or environment), then serves until
interrupted (Ctrl-C) or terminated. ``--user-wrote OPENID`` opens a user's 48-hour
window from the start; while it runs, ``POST /_sandbox/user-wrote`` does the same and
``GET /_sandbox/sent`` shows what sites sent through it (see
:mod:`flask_wechat.sandbox.routes.control`).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import typing as t

from .server import Sandbox

if t.TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m flask_wechat.sandbox",
        description="A fake WeChat API on loopback, for developing without credentials.",
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--token-ttl", type=float, default=7200, help="seconds an access_token lives"
    )
    parser.add_argument(
        "--user-wrote",
        action="append",
        default=[],
        metavar="OPENID",
        help="a user who just wrote to the Official Account, so that customer-service "
        "messages to them are accepted (repeatable; later: POST /_sandbox/user-wrote)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM; the exit status."""
    args = parse_args(argv)
    sandbox = Sandbox(args.token_ttl, host=args.host, port=args.port)
    try:
        sandbox.start()
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    for open_id in args.user_wrote:
        sandbox.user_wrote(open_id)
    done = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"WeChat sandbox on {sandbox.url} (Ctrl-C stops it)")
    print("# Official Account (a Mini Program: WECHAT_KIND=miniprogram):")
    for key, value in sandbox.flask_config("mp").items():
        print(f"{key}={value}")
    print("# or a WeCom app:")
    for key, value in sandbox.flask_config("work").items():
        print(f"# {key}={value}")
    print(f"# what was sent: {sandbox.url}/_sandbox/sent (JSON) or {sandbox.url}/_sandbox/")
    print(f"# a user wrote:  POST {sandbox.url}/_sandbox/user-wrote open_id=OPENID")
    sys.stdout.flush()
    try:
        while not done.wait(0.5):
            pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
