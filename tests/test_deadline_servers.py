"""The 5-second answer, once-only handling and no 5xx, on real servers.

A bot with a slow handler (an LLM call) on gunicorn, with the default
configuration, driven by a client that behaves like WeChat: each try waits 5
seconds, then the identical request goes again, three tries in all. Every
conversation is answered on its first try, the handler runs once per user, and
each user gets the reply once, late, through the customer-service API.

Then the shared store under pressure: a thread-per-request server with more
request threads than the Redis pool has connections keeps dedup, and Redis
stopped while a retry waits for the first delivery's answer is no 5xx.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import time
import typing as t
from pathlib import Path

import pytest
import redis
from flask import Flask
from werkzeug.serving import make_server

from flask_wechat import Message, WeChat, signals
from flask_wechat.sandbox import Sandbox
from flask_wechat.store import MAX_CONNECTIONS, RedisStore
from flask_wechat.testing import WeChatTestClient, recording

from .deadline_server_app import (
    API_ENV,
    HANDLER_SECONDS_ENV,
    RECORD_ENV,
    RUNS_KEY,
    STORE_ENV,
    TOKEN,
)
from .test_scale_out import RedisServer, start_gunicorn, stop_gunicorn, wait_for

#: WeChat's own numbers: it waits 5 s for an answer and tries 3 times.
WECHAT_TIMEOUT = 5.0
WECHAT_TRIES = 3

pytestmark = pytest.mark.redis


def encoder(sandbox: Sandbox) -> WeChatTestClient:
    """Builds the requests WeChat would send to the served app."""
    app = Flask("deadline_client")
    app.config.update(sandbox.flask_config("mp"))
    app.config.update(WECHAT_TOKEN=TOKEN)
    WeChat(app)
    return WeChatTestClient(app)


@pytest.mark.parametrize(
    ("worker_class", "threads", "users", "store"),
    [("sync", 1, 4, "memory"), ("gthread", 2, 8, "redis"), ("gevent", 1, 8, "memory")],
)
def test_slow_handlers_are_answered_in_time_once_and_replied_late_once(
    worker_class: str,
    threads: int,
    users: int,
    store: str,
    sandbox: Sandbox,
    redis_db: str,
    tmp_path: Path,
) -> None:
    """Two workers, more slow conversations at once than they have threads."""
    with contextlib.ExitStack() as stack:
        env = {API_ENV: sandbox.url, RECORD_ENV: redis_db, HANDLER_SECONDS_ENV: "6"}
        if store == "redis":
            store_redis = RedisServer()
            store_redis.start()
            stack.callback(store_redis.kill)
            env[STORE_ENV] = store_redis.url
        server = start_gunicorn(
            env,
            tmp_path / "gunicorn.log",
            app="tests.deadline_server_app:create_app()",
            worker_class=worker_class,
            threads=threads,
        )
        stack.callback(stop_gunicorn, server)
        url = server.url
        client = encoder(sandbox)
        open_ids = [f"oSlowUser{number:019d}" for number in range(users)]
        for open_id in open_ids:
            sandbox.user_wrote(open_id)

        def converse(open_id: str) -> t.Any:
            message = client.message("text", Content="hello", FromUserName=open_id)
            return client.deliver(url, message, timeout=WECHAT_TIMEOUT, tries=WECHAT_TRIES)

        with concurrent.futures.ThreadPoolExecutor(users) as pool:
            deliveries = dict(zip(open_ids, pool.map(converse, open_ids), strict=True))

        for open_id, delivery in deliveries.items():
            assert delivery.answered_first_time, (open_id, delivery)
            assert delivery.tries[0].seconds < WECHAT_TIMEOUT
        wait_for("every late reply", lambda: len(sandbox.sent) >= users, timeout=30)
        time.sleep(0.5)  # a second reply to anyone would have come by now
        recipients = sorted(sent["touser"] for sent in sandbox.sent)
        assert recipients == sorted(open_ids)  # each user once
        assert {sent["text"]["content"] for sent in sandbox.sent} == {"thought about hello"}
        runs = redis.Redis.from_url(redis_db, decode_responses=True).hgetall(RUNS_KEY)
        assert runs == dict.fromkeys(open_ids, "1")  # the handler once per user


# == the shared store under pressure ===========================================


def _threaded_site(
    store_url: str, sandbox: Sandbox, handler: t.Callable[[Message], t.Any]
) -> tuple[Flask, WeChat]:
    app = Flask("threaded_site")
    app.config.update(sandbox.flask_config("mp"))
    app.config.update(WECHAT_TOKEN=TOKEN, WECHAT_REDIS_URL=store_url)
    wechat = WeChat(app)
    wechat.on("text")(handler)
    return app, wechat


def test_a_thread_per_request_server_with_more_threads_than_connections_keeps_dedup(
    sandbox: Sandbox, redis_db: str
) -> None:
    """werkzeug's threaded server starts a thread per request: 160 of them at
    once, each claiming in Redis, then WeChat's retries of every message."""
    runs: dict[str, int] = {}
    lock = threading.Lock()

    def handler(message: Message) -> str:
        with lock:
            runs[message.content or ""] = runs.get(message.content or "", 0) + 1
        time.sleep(0.05)  # request threads stay alive side by side
        return "ok"

    app, _wechat = _threaded_site(redis_db, sandbox, handler)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    url = f"http://127.0.0.1:{server.server_port}/wechat"
    client = WeChatTestClient(app)
    messages = [
        client.message("text", Content=f"m{number}", MsgId=10_000 + number) for number in range(160)
    ]
    try:
        with concurrent.futures.ThreadPoolExecutor(160) as pool:
            firsts = list(pool.map(lambda m: client.deliver(url, m, tries=1), messages))
            retries = list(pool.map(lambda m: client.deliver(url, m, tries=1), messages))
        connected = redis.Redis.from_url(redis_db).client_list()
    finally:
        server.shutdown()
    assert all(d.answered for d in firsts + retries)
    assert runs == {f"m{number}": 1 for number in range(160)}
    # the store held no more connections than its pool allows (plus this test's own)
    assert len(connected) <= MAX_CONNECTIONS + 2


def test_redis_stopped_while_a_retry_waits_is_no_5xx(sandbox: Sandbox, tmp_path: Path) -> None:
    store_redis = RedisServer()
    store_redis.start()
    release = threading.Event()
    started = threading.Event()
    runs: list[str] = []

    def slow(message: Message) -> str:
        runs.append(message.content or "")
        started.set()
        release.wait(10)
        return "first"

    try:
        app, _wechat = _threaded_site(store_redis.url, sandbox, slow)
        app.config["WECHAT_REPLY_DEADLINE"] = 3.0
        client = WeChatTestClient(app)
        message = client.message("text", Content="once", MsgId=77)
        first: list[t.Any] = []
        worker = threading.Thread(target=lambda: first.append(client.send(message)))
        with recording(signals.possible_duplicate, app) as possible:
            worker.start()
            assert started.wait(10)
            retried: list[t.Any] = []
            retry = threading.Thread(
                target=lambda: retried.append(WeChatTestClient(app).send(message))
            )
            retry.start()
            time.sleep(0.3)  # the retry is waiting for the first delivery's answer
            store_redis.kill()
            retry.join(15)
            release.set()
            worker.join(15)
        assert retried[0].status_code == 200
        assert first[0].status_code == 200
        assert possible.calls  # handled without dedup, and said so
        assert all(call["account"] == "default" for call in possible.calls)
    finally:
        release.set()
        store_redis.kill()


def test_the_store_uses_redis_py_public_api_with_a_bounded_pool(redis_db: str) -> None:
    store = RedisStore.from_url(redis_db)
    pool = store.redis.connection_pool
    assert type(pool).__name__ == "BlockingConnectionPool"
    assert pool.max_connections == MAX_CONNECTIONS
    assert store.add("k", "v", 5) is True
    assert store.add("k", "w", 5) is False
    assert store.get("k") == "v"
