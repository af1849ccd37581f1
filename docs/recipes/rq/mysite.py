"""A site on gunicorn, Redis and RQ (``pip install "flask-wechat-connect[rq]" gunicorn``).

Web processes answer WeChat; late replies (a handler past the reply deadline) are
queued as JSON on Redis and sent by RQ's own workers::

    gunicorn -w 4 -k gthread --threads 8 -b 0.0.0.0:8000 'mysite:create_app()'
    rq worker --with-scheduler --url redis://localhost:6379/0 wechat
"""

import os
import time

from flask import Flask
from redis import Redis
from rq import Queue

from flask_wechat import TextReply, WeChat
from flask_wechat.contrib.rq import RQRunner

REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")

queue = Queue("wechat", connection=Redis.from_url(REDIS_URL))
wechat = WeChat(task_runner=RQRunner(queue, app_import="mysite:create_app"))


@wechat.on("text", match=r"^report\b")
def report(message):
    time.sleep(1)  # slow work: past a short reply deadline, the reply is queued
    return TextReply("your report is ready")


@wechat.on("text")
def echo(message):
    return TextReply(message.content)


def create_app():
    app = Flask(__name__)
    # FLASK_WECHAT_TOKEN, FLASK_WECHAT_APP_ID, ...: each is parsed as JSON, so quote
    # an all-digit token: FLASK_WECHAT_TOKEN='"123456"'.
    app.config.from_prefixed_env()
    app.config["WECHAT_REDIS_URL"] = REDIS_URL  # dedup, replay guard, tokens: shared
    wechat.init_app(app)
    return app
