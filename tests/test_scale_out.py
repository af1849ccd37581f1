"""Several real gunicorns behind one real Redis, and that Redis going away.

* two gunicorn instances on two ports share ``WECHAT_REDIS_URL``; a message and
  WeChat's retries of it land on different instances: the handler runs once, and
  the instances fetch one access_token between them;
* the Redis is killed and restarted on the same port while messages keep
  coming: every callback is answered (never a 5xx), handlers still run, API
  calls fail fast with ``TokenUnavailable``, and once Redis is back dedup and
  tokens work again without restarting anything.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
from flask import Flask

from flask_wechat import WeChat
from flask_wechat.errors import TokenUnavailable
from flask_wechat.sandbox import SANDBOX_OPENID, Sandbox
from flask_wechat.store import RedisStore
from flask_wechat.testing import WeChatTestClient

from .scale_server_app import API_ENV, RECORD_ENV, REDIS_ENV, RUNS_KEY, wechat_config
from .test_dedup import _free_port, _no_control_socket, as_test_response

PROJECT_DIR = Path(__file__).resolve().parent.parent
WAIT = 20.0

pytestmark = pytest.mark.redis


def wait_for(what: str, check: t.Callable[[], t.Any], timeout: float = WAIT) -> t.Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


class RedisServer:
    """A dedicated redis-server on a fixed port, which a test may stop and start."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server") or shutil.which(
            "redis-server", path="/usr/bin:/usr/sbin"
        )
        if binary is None:
            pytest.fail("redis-server is not installed; `make test` installs it")
        self.binary = binary
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        try:
            wait_for("redis-server to start", lambda: _pings(client))
        finally:
            client.close()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@pytest.fixture
def store_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.kill()


@dataclasses.dataclass
class Gunicorn:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def start_gunicorn(
    env: dict[str, str],
    log: Path,
    *,
    app: str = "tests.scale_server_app:create_app()",
    worker_class: str = "gthread",
    threads: int = 4,
) -> Gunicorn:
    """Two workers of ``worker_class`` serving ``app`` on a free port, once they answer."""
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--chdir",
        str(PROJECT_DIR),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--worker-class",
        worker_class,
        "--threads",
        str(threads),
        "--timeout",
        "60",
        "--graceful-timeout",
        "5",
        *_no_control_socket(),
        app,
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Gunicorn(f"http://127.0.0.1:{port}/wechat", process, log)

    def serving() -> bool:
        if process.poll() is not None:
            pytest.fail("gunicorn exited:\n" + log.read_text(errors="replace")[-2000:])
        try:
            return requests.get(server.url, timeout=1).status_code == 400
        except requests.RequestException:
            return False

    wait_for("gunicorn to serve", serving, timeout=30)
    return server


def stop_gunicorn(server: Gunicorn) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=15)


@pytest.fixture
def instances(
    store_redis: RedisServer, redis_db: str, sandbox: Sandbox, tmp_path: Path
) -> Iterator[list[Gunicorn]]:
    env = {REDIS_ENV: store_redis.url, RECORD_ENV: redis_db, API_ENV: sandbox.url}
    started: list[Gunicorn] = []
    try:
        for number in range(2):
            started.append(start_gunicorn(env, tmp_path / f"gunicorn-{number}.log"))
        yield started
    finally:
        for server in started:
            stop_gunicorn(server)


@pytest.fixture
def encoder(store_redis: RedisServer, sandbox: Sandbox) -> WeChatTestClient:
    app = Flask("scale_client")
    app.config.update(wechat_config(store_redis.url, sandbox.url))
    WeChat(app)
    return WeChatTestClient(app)


def deliver(server: Gunicorn, encoded: tuple[bytes, dict[str, str]]) -> requests.Response:
    body, query = encoded
    return requests.post(
        server.url, params=query, data=body, headers={"Content-Type": "text/xml"}, timeout=30
    )


def runs(redis_db: str) -> dict[str, int]:
    client = redis.Redis.from_url(redis_db, decode_responses=True)
    try:
        raw = t.cast(dict[str, str], client.hgetall(RUNS_KEY))
        return {key: int(value) for key, value in raw.items()}
    finally:
        client.close()


def message(msg_id: int, content: str) -> dict[str, t.Any]:
    return {
        "MsgType": "text",
        "Content": content,
        "MsgId": msg_id,
        "FromUserName": SANDBOX_OPENID,
        "ToUserName": "gh_scale",
        "CreateTime": int(time.time()),
    }


def test_retries_across_instances_run_the_handler_once_and_fetch_one_token(
    instances: list[Gunicorn], encoder: WeChatTestClient, redis_db: str, sandbox: Sandbox
) -> None:
    ids = range(1000, 1010)
    for msg_id in ids:
        fields = message(msg_id, f"hello {msg_id}")
        # The first delivery and two retries (fresh nonces), each to another instance.
        deliveries = [encoder.encode(fields) for _ in range(3)]
        answers = [deliver(instances[i % 2], d) for i, d in enumerate(deliveries)]
        assert [a.status_code for a in answers] == [200, 200, 200]
    assert runs(redis_db) == {str(msg_id): 1 for msg_id in ids}
    assert sandbox.token_requests == 1


def test_redis_killed_and_restarted_mid_load(
    instances: list[Gunicorn],
    store_redis: RedisServer,
    encoder: WeChatTestClient,
    redis_db: str,
    sandbox: Sandbox,
) -> None:
    statuses: list[int] = []
    stop = threading.Event()
    counter = iter(range(2000, 1_000_000))

    def load() -> None:
        while not stop.is_set():
            msg_id = next(counter)
            encoded = encoder_encode(msg_id)
            statuses.append(deliver(instances[msg_id % 2], encoded).status_code)

    lock = threading.Lock()

    def encoder_encode(msg_id: int) -> tuple[bytes, dict[str, str]]:
        with lock:
            return encoder.encode(message(msg_id, "load"))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_for("load before the outage", lambda: len(statuses) >= 20)
        store_redis.kill()
        during = len(statuses)
        wait_for("load during the outage", lambda: len(statuses) >= during + 20)
        store_redis.start()
        after = len(statuses)
        wait_for("load after the outage", lambda: len(statuses) >= after + 20)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert statuses
    assert set(statuses) == {200}, sorted(set(statuses))
    # Handlers ran for the messages that came during the outage too.
    assert len(runs(redis_db)) == len(statuses)

    # Recovered without a restart: dedup across instances and tokens work again.
    fields = message(999_999, "after")
    deliveries = [encoder.encode(fields) for _ in range(3)]
    answers = [deliver(instances[i % 2], d) for i, d in enumerate(deliveries)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert runs(redis_db)["999999"] == 1
    reply, _ = encoder.decode_reply(as_test_response(answers[0]))
    assert reply is not None
    assert reply["Content"] == "after (token)"


def test_api_calls_fail_fast_while_redis_is_down(
    store_redis: RedisServer, sandbox: Sandbox
) -> None:
    for config in (
        {"WECHAT_REDIS_URL": store_redis.url},
        {"WECHAT_REDIS_URL": None, "CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": store_redis.url},
    ):
        app = Flask("outage")
        app.config.update(wechat_config(store_redis.url, sandbox.url), **config)
        wechat = WeChat(app)
        assert isinstance(app.extensions["wechat"].store, RedisStore)
        with app.app_context():
            store_redis.kill()
            started = time.monotonic()
            with pytest.raises(TokenUnavailable):
                wechat.client().access_token  # noqa: B018
            assert time.monotonic() - started < 5
            store_redis.start()
            assert wechat.client().access_token  # back without a restart


@pytest.mark.parametrize(
    ("config", "shared", "redis_py"),
    [
        ({}, False, False),
        ({"CACHE_TYPE": "SimpleCache"}, False, False),
        ({"WECHAT_REDIS_URL": "redis://127.0.0.1:1/0"}, True, True),
        ({"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": "redis://127.0.0.1:1/0"}, True, True),
        (
            {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_HOST": "127.0.0.1", "CACHE_REDIS_PORT": 1},
            True,
            True,
        ),
        (
            {
                "CACHE_TYPE": "RedisSentinelCache",
                "CACHE_REDIS_SENTINELS": [("127.0.0.1", 1)],
                "CACHE_REDIS_SENTINEL_MASTER": "mymaster",
            },
            True,
            False,  # flask-caching's own client, through its public add/get/set
        ),
    ],
)
def test_which_store(config: dict[str, t.Any], shared: bool, redis_py: bool) -> None:
    """In-process by default; Redis through redis-py for a URL or a Redis cache
    (redis-py connects lazily: nothing needs to run here)."""
    app = Flask("store_choice")
    app.config.update(WECHAT_TOKEN="t", WECHAT_APP_ID="wx0", WECHAT_APP_SECRET="s", **config)
    WeChat(app)
    store = app.extensions["wechat"].store
    assert isinstance(store, RedisStore) is redis_py
    assert store.is_shared is shared
