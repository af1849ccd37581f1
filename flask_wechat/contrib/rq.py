"""Late work on RQ (extra ``[rq]``)::

    from redis import Redis
    from rq import Queue
    from flask_wechat.contrib.rq import RQRunner

    queue = Queue("wechat", connection=Redis.from_url("redis://localhost:6379/0"))
    wechat = WeChat(app, task_runner=RQRunner(queue, app_import="mysite:create_app"))

Workers are RQ's own (``--with-scheduler`` runs the delayed retries)::

    rq worker --with-scheduler --url redis://localhost:6379/0 wechat

Each job calls :func:`perform_job` with the task as a JSON string and the
``app_import``; the worker imports the site once per process. Retries use RQ's
``Retry(max=retries, interval=intervals)``. A worker killed mid-job leaves the
job in RQ's ``StartedJobRegistry``; once its heartbeat expires (the job
monitoring interval + 60 s) the next maintenance pass of any worker
(``--maintenance-interval``) retries it, since it still has retries left, and
the shared store's ``done`` mark keeps a job that had finished from running twice.
"""

from __future__ import annotations

import json
import math
import typing as t
from collections.abc import Sequence

from . import (
    DeliveryFailed,
    Outcome,
    RetryLater,
    check_app_import,
    load_app,
    missing_extra,
    run_queued,
)

try:
    from rq import Retry, get_current_job
except ModuleNotFoundError as exc:  # pragma: no cover - exercised in a subprocess
    raise missing_extra(exc, "rq") from None

if t.TYPE_CHECKING:
    from flask import Flask
    from rq import Queue
    from rq.job import Job

    from ..tasks import Task

#: The dotted name each job calls.
JOB_FUNCTION = "flask_wechat.contrib.rq.perform_job"


def perform_job(task_json: str, app_import: str) -> Outcome:
    """Run in an RQ worker: perform the queued task on the site's app.

    A task that failed for good (reported already) raises :class:`DeliveryFailed`
    with no retries left, so RQ puts the job in its ``FailedJobRegistry`` instead
    of retrying it.
    """
    app = load_app(app_import)
    job = get_current_job()
    final = job is None or not job.retries_left
    data = json.loads(task_json)
    try:
        outcome = run_queued(app, data, final=final)
    except RetryLater as exc:
        if exc.delay is not None and job is not None:
            _retry_in(job, exc.delay)
        raise
    if outcome == "failed":
        if job is not None:
            job.retries_left = 0  # reported once: RQ must not run it again
        raise DeliveryFailed.of(data)
    return outcome


def _retry_in(job: Job, seconds: float) -> None:
    """Have RQ's coming retry of ``job`` wait at least ``seconds`` (45011: until
    the next minute) instead of its usual interval."""
    intervals = list(job.retry_intervals or [0])
    index = max(len(intervals) - (job.retries_left or 0), 0)
    intervals[index] = max(intervals[index], math.ceil(seconds))
    job.retry_intervals = intervals


class RQRunner:
    """Sends flask_wechat's tasks to an RQ queue.

    :param queue: an ``rq.Queue``.
    :param app_import: ``"module:attribute"``, the site's Flask app or its factory,
        as the workers import it (required; its shape is checked here).
    :param retries: retries of a task that failed on the way to WeChat.
    :param intervals: seconds before each retry (the last one repeats): by default
        the first retry comes within seconds and the last failure within a minute.
    :param job_timeout: seconds a job may run before RQ stops it.
    """

    def __init__(
        self,
        queue: Queue,
        app_import: str,
        *,
        retries: int = 3,
        intervals: Sequence[int] = (2, 6, 15),
        job_timeout: int = 60,
    ) -> None:
        self.queue = queue
        self.app_import = check_app_import(app_import)
        self.retries = retries
        self.intervals = list(intervals)
        self.job_timeout = job_timeout

    def submit(self, app: Flask, task: Task) -> None:
        data = task.to_data()
        self.queue.enqueue(
            JOB_FUNCTION,
            json.dumps(data, ensure_ascii=False, separators=(",", ":")),
            self.app_import,
            retry=Retry(max=self.retries, interval=self.intervals) if self.retries else None,
            job_timeout=self.job_timeout,
            description=f"flask_wechat {data['name']} for {data['account']} ({data['id']})",
        )
