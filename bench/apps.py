"""The apps under test, one factory each.

gunicorn loads them as ``bench.apps:make_app('NAME')``; the in-process benches
call the factories directly. All of them serve the same safe-mode Official
Account on ``POST /wechat``:

``bare``
    Flask alone, answering ``success``: the floor any Flask callback pays.
``bare_read``
    the same, after reading the query string and the body straight from the WSGI
    environ: the floor of a callback that looks at its request.
``bare_redis``
    ``bare_read`` plus one redis-py ``SET <new key> 1 NX PX 60000`` per request:
    the floor of any callback that claims each message in Redis.
``bare_handoff``
    ``bare_read`` handing a trivial function to another thread and waiting for it,
    once per request (flask_wechat's own :class:`HandlerThreads`): the floor of any
    callback that runs its handler off the request's thread to answer by a deadline.
``wechatpy``
    wechatpy 1.8.18 in a Flask view, as its users write it in safe mode:
    ``check_signature``, ``WeChatCrypto.decrypt_message``, ``parse_message``,
    ``create_reply`` (a ``TextReply`` echo), ``WeChatCrypto.encrypt_message``.
``wechatpy_redis``
    the same, with the dedup wechatpy users write: a redis-py ``SET NX`` of the
    ``MsgId`` before handling (a retry answers ``success``).
``wechat``
    flask_wechat with its defaults (dedup on, the reply deadline with handlers on
    handler threads) and the in-process store; a text handler echoes the content.
``wechat_redis``
    the same with ``WECHAT_REDIS_URL`` at ``$BENCH_REDIS_URL``.
"""

from __future__ import annotations

import itertools
import os
import typing as t

import redis
from flask import Flask, abort, request
from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature

from flask_wechat import Message, TextReply, WeChat
from flask_wechat.handler_threads import HandlerThreads, Job

TOKEN = "bench-token"
APP_ID = "wxbench0123456789"
APP_SECRET = "bench-secret"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
URL = "/wechat"

NAMES = (
    "bare",
    "bare_read",
    "bare_handoff",
    "bare_redis",
    "wechatpy",
    "wechatpy_redis",
    "wechat",
    "wechat_redis",
)
"""Every app :func:`make_app` builds."""

REDIS_URL_ENV = "BENCH_REDIS_URL"
"""The environment variable ``bare_redis`` and ``wechat_redis`` take their Redis URL from."""


class Counter:
    """Counts handler runs, to prove that every request reached the handler."""

    def __init__(self) -> None:
        self.runs = 0


def make_bare_app() -> Flask:
    """Flask alone: a POST endpoint answering ``success``."""
    app = Flask("bench_bare")

    @app.post(URL)
    def callback() -> str:
        return "success"

    return app


def read_request() -> None:
    """Read the query string and the body straight from the WSGI environ (400 if
    either is missing): what any callback does before anything else."""
    environ = request.environ
    query = environ.get("QUERY_STRING", "")
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    if not query or not body:
        abort(400)


def make_bare_read_app() -> Flask:
    """Flask reading the query string and the body, then answering ``success``."""
    app = Flask("bench_bare_read")

    @app.post(URL)
    def callback() -> str:
        read_request()
        return "success"

    return app


def make_bare_handoff_app() -> Flask:
    """``bare_read`` plus one hand-off to a handler thread and back per request."""
    app = Flask("bench_bare_handoff")
    threads = HandlerThreads(4)

    def nothing() -> str:
        return "success"

    def late(result: str | None, error: BaseException | None) -> None:
        raise AssertionError("the trivial job never comes late")

    @app.post(URL)
    def callback() -> str:
        read_request()
        job: Job[str] = Job(nothing, late)
        threads.submit(job)
        if not job.wait(5.0) or job.result is None:
            abort(500)
        return job.result

    return app


def make_bare_redis_app(redis_url: str) -> Flask:
    """``bare_read`` plus one redis-py ``SET <new key> 1 NX PX 60000`` per request."""
    app = Flask("bench_bare_redis")
    client = redis.Redis.from_url(redis_url)
    sent = itertools.count()

    @app.post(URL)
    def callback() -> str:
        read_request()
        if not client.set(f"bench:bare:{os.getpid()}:{next(sent)}", 1, nx=True, px=60000):
            abort(500)
        return "success"

    return app


def make_wechatpy_app(redis_url: str | None = None) -> Flask:
    """wechatpy's safe-mode callback in a Flask view, echoing text messages; with
    ``redis_url``, a redis-py ``SET NX`` of the ``MsgId`` first, as its users
    dedup WeChat's retries."""
    app = Flask("bench_wechatpy_redis" if redis_url else "bench_wechatpy")
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    client = redis.Redis.from_url(redis_url) if redis_url else None

    @app.post(URL)
    def callback() -> str:
        args = request.args
        timestamp = args.get("timestamp", "")
        nonce = args.get("nonce", "")
        try:
            check_signature(TOKEN, args.get("signature", ""), timestamp, nonce)
            xml = crypto.decrypt_message(
                request.get_data(), args.get("msg_signature", ""), timestamp, nonce
            )
        except (InvalidSignatureException, InvalidAppIdException):
            abort(403)
        message = parse_message(xml)
        if client is not None and not client.set(f"msg:{message.id}", 1, nx=True, ex=60):
            return "success"  # a retry
        content = message.content if message.type == "text" else ""
        reply = create_reply(content, message)
        return str(crypto.encrypt_message(reply.render(), nonce, timestamp))

    return app


def wechat_config(redis_url: str | None = None) -> dict[str, t.Any]:
    """flask_wechat settings for the bench account; with ``redis_url``, a Redis cache."""
    config: dict[str, t.Any] = {
        "WECHAT_TOKEN": TOKEN,
        "WECHAT_APP_ID": APP_ID,
        "WECHAT_APP_SECRET": APP_SECRET,
        "WECHAT_ENCODING_AES_KEY": AES_KEY,
        "WECHAT_CALLBACK_URL": URL,
    }
    if redis_url is not None:
        config["WECHAT_REDIS_URL"] = redis_url
    return config


def build_wechat_app(
    redis_url: str | None = None, *, handler_threads: int | None = None, **settings: t.Any
) -> tuple[Flask, Counter]:
    """flask_wechat with its defaults (``settings`` change some), a text echo
    handler, and its run counter."""
    app, _wechat, counter = build_wechat(redis_url, handler_threads=handler_threads, **settings)
    return app, counter


def build_wechat(
    redis_url: str | None = None, *, handler_threads: int | None = None, **settings: t.Any
) -> tuple[Flask, WeChat, Counter]:
    """:func:`build_wechat_app`, with the extension too."""
    app = Flask("bench_wechat_redis" if redis_url else "bench_wechat")
    app.config.update(wechat_config(redis_url), **settings)
    wechat = WeChat(app, handler_threads=handler_threads)
    counter = Counter()

    @wechat.on("text")
    def echo(message: Message) -> TextReply:
        counter.runs += 1
        return TextReply(message.content or "")

    return app, wechat, counter


def redis_url(name: str) -> str:
    """The Redis URL app ``name`` was given in :data:`REDIS_URL_ENV`."""
    url = os.environ.get(REDIS_URL_ENV)
    if not url:
        raise RuntimeError(f"{name} needs ${REDIS_URL_ENV}")
    return url


def make_app(name: str) -> Flask:
    """The app called ``name`` (one of :data:`NAMES`)."""
    if name == "bare":
        return make_bare_app()
    if name == "bare_read":
        return make_bare_read_app()
    if name == "bare_handoff":
        return make_bare_handoff_app()
    if name == "bare_redis":
        return make_bare_redis_app(redis_url(name))
    if name == "wechatpy":
        return make_wechatpy_app()
    if name == "wechatpy_redis":
        return make_wechatpy_app(redis_url(name))
    if name == "wechat":
        return build_wechat_app()[0]
    if name == "wechat_redis":
        return build_wechat_app(redis_url(name))[0]
    raise ValueError(f"unknown app {name!r}; use one of {', '.join(NAMES)}")
