"""The app ``tests/test_deadline_servers.py`` serves from real servers.

A bot whose handler is slow (an LLM call): it takes :data:`HANDLER_SECONDS_ENV`
seconds, counts its runs per user in the Redis at :data:`RECORD_ENV` and answers
with a text that goes out late, through the sandbox's customer-service API at
:data:`API_ENV`. The store is the default one (in the process) unless
:data:`STORE_ENV` names a Redis. Nothing else is configured: the reply deadline
is the default one.
"""

from __future__ import annotations

import os
import time

import redis
from flask import Flask

from flask_wechat import Message, WeChat
from flask_wechat.sandbox import SANDBOX_APP_ID, SANDBOX_APP_SECRET

API_ENV = "FLASK_WECHAT_DEADLINE_API"
RECORD_ENV = "FLASK_WECHAT_DEADLINE_RECORD"
STORE_ENV = "FLASK_WECHAT_DEADLINE_STORE"
HANDLER_SECONDS_ENV = "FLASK_WECHAT_DEADLINE_HANDLER_SECONDS"

TOKEN = "deadline-server-token"
#: hash of sender → handler runs.
RUNS_KEY = "deadline-test:runs"


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.update(
        WECHAT_APP_ID=SANDBOX_APP_ID,
        WECHAT_APP_SECRET=SANDBOX_APP_SECRET,
        WECHAT_API_BASE_URL=os.environ[API_ENV],
        WECHAT_TOKEN=TOKEN,
    )
    if os.environ.get(STORE_ENV):
        app.config["WECHAT_REDIS_URL"] = os.environ[STORE_ENV]
    wechat = WeChat(app)
    recorder = redis.Redis.from_url(os.environ[RECORD_ENV])
    seconds = float(os.environ[HANDLER_SECONDS_ENV])

    @wechat.on("text")
    def think(message: Message) -> str:
        recorder.hincrby(RUNS_KEY, str(message.source), 1)
        time.sleep(seconds)  # the model thinking
        return f"thought about {message.content}"

    return app
