"""The site the queue tests run: the web side in the test process, the same
factory in every ``rq worker`` / ``celery worker`` (``app_import``).

Everything a worker needs comes through environment variables, the way a real
deployment passes its settings: the Redis URL, the sandbox WeChat API, the relay
platform, the runner and its queue name.
"""

from __future__ import annotations

import os
import time
import typing as t

import redis
from flask import Flask

from flask_wechat import ImageReply, Message, TextReply, WeChat, signals
from flask_wechat.sandbox import SANDBOX_APP_ID, SANDBOX_APP_SECRET
from flask_wechat.tasks import Task, TaskRunner

REDIS_ENV = "FLASK_WECHAT_QT_REDIS"
API_ENV = "FLASK_WECHAT_QT_API"
RELAY_ENV = "FLASK_WECHAT_QT_RELAY"
RUNNER_ENV = "FLASK_WECHAT_QT_RUNNER"
QUEUE_ENV = "FLASK_WECHAT_QT_QUEUE"
IMAGE_ENV = "FLASK_WECHAT_QT_IMAGE"
#: when set, a file where the site's OpenTelemetry spans go (web side and workers).
SPANS_ENV = "FLASK_WECHAT_QT_SPANS"

APP_IMPORT = "tests.contrib.queue_app:create_app"
TOKEN = "queue-token"
AES_KEY = "QRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456"
RELAY_TOKEN = "queue-relay-token"
#: the list where workers note every task that failed for good (task id).
FAILED_KEY = "qt:delivery-failed"
#: shorter than the late handler, so its reply goes through the API, as a task.
REPLY_DEADLINE = 0.05


def make_runner(name: str, redis_url: str, queue: str) -> TaskRunner:
    if name == "rq":
        from rq import Queue

        from flask_wechat.contrib.rq import RQRunner

        return RQRunner(
            Queue(queue, connection=redis.Redis.from_url(redis_url)),
            APP_IMPORT,
            retries=2,
            intervals=[1],
        )
    from .celery_worker import build

    return build(redis_url, queue)[1]


def create_app() -> Flask:
    """The site, configured from the environment."""
    redis_url = os.environ[REDIS_ENV]
    app = Flask("queue_app")
    app.config.update(
        WECHAT_APP_ID=SANDBOX_APP_ID,  # the sandbox's pre-registered account
        WECHAT_APP_SECRET=SANDBOX_APP_SECRET,
        WECHAT_API_BASE_URL=os.environ[API_ENV],
        WECHAT_TOKEN=TOKEN,
        WECHAT_ENCODING_AES_KEY=AES_KEY,
        WECHAT_REDIS_URL=redis_url,
        WECHAT_REPLY_DEADLINE=REPLY_DEADLINE,
        WECHAT_RELAY_URL=os.environ[RELAY_ENV],
        WECHAT_RELAY_TOKEN=RELAY_TOKEN,
        WECHAT_RELAY_CALLBACK_URL="/wechat/relay",
    )
    runner = make_runner(os.environ[RUNNER_ENV], redis_url, os.environ[QUEUE_ENV])
    # Handlers in the request's thread: a late reply is queued before the callback
    # answers, so a test finds the job as soon as its request returns.
    wechat = WeChat(app, task_runner=runner, handler_threads=0)
    recorder = redis.Redis.from_url(redis_url)

    @wechat.on("text", match=r"^late")
    def late(message: Message) -> TextReply:
        time.sleep(REPLY_DEADLINE * 2)  # past the deadline: the reply becomes a task
        return TextReply(f"late answer to {message.content}")

    @wechat.on("text", match=r"^picture")
    def picture(message: Message) -> ImageReply:
        time.sleep(REPLY_DEADLINE * 2)  # late: uploaded and sent by a task
        return ImageReply(file=os.environ[IMAGE_ENV])

    @signals.delivery_failed.connect_via(app)
    def failed(sender: Flask, task: Task, **extra: t.Any) -> None:
        recorder.rpush(FAILED_KEY, task.id)

    app.extensions["queue_test_receiver"] = failed  # keep the weak receiver alive
    if os.environ.get(SPANS_ENV):
        from .spans_file import instrument_to_file

        app.extensions["queue_test_otel"] = instrument_to_file(wechat, os.environ[SPANS_ENV])
    return app
