"""WeChat retries never run a handler twice, across real processes sharing a real Redis.

WeChat resends a callback it got no answer to (same ``MsgId``; for events the same
``FromUserName`` + ``CreateTime`` + ``Event`` + ``EventKey``), each time signed
with a new nonce and timestamp. Behind a load balancer or a pre-fork server the
retries land on different processes, so the only thing that can recognise them
is the shared cache. These tests start a real gunicorn (4 worker processes × 4
threads) over the app in ``tests/dedup_server_app.py``, configured with a
``RedisCache`` on the session's redis-server, fire the same message at it
concurrently and count the handler's runs in Redis.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import typing as t
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests
from flask import Flask
from werkzeug.datastructures import Headers
from werkzeug.test import TestResponse
from werkzeug.wrappers import Request

from flask_wechat import Message, WeChat, signals
from flask_wechat.testing import WeChatTestClient

from .dedup_server_app import (
    HANDLER_DELAY_ENV,
    REDIS_URL_ENV,
    RUN_PIDS_KEY,
    RUNS_KEY,
    SERVED_PIDS_KEY,
    click_label,
    click_reply_content,
    create_app,
    text_label,
    text_reply_content,
    wechat_config,
)

if t.TYPE_CHECKING:
    from flask_wechat.parsing import Fields

PROJECT_DIR = Path(__file__).resolve().parent.parent
WORKERS = 4
THREADS_PER_WORKER = 4
RETRIES = 16
READY_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0
# How long each handler run lasts in the gunicorn workers: long enough that the
# concurrent retries find the first delivery still running (the wait path), far
# below WECHAT_REPLY_DEADLINE (4.5 s). Not a timing assertion.
HANDLER_DELAY = 0.2

Encoded = tuple[bytes, dict[str, str]]

pytestmark = pytest.mark.redis


# -- a real gunicorn ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Server:
    """A running gunicorn serving ``dedup_server_app``."""

    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def callback_url(self) -> str:
        return self.base_url + "/wechat"

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError as exc:
            return f"(no gunicorn log: {exc})"
        return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_serving(server: Server) -> None:
    """Poll the callback URL until a worker answers; fail clearly after READY_TIMEOUT."""
    deadline = time.monotonic() + READY_TIMEOUT
    last_error = "no attempt"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(
                f"gunicorn exited with {server.process.returncode} before serving:\n"
                + server.log_tail()
            )
        try:
            # No signature or timestamp: any worker that is up refuses it with a 400.
            answer = requests.get(server.callback_url, timeout=1)
        except requests.RequestException as exc:
            last_error = repr(exc)
            time.sleep(0.1)
            continue
        if answer.status_code == 400:
            return
        last_error = f"answered {answer.status_code}: {answer.text[:200]!r}"
        time.sleep(0.1)
    pytest.fail(
        f"gunicorn did not serve {server.callback_url} within {READY_TIMEOUT:.0f} s "
        f"(last: {last_error}):\n{server.log_tail()}"
    )


def _no_control_socket() -> list[str]:
    """Newer gunicorns open a control socket under ``~/.gunicorn``, shared by every
    gunicorn of the user; a test server has no use for it."""
    settings = importlib.import_module("gunicorn.config").KNOWN_SETTINGS
    names = {setting.name for setting in settings}
    return ["--no-control-socket"] if "control_socket_disable" in names else []


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Shut gunicorn down gracefully; kill its process group if it will not go."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the group gunicorn leads: it and its workers
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def gunicorn_server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """gunicorn with 4 gthread workers on a free loopback port, Redis from ``redis_url``."""
    port = _free_port()
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--chdir",
        str(PROJECT_DIR),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(WORKERS),
        "--worker-class",
        "gthread",
        "--threads",
        str(THREADS_PER_WORKER),
        "--timeout",
        "30",
        "--graceful-timeout",
        "5",
        "--log-level",
        "info",
        *_no_control_socket(),
        "tests.dedup_server_app:create_app()",
    ]
    env = {**os.environ, REDIS_URL_ENV: redis_url, HANDLER_DELAY_ENV: str(HANDLER_DELAY)}
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_until_serving(server)
        yield server
    finally:
        _stop(process)


# -- helpers ------------------------------------------------------------------------


@pytest.fixture
def store(redis_db: str) -> Iterator[redis.Redis]:
    """A client of the (flushed) Redis the workers record their runs in."""
    client = redis.Redis.from_url(redis_db, decode_responses=True)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def encoder(redis_url: str) -> WeChatTestClient:
    """Encodes requests for the gunicorn app: a local app with the workers' config."""
    app = Flask("dedup_client")
    app.config.update(wechat_config(redis_url))
    WeChat(app)
    return WeChatTestClient(app)


def runs(store: redis.Redis) -> dict[str, int]:
    """Handler runs per label, as the workers recorded them."""
    raw: dict[str, str] = store.hgetall(RUNS_KEY)  # type: ignore[assignment]
    return {label: int(count) for label, count in raw.items()}


def diagnostics(store: redis.Redis, server: Server) -> str:
    """What to print when an assertion fails: who ran what, who answered."""
    run_pids: list[str] = store.lrange(RUN_PIDS_KEY, 0, -1)  # type: ignore[assignment]
    served: list[str] = store.lrange(SERVED_PIDS_KEY, 0, -1)  # type: ignore[assignment]
    return (
        f"\nhandler runs (pid label): {run_pids}"
        f"\nanswering pids: {sorted(set(served))} ({len(served)} answers)"
        f"\ngunicorn log:\n{server.log_tail()}"
    )


def retries_of(client: WeChatTestClient, message: Fields, count: int) -> list[Encoded]:
    """``count`` deliveries of ``message``, each signed and sealed afresh, like WeChat's."""
    deliveries = [client.encode(message) for _ in range(count)]
    nonces = {query["nonce"] for _, query in deliveries}
    assert len(nonces) == count, "every delivery must carry its own nonce"
    return deliveries


def fire(server: Server, deliveries: Sequence[Encoded]) -> list[requests.Response]:
    """POST every delivery at once, one thread each, released together by a barrier."""
    start = threading.Barrier(len(deliveries))

    def post(delivery: Encoded) -> requests.Response:
        body, query = delivery
        with requests.Session() as session:
            start.wait(timeout=REQUEST_TIMEOUT)
            return session.post(
                server.callback_url,
                params=query,
                data=body,
                headers={"Content-Type": "text/xml"},
                timeout=REQUEST_TIMEOUT,
            )

    with ThreadPoolExecutor(max_workers=len(deliveries)) as pool:
        return list(pool.map(post, deliveries))


def as_test_response(answer: requests.Response) -> TestResponse:
    """Wrap a real HTTP answer so that ``WeChatTestClient.decode_reply`` can read it."""
    return TestResponse(
        [answer.content],
        f"{answer.status_code} {answer.reason}",
        Headers(list(answer.headers.items())),
        Request.from_values(answer.url, method="POST"),
    )


def decoded_replies(
    client: WeChatTestClient, answers: Sequence[requests.Response], context: str
) -> list[Fields]:
    """Every answer decrypted and parsed; each must be a 200 carrying an encrypted reply."""
    replies: list[Fields] = []
    for index, answer in enumerate(answers):
        assert answer.status_code == 200, (
            f"answer {index} was {answer.status_code} {answer.text!r}{context}"
        )
        reply, encrypted = client.decode_reply(as_test_response(answer))
        assert reply is not None, f"answer {index} was {answer.text!r}, not the reply{context}"
        assert encrypted, f"answer {index} to an encrypted request came in plaintext{context}"
        replies.append(reply)
    return replies


# -- across processes ------------------------------------------------------------------


def test_concurrent_retries_of_a_message_run_the_handler_once(
    gunicorn_server: Server, store: redis.Redis, encoder: WeChatTestClient
) -> None:
    message = encoder.message("text", Content="hello 你好 ]]>")
    answers = fire(gunicorn_server, retries_of(encoder, message, RETRIES))
    context = diagnostics(store, gunicorn_server)

    assert runs(store) == {text_label(message["MsgId"]): 1}, context
    replies = decoded_replies(encoder, answers, context)
    expected = text_reply_content(message["Content"], message["MsgId"])
    assert {reply["Content"] for reply in replies} == {expected}, context
    # The retries got the first delivery's reply itself, not a second rendering.
    assert all(reply == replies[0] for reply in replies), context
    assert replies[0]["MsgType"] == "text"
    assert replies[0]["ToUserName"] == message["FromUserName"]
    assert replies[0]["FromUserName"] == message["ToUserName"]


def test_concurrent_retries_of_an_event_run_the_handler_once(
    gunicorn_server: Server, store: redis.Redis, encoder: WeChatTestClient
) -> None:
    event = encoder.event_message("CLICK", EventKey="V1001_GOOD")
    assert "MsgId" not in event  # events are recognised by sender, time, event and key
    answers = fire(gunicorn_server, retries_of(encoder, event, RETRIES))
    context = diagnostics(store, gunicorn_server)

    assert runs(store) == {click_label("V1001_GOOD", event["CreateTime"]): 1}, context
    replies = decoded_replies(encoder, answers, context)
    assert {reply["Content"] for reply in replies} == {click_reply_content("V1001_GOOD")}
    assert all(reply == replies[0] for reply in replies), context


def test_different_messages_each_run_once_and_keep_their_own_reply(
    gunicorn_server: Server, store: redis.Redis, encoder: WeChatTestClient
) -> None:
    messages = [encoder.message("text", Content=f"message {n}") for n in range(6)]
    assert len({message["MsgId"] for message in messages}) == len(messages)
    deliveries: list[tuple[Fields, Encoded]] = [
        (message, delivery) for message in messages for delivery in retries_of(encoder, message, 4)
    ]
    random.Random(20240229).shuffle(deliveries)

    answers = fire(gunicorn_server, [delivery for _, delivery in deliveries])
    context = diagnostics(store, gunicorn_server)

    assert runs(store) == {text_label(message["MsgId"]): 1 for message in messages}, context
    replies = decoded_replies(encoder, answers, context)
    for (message, _), reply in zip(deliveries, replies, strict=True):
        assert reply["Content"] == text_reply_content(message["Content"], message["MsgId"]), context


# -- in process --------------------------------------------------------------------------


def test_a_retry_gets_the_first_reply_and_signals_duplicate_ignored(
    redis_db: str, store: redis.Redis
) -> None:
    app = create_app(redis_db, handler_delay=0)
    app.config["TESTING"] = True
    client = WeChatTestClient(app)
    message = client.message("text", Content="only once")
    ignored: list[Message] = []

    def on_duplicate(sender: Flask, message: Message, **extra: t.Any) -> None:
        assert sender is app
        ignored.append(message)

    with signals.duplicate_ignored.connected_to(on_duplicate, app):
        first = client.send(message)
        assert ignored == []
        # The claim lives in Redis, not in this process.
        recorder_keys = {RUNS_KEY, RUN_PIDS_KEY, SERVED_PIDS_KEY}
        assert set(store.keys()) - recorder_keys, "the cache wrote nothing to Redis"
        retry = client.send(message)

    expected = text_reply_content("only once", message["MsgId"])
    assert first.status_code == 200
    assert first.encrypted
    assert first.content == expected
    assert retry.status_code == 200
    assert retry.encrypted
    assert retry.reply == first.reply
    assert [m.id for m in ignored] == [message["MsgId"]]
    assert runs(store) == {text_label(message["MsgId"]): 1}

    # Another app instance (its own WeChat state and Redis client, as in another
    # process) recognises the retry through Redis alone.
    other = create_app(redis_db, handler_delay=0)
    other.config["TESTING"] = True
    again = WeChatTestClient(other).send(message)
    assert again.reply == first.reply
    assert runs(store) == {text_label(message["MsgId"]): 1}

    # A new MsgId is a new message and runs the handler.
    fresh = client.text("a new one")
    assert fresh.content == text_reply_content("a new one", fresh.sent["MsgId"])
    assert runs(store)[text_label(fresh.sent["MsgId"])] == 1


# -- answers remembered without a round trip of their own ------------------------------------


@pytest.mark.redis
def test_answers_stored_soon_reach_redis_from_the_stores_own_thread(redis_db: str) -> None:
    """``set_soon`` queues the write: the store's thread sends what queued, in one
    pipeline, within milliseconds; nothing else needs to be sent."""
    import redis as redis_py

    from flask_wechat.store import RedisStore

    store = RedisStore.from_url(redis_db)
    other = redis_py.Redis.from_url(redis_db)
    try:
        answer = ["body", "application/xml", 200, []]
        for number in range(20):
            store.set_soon(f"answer:{number}", answer, 60)
        deadline = time.monotonic() + 5
        while other.get("wechat:answer:19") is None and time.monotonic() < deadline:
            time.sleep(0.005)
        for number in range(20):
            assert json.loads(other.get(f"wechat:answer:{number}") or b"null") == answer
        assert 0 < other.pttl("wechat:answer:0") <= 60_000
    finally:
        other.close()
