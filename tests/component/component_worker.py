"""Worker processes for ``test_redis.py``: each is its own interpreter ("spawn")
with its own Flask app, sharing only Redis and the sandbox, as gunicorn workers
on several machines would."""

from __future__ import annotations

import typing as t

from flask import Flask

from flask_wechat import WeChat

if t.TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Barrier

BARRIER_TIMEOUT = 60.0

#: ``(worker index, app_id, "ok"/"error", token or error text)``.
Report = tuple[int, str, str, str]


def build_site(redis_url: str, component: dict[str, t.Any], api_base_url: str) -> Flask:
    """A site on the Redis at ``redis_url`` with the platform ``component``."""
    app = Flask("component_worker")
    app.config.update(
        TESTING=True,
        WECHAT_REDIS_URL=redis_url,
        WECHAT_COMPONENT=component,
        WECHAT_API_BASE_URL=api_base_url,
    )
    WeChat(app)
    return app


def read_tokens(
    index: int,
    redis_url: str,
    component: dict[str, t.Any],
    api_base_url: str,
    app_ids: list[str],
    start: Barrier,
    queue: Queue[Report],
) -> None:
    """Wait for every worker, then read each authorizer's access_token."""
    app = build_site(redis_url, component, api_base_url)
    with app.app_context():
        wechat = app.extensions["wechat"]
        start.wait(BARRIER_TIMEOUT)
        for app_id in app_ids:
            try:
                queue.put((index, app_id, "ok", wechat.client(app_id).access_token))
            except Exception as exc:
                queue.put((index, app_id, "error", f"{type(exc).__name__}: {exc}"))
