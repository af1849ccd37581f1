"""A site on gunicorn, Redis and Celery (``pip install "flask-wechat-connect[celery]" gunicorn``).

Web processes answer WeChat; late replies (a handler past the reply deadline) are
queued as JSON on Redis and sent by Celery's own workers::

    gunicorn -w 4 -k gthread --threads 8 -b 0.0.0.0:8000 'mysite:create_app()'
    celery -A mysite worker --loglevel INFO
"""

import os
import time

from celery import Celery
from flask import Flask

from flask_wechat import TextReply, WeChat
from flask_wechat.contrib.celery import CeleryRunner

REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")

celery_app = Celery("mysite", broker=REDIS_URL)
wechat = WeChat(task_runner=CeleryRunner(celery_app, app_import="mysite:create_app"))


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
