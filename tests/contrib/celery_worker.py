"""``celery -A tests.contrib.celery_worker worker``: the Celery app and runner.

The worker process builds them from the environment when it imports this
module; the tests' web side calls :func:`build` for its own per-test queue.
"""

from __future__ import annotations

import os
import typing as t

import redis
from celery import Celery
from celery.signals import task_failure

from flask_wechat.contrib.celery import CeleryRunner

APP_IMPORT = "tests.contrib.queue_app:create_app"
#: short, for the tests: a task whose worker died comes back within seconds
#: (keep it above the longest retry countdown).
VISIBILITY_TIMEOUT = 4
#: the list where the worker notes each task Celery marked FAILURE:
#: ``<celery task id> <exception class>``.
CELERY_FAILURES_KEY = "qt:celery-failure"


def build(redis_url: str, queue: str) -> tuple[Celery, CeleryRunner]:
    """A Celery app on ``redis_url`` whose default queue is ``queue``, and its runner."""
    celery_app = Celery("queue_test", broker=redis_url, set_as_current=False)
    celery_app.conf.update(
        task_default_queue=queue,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={
            "visibility_timeout": VISIBILITY_TIMEOUT,
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
        },
    )
    runner = CeleryRunner(
        celery_app, APP_IMPORT, max_retries=2, retry_backoff=1, retry_backoff_max=2, queue=queue
    )
    return celery_app, runner


if "FLASK_WECHAT_QT_REDIS" in os.environ:  # a worker (or the test's own site)
    celery_app, runner = build(
        os.environ["FLASK_WECHAT_QT_REDIS"], os.environ["FLASK_WECHAT_QT_QUEUE"]
    )
    _recorder = redis.Redis.from_url(os.environ["FLASK_WECHAT_QT_REDIS"])

    def _record_failure(
        sender: t.Any = None, task_id: str = "", exception: BaseException | None = None, **_: t.Any
    ) -> None:
        """Celery sends task_failure as it marks a task FAILURE."""
        _recorder.rpush(CELERY_FAILURES_KEY, f"{task_id} {type(exception).__name__}")

    task_failure.connect(_record_failure, weak=False)
