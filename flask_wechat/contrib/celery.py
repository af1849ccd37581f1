"""Late work on Celery (extra ``[celery]``)::

    # mysite_tasks.py — the module workers start with ``celery -A mysite_tasks worker``
    from celery import Celery
    from flask_wechat.contrib.celery import CeleryRunner

    celery_app = Celery("mysite", broker="redis://localhost:6379/1")
    runner = CeleryRunner(celery_app, app_import="mysite:create_app")

    # mysite.py
    wechat = WeChat(app, task_runner=mysite_tasks.runner)

Building the runner registers one task, ``flask_wechat.perform`` (bound, JSON
arguments: the task data and the ``app_import``), with ``acks_late`` and
``reject_on_worker_lost`` so a task whose worker process was killed is delivered
again. A retryable failure raises :class:`~flask_wechat.contrib.RetryLater`,
which the task retries through ``autoretry_for`` with exponential backoff.

With the Redis broker, a task whose whole worker died unacknowledged comes back
after the transport's ``visibility_timeout`` (Celery's default: one hour; keep it
above ``retry_backoff_max``).
"""

from __future__ import annotations

import typing as t

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
    import celery  # noqa: F401  (the runner needs a celery.Celery app)
except ModuleNotFoundError as exc:  # pragma: no cover - exercised in a subprocess
    raise missing_extra(exc, "celery") from None

if t.TYPE_CHECKING:
    from celery import Celery
    from celery import Task as CeleryTask
    from flask import Flask

    from ..tasks import Task

#: The Celery name of the task the runner registers.
TASK_NAME = "flask_wechat.perform"


def perform_task(self: CeleryTask, data: dict[str, t.Any], app_import: str) -> Outcome:
    """Run in a Celery worker: perform the queued task on the site's app.

    A task that failed for good (reported already) raises :class:`DeliveryFailed`,
    which is not in ``autoretry_for``: Celery marks it ``FAILURE`` and does not
    retry it.
    """
    app = load_app(app_import)
    max_retries = self.max_retries
    final = max_retries is not None and self.request.retries >= max_retries
    try:
        outcome = run_queued(app, data, final=final)
    except RetryLater as exc:
        if exc.delay is None:
            raise  # autoretry_for: the usual backoff
        # 45011: at the next minute (the broker's visibility_timeout must exceed 60 s)
        raise self.retry(exc=exc, countdown=exc.delay) from None
    if outcome == "failed":
        raise DeliveryFailed.of(data)
    return outcome


class CeleryRunner:
    """Sends flask_wechat's tasks to Celery.

    :param celery_app: the ``celery.Celery`` app; the task is registered on it.
    :param app_import: ``"module:attribute"``, the site's Flask app or its factory,
        as the workers import it (required; its shape is checked here).
    :param max_retries: retries of a task that failed on the way to WeChat.
    :param retry_backoff: seconds before the first retry, doubled for each next one…
    :param retry_backoff_max: …up to this many: by default the first retry comes
        within seconds and the last failure within a minute.
    :param queue: the Celery queue to send to (default: Celery's default queue).
    :param task_name: the Celery task name.
    """

    def __init__(
        self,
        celery_app: Celery,
        app_import: str,
        *,
        max_retries: int = 4,
        retry_backoff: int = 2,
        retry_backoff_max: int = 16,
        queue: str | None = None,
        task_name: str = TASK_NAME,
    ) -> None:
        self.celery_app = celery_app
        self.app_import = check_app_import(app_import)
        self.queue = queue
        self.task = celery_app.task(
            perform_task,
            name=task_name,
            bind=True,
            shared=False,  # this Celery app only
            serializer="json",
            autoretry_for=(RetryLater,),
            max_retries=max_retries,
            retry_backoff=retry_backoff,
            retry_backoff_max=retry_backoff_max,
            retry_jitter=False,
            acks_late=True,
            reject_on_worker_lost=True,
            ignore_result=True,
        )

    def submit(self, app: Flask, task: Task) -> None:
        self.task.apply_async(
            args=[task.to_data(), self.app_import], queue=self.queue, serializer="json"
        )
