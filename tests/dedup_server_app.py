"""The app that ``tests/test_dedup.py`` serves from a real gunicorn.

Every worker process imports this module and calls :func:`create_app`, so each
has its own ``WeChat`` state and its own cache client; the only thing they share
is the Redis server named by :data:`REDIS_URL_ENV`. The handlers write down
every run in that same Redis, which is how the test counts runs across
processes.

The test builds its signed and encrypted requests with :func:`wechat_config`,
the very configuration the workers use.
"""

from __future__ import annotations

import os
import time
import typing as t

import redis
from flask import Flask, Response

from flask_wechat import Message, TextReply, WeChat

#: environment variable carrying the Redis URL into the gunicorn workers.
REDIS_URL_ENV = "FLASK_WECHAT_DEDUP_REDIS_URL"
#: environment variable with the seconds each handler run lasts (see create_app).
HANDLER_DELAY_ENV = "FLASK_WECHAT_DEDUP_HANDLER_DELAY"

TOKEN = "dedup-token"
APP_ID = "wxdedup0123456789"
# 43 characters, like an EncodingAESKey from WeChat's admin console.
AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlk0"

#: hash of handler label → number of runs (HINCRBY).
RUNS_KEY = "dedup-test:runs"
#: list of "<pid> <label>" for every handler run.
RUN_PIDS_KEY = "dedup-test:run-pids"
#: list of the pid of every process that answered a callback.
SERVED_PIDS_KEY = "dedup-test:served-pids"


def wechat_config(redis_url: str) -> dict[str, t.Any]:
    """The flask_wechat configuration: safe mode, dedup in a shared Redis cache."""
    return {
        "WECHAT_TOKEN": TOKEN,
        "WECHAT_APP_ID": APP_ID,
        "WECHAT_APP_SECRET": "dedup-secret",
        "WECHAT_ENCODING_AES_KEY": AES_KEY,
        "CACHE_TYPE": "RedisCache",
        "CACHE_REDIS_URL": redis_url,
    }


def text_label(msg_id: int | None) -> str:
    """How a text message's runs are filed under :data:`RUNS_KEY`."""
    return f"text:{msg_id}"


def click_label(event_key: str | None, create_time: int) -> str:
    """How a ``CLICK`` event's runs are filed under :data:`RUNS_KEY`."""
    return f"click:{event_key}:{create_time}"


def text_reply_content(content: str | None, msg_id: int | None) -> str:
    """What the text handler answers; distinct per message so replies cannot mix."""
    return f"echo {content} #{msg_id}"


def click_reply_content(event_key: str | None) -> str:
    """What the ``CLICK`` handler answers."""
    return f"clicked {event_key}"


def create_app(redis_url: str | None = None, handler_delay: float | None = None) -> Flask:
    """The app a gunicorn worker serves (``tests.dedup_server_app:create_app()``).

    :param redis_url: the shared Redis; by default from :data:`REDIS_URL_ENV`.
    :param handler_delay: seconds each handler run lasts, by default from
        :data:`HANDLER_DELAY_ENV` (else 0). A run that lasts a moment keeps the
        first delivery's claim pending while its retries arrive, so the retries
        take the "wait for the first answer" path rather than finding it done.
    """
    url = redis_url if redis_url is not None else os.environ[REDIS_URL_ENV]
    delay = (
        handler_delay
        if handler_delay is not None
        else float(os.environ.get(HANDLER_DELAY_ENV, "0"))
    )
    app = Flask(__name__)
    app.config.update(wechat_config(url))
    wechat = WeChat(app)
    recorder = redis.Redis.from_url(url)

    def record(label: str) -> None:
        with recorder.pipeline() as pipe:
            pipe.hincrby(RUNS_KEY, label, 1)
            pipe.rpush(RUN_PIDS_KEY, f"{os.getpid()} {label}")
            pipe.execute()
        if delay:
            time.sleep(delay)

    @wechat.on("text")
    def echo(message: Message) -> TextReply:
        record(text_label(message.id))
        return TextReply(text_reply_content(message.content, message.id))

    @wechat.on("click")
    def click(message: Message) -> TextReply:
        record(click_label(message.event_key, message.create_time))
        return TextReply(click_reply_content(message.event_key))

    @app.after_request
    def note_pid(response: Response) -> Response:
        recorder.rpush(SERVED_PIDS_KEY, os.getpid())
        return response

    return app
