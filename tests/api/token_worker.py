"""Worker processes for the token races in ``test_tokens.py``.

Each worker is a separate interpreter (multiprocessing's "spawn" start method),
so it builds its own Flask app and API client; the only things it shares with
the others are the Redis cache and the sandbox, exactly as with several
gunicorn workers in production.
"""

from __future__ import annotations

import typing as t

from flask import Flask

from flask_wechat import WeChat
from flask_wechat.sandbox import SANDBOX_APP_ID, SANDBOX_APP_SECRET

if t.TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Barrier

    from flask_wechat.api import Client

#: How long a worker waits at a barrier before giving up (the test then fails).
BARRIER_TIMEOUT = 60.0

#: What a worker reports: ``(worker index, phase, "ok"/"error", token or error text)``.
Report = tuple[int, str, str, str]


def build_app(redis_url: str, api_base_url: str, **config: t.Any) -> tuple[Flask, WeChat]:
    """A Flask app whose flask_wechat caches tokens in the Redis at ``redis_url``."""
    app = Flask("token_worker")
    app.config.update(
        TESTING=True,
        CACHE_TYPE="RedisCache",
        CACHE_REDIS_URL=redis_url,
        CACHE_KEY_PREFIX="fwtest:",
        WECHAT_APP_ID=SANDBOX_APP_ID,
        WECHAT_APP_SECRET=SANDBOX_APP_SECRET,
        WECHAT_API_BASE_URL=api_base_url,
        WECHAT_CALLBACK_URL=None,
    )
    app.config.update(config)
    return app, WeChat(app)


def _attempt(index: int, phase: str, queue: Queue[Report], call: t.Callable[[], str]) -> None:
    try:
        queue.put((index, phase, "ok", call()))
    except Exception as exc:
        queue.put((index, phase, "error", f"{type(exc).__name__}: {exc}"))


def fetch_token(
    index: int, redis_url: str, api_base_url: str, start: Barrier, queue: Queue[Report]
) -> None:
    """Wait for every worker, then read ``client.access_token`` on a cold cache."""
    app, wechat = build_app(redis_url, api_base_url)
    with app.app_context():
        client = wechat.client()
        start.wait(BARRIER_TIMEOUT)
        _attempt(index, "token", queue, lambda: client.access_token)


def _callback_ip_call(client: Client) -> str:
    ips = client.callback_ip()
    if "127.0.0.1" not in ips:
        raise AssertionError(f"unexpected ip_list {ips!r}")
    return client.access_token


def call_twice(
    index: int, redis_url: str, api_base_url: str, step: Barrier, queue: Queue[Report]
) -> None:
    """Call the API, wait while the test expires every token, call again.

    ``step`` is shared with the test process: everyone starts together, the test
    learns that the first round is over, and everyone starts the second round
    together once the test has expired the tokens.
    """
    app, wechat = build_app(redis_url, api_base_url)
    with app.app_context():
        client = wechat.client()
        step.wait(BARRIER_TIMEOUT)  # go: first round
        _attempt(index, "before", queue, lambda: _callback_ip_call(client))
        step.wait(BARRIER_TIMEOUT)  # first round done; the test expires the tokens
        step.wait(BARRIER_TIMEOUT)  # go: second round
        _attempt(index, "after", queue, lambda: _callback_ip_call(client))
