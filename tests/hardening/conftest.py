"""Shared pieces of the hardening tests: apps, recorders, a closed port."""

from __future__ import annotations

import socket
import typing as t
from collections.abc import Iterator

import pytest
from flask import Flask

from flask_wechat import Message, WeChat, signals
from flask_wechat.sandbox import Sandbox

from ..relay.conftest import platform as platform
from ..relay.conftest import relay as relay

Fields = dict[str, t.Any]

WORK_TOKEN = "hardening-wecom-token"
WORK_AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkj"


class Recorder:
    """Remembers every send of a signal (payload only)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, t.Any]] = []

    def __call__(self, sender: object, **payload: t.Any) -> None:
        self.calls.append(payload)


@pytest.fixture
def rejected() -> Iterator[Recorder]:
    recorder = Recorder()
    signals.request_rejected.connect(recorder, weak=False)
    try:
        yield recorder
    finally:
        signals.request_rejected.disconnect(recorder)


def counting(wechat: WeChat, *names: str) -> list[Message]:
    """Handlers for ``names`` that record every message they get."""
    seen: list[Message] = []

    @wechat.on(*names)
    def record(message: Message) -> None:
        seen.append(message)

    return seen


def work_app(sandbox: Sandbox, **config: t.Any) -> tuple[Flask, WeChat]:
    app = Flask("hardening_wecom")
    app.config.update(sandbox.flask_config("work"))
    app.config.update(
        TESTING=True,
        WECHAT_TOKEN=WORK_TOKEN,
        WECHAT_ENCODING_AES_KEY=WORK_AES_KEY,
        WECHAT_AGENT_ID=1000002,
    )
    app.config.update(config)
    return app, WeChat(app)


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
