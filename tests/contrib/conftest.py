"""Real queue workers for the contrib tests: subprocesses of the venv's own
``rq`` / ``celery`` commands, on the session's redis-server, importing the site
from ``tests/contrib/queue_app.py``."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import typing as t
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask

from flask_wechat.contrib import _apps
from flask_wechat.sandbox import SANDBOX_APP_SECRET, RelayPlatform, Sandbox

from .queue_app import (
    AES_KEY,
    API_ENV,
    IMAGE_ENV,
    QUEUE_ENV,
    REDIS_ENV,
    RELAY_ENV,
    RELAY_TOKEN,
    RUNNER_ENV,
    TOKEN,
)

PROJECT_DIR = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WAIT = 20.0
#: a small image to upload (the sandbox checks type and size, not pixels).
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
#: the upload a "picture" task makes before it sends; slowed down to kill a worker
#: during it (uploading twice is harmless, sending twice is not).
UPLOAD = "/cgi-bin/media/upload"


def wait_for(
    what: str, check: Callable[[], t.Any], timeout: float = WAIT, log: Path | None = None
) -> t.Any:
    """Poll ``check`` until it returns something true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log is not None else ""
            pytest.fail(f"timed out waiting for {what}\n{tail}")
        time.sleep(0.05)


def uploads(site: Site) -> int:
    """How many media uploads reached the sandbox."""
    return sum(call.path == UPLOAD for call in site.sandbox.calls)


def _descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


class Worker:
    """One worker subprocess (its own process group, so SIGKILL takes all of it)."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.command = command
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command,
                cwd=PROJECT_DIR,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def kill(self) -> None:
        """SIGKILL the worker and every process it started (RQ's work horse runs
        in a session of its own, so the process group is not enough)."""
        if self.process is not None and self.process.poll() is None:
            for pid in _descendants(self.process.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


class Site(t.NamedTuple):
    """The web side (an app in this process) and how to start its workers."""

    app: Flask
    env: dict[str, str]
    queue: str
    redis: redis.Redis
    sandbox: Sandbox
    relay: RelayPlatform
    worker: Callable[..., Worker]


@pytest.fixture(scope="module")
def relay_platform() -> Iterator[RelayPlatform]:
    with RelayPlatform(RELAY_TOKEN) as platform:
        yield platform


@contextlib.contextmanager
def make_site(
    runner: str,
    command: Callable[[str], list[str]],
    redis_url: str,
    sandbox: Sandbox,
    relay: RelayPlatform,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    api_url: str | None = None,
) -> Iterator[Site]:
    queue = f"wechat-{runner}-{secrets.token_hex(4)}"
    image = tmp_path / "picture.png"
    image.write_bytes(PNG)
    env = {
        REDIS_ENV: redis_url,
        API_ENV: api_url or sandbox.url,
        RELAY_ENV: relay.receive_url,
        RUNNER_ENV: runner,
        QUEUE_ENV: queue,
        IMAGE_ENV: str(image),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    full_env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}
    workers: list[Worker] = []

    def worker() -> Worker:
        started = Worker(command(queue), full_env, tmp_path / f"{runner}-worker.log").start()
        workers.append(started)
        return started

    from .queue_app import create_app

    relay.reset()
    client = redis.Redis.from_url(redis_url)
    try:
        yield Site(create_app(), env, queue, client, sandbox, relay, worker)
    finally:
        for started in workers:
            started.stop()
        client.close()
        _apps.clear()


def assert_no_secret(raw: bytes) -> None:
    """What sits in a queue carries no AppSecret, callback Token, AES key, relay
    token or access_token."""
    for secret in (SANDBOX_APP_SECRET, TOKEN, AES_KEY, RELAY_TOKEN, "access_token"):
        assert secret.encode() not in raw
