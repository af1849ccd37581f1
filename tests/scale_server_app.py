"""The app ``tests/test_scale_out.py`` serves from several real gunicorns.

Shared state in the Redis named by :data:`REDIS_ENV` (``WECHAT_REDIS_URL``);
WeChat's API is the sandbox at :data:`API_ENV`. Every handler run fetches the
account's access_token (from the shared store, or from the sandbox once) and is
counted in the Redis at :data:`RECORD_ENV`, which stays up while the store's
Redis may be stopped.
"""

from __future__ import annotations

import os

import redis
from flask import Flask

from flask_wechat import Message, TextReply, WeChat
from flask_wechat.errors import TokenUnavailable
from flask_wechat.sandbox import SANDBOX_APP_ID, SANDBOX_APP_SECRET

REDIS_ENV = "FLASK_WECHAT_SCALE_REDIS"
RECORD_ENV = "FLASK_WECHAT_SCALE_RECORD"
API_ENV = "FLASK_WECHAT_SCALE_API"

TOKEN = "scale-token"
AES_KEY = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
#: hash of MsgId → handler runs.
RUNS_KEY = "scale-test:runs"


def wechat_config(redis_url: str, api_url: str) -> dict[str, object]:
    return {
        "WECHAT_APP_ID": SANDBOX_APP_ID,
        "WECHAT_APP_SECRET": SANDBOX_APP_SECRET,
        "WECHAT_API_BASE_URL": api_url,
        "WECHAT_TOKEN": TOKEN,
        "WECHAT_ENCODING_AES_KEY": AES_KEY,
        "WECHAT_REDIS_URL": redis_url,
    }


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.update(wechat_config(os.environ[REDIS_ENV], os.environ[API_ENV]))
    wechat = WeChat(app)
    recorder = redis.Redis.from_url(os.environ[RECORD_ENV])

    @wechat.on("text")
    def echo(message: Message) -> TextReply:
        recorder.hincrby(RUNS_KEY, str(message.id), 1)
        try:
            wechat.client().access_token  # noqa: B018 - one fetch for every instance
            token = "token"
        except TokenUnavailable:
            token = "no token"
        return TextReply(f"{message.content} ({token})")

    return app
