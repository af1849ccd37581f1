"""``celery -A tests.contrib.celery_worker worker``: the Celery app and runner."""

from __future__ import annotations

import os

from celery import Celery

from flask_wechat.contrib.celery import CeleryRunner

from .queue_app import APP_IMPORT, QUEUE_ENV, REDIS_ENV

celery_app = Celery("queue_test", broker=os.environ[REDIS_ENV])
celery_app.conf.update(
    task_default_queue=os.environ[QUEUE_ENV],
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    worker_prefetch_multiplier=1,
)
runner = CeleryRunner(celery_app, APP_IMPORT, max_retries=2, retry_backoff=1, retry_backoff_max=2)
