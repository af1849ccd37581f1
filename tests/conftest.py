"""Shared fixtures: an app factory and a real redis-server on loopback.

The sandbox fixtures (``sandbox``, ``wechat_sandbox``) come from flask_wechat's own
pytest plugin, which the installed package registers.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import typing as t
from collections.abc import Iterator

import pytest
import redis
from flask import Flask

from flask_wechat import WeChat
from flask_wechat.testing import WeChatTestClient

TOKEN = "test-token"
APP_ID = "wx1234567890abcdef"
APP_SECRET = "test-secret"
# 43 characters, as WeChat's admin console generates them.
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

AppFactory = t.Callable[..., tuple[Flask, WeChat]]


def create_app(**config: t.Any) -> tuple[Flask, WeChat]:
    """A Flask app with flask_wechat for the default test account, plus ``config``."""
    app = Flask("test_app")
    app.config.update(
        TESTING=True,
        WECHAT_TOKEN=TOKEN,
        WECHAT_APP_ID=APP_ID,
        WECHAT_APP_SECRET=APP_SECRET,
    )
    app.config.update(config)
    wechat = WeChat(app)
    return app, wechat


def production(app: Flask) -> Flask:
    """``app`` as in production: not testing, so that a handler's exception is
    logged and answered with ``success`` instead of propagating."""
    app.testing = False
    app.config.pop("PROPAGATE_EXCEPTIONS", None)
    return app


@pytest.fixture
def make_app() -> AppFactory:
    """``make_app(**config) -> (app, wechat)``."""
    return create_app


@pytest.fixture
def plain_app() -> tuple[Flask, WeChat]:
    """An Official Account in plaintext mode (no EncodingAESKey)."""
    return create_app()


@pytest.fixture
def aes_app() -> tuple[Flask, WeChat]:
    """An Official Account with an EncodingAESKey (compatible/safe mode)."""
    return create_app(WECHAT_ENCODING_AES_KEY=AES_KEY)


@pytest.fixture(params=["plain", "compatible", "safe"])
def mode(request: pytest.FixtureRequest) -> str:
    """Each of the three Official Account message modes."""
    return t.cast(str, request.param)


@pytest.fixture
def mode_client(mode: str) -> tuple[WeChat, WeChatTestClient]:
    """An app and a test client for each message mode in turn."""
    app, wechat = create_app(WECHAT_ENCODING_AES_KEY=None if mode == "plain" else AES_KEY)
    return wechat, WeChatTestClient(app, mode=mode)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server on loopback for this test session."""
    binary = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")
    if binary is None:
        pytest.fail("redis-server is not installed; `make test` installs it")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("redis-server did not start")
                time.sleep(0.05)
        yield url
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def redis_db(redis_url: str) -> Iterator[str]:
    """``redis_url``, flushed before and after the test."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield redis_url
    client.flushdb()
    client.close()


# The fake WeChat API: `sandbox` / `wechat_sandbox` come from flask_wechat's pytest plugin.
