"""The 7moor customer-service relay, end to end over real HTTP on loopback.

Three servers take part: the fake WeChat API (:class:`Sandbox`), the fake
platform (:class:`RelayPlatform`) and the app itself, served by werkzeug so that
the platform reaches its relay callback and media proxy exactly as 7moor would.
Tasks run inline (``InlineRunner``), so every forward and delivery has happened
by the time the request that caused it is answered."""

from __future__ import annotations

import dataclasses
import threading
import typing as t
from collections.abc import Iterator

import pytest
from blinker import Signal
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from flask_wechat import WeChat, signals
from flask_wechat.sandbox import RelayPlatform, Sandbox
from flask_wechat.tasks import InlineRunner
from flask_wechat.testing import Recorder, WeChatTestClient

TOKEN = "relay-callback-token"
RELAY_TOKEN = "c2aed800324911e8"
USER = "oRelayUser00000000000000001"
AMR = b"#!AMR\n" + bytes(range(256)) * 8


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: t.Any) -> None:
        return


@dataclasses.dataclass
class Relay:
    """One test's world: the app (served on loopback), its WeChat test client,
    the fake WeChat API, the fake platform and recorders of the relay signals."""

    app: Flask
    wechat: WeChat
    client: WeChatTestClient
    base_url: str
    sandbox: Sandbox
    platform: RelayPlatform
    received: Recorder
    finished: Recorder
    forwarded: Recorder
    failed: Recorder
    rejected: Recorder

    @property
    def callback_url(self) -> str:
        """The relay callback as the platform reaches it."""
        return self.base_url + "/wechat/relay"

    def upload(self, media_type: str, data: bytes, filename: str) -> str:
        """Put media on the fake WeChat; its media_id."""
        with self.app.app_context():
            answer = self.wechat.client().media.upload(media_type, data, filename)
        return str(answer["media_id"])


@pytest.fixture
def platform() -> Iterator[RelayPlatform]:
    with RelayPlatform(RELAY_TOKEN) as fake:
        yield fake


def relay_app(sandbox: Sandbox, platform: RelayPlatform, **config: t.Any) -> tuple[Flask, WeChat]:
    sandbox.user_wrote(USER)  # the user whose messages are relayed wrote to the account
    app = Flask("relay_test")
    app.config.update(
        TESTING=True,
        **sandbox.flask_config("mp"),
        WECHAT_TOKEN=TOKEN,
        WECHAT_RELAY_URL=platform.receive_url,
        WECHAT_RELAY_TOKEN=RELAY_TOKEN,
    )
    app.config.update(config)
    return app, WeChat(app, task_runner=InlineRunner(attempts=3, backoff=0.01))


@pytest.fixture
def relay(sandbox: Sandbox, platform: RelayPlatform) -> Iterator[Relay]:
    app, wechat = relay_app(sandbox, platform)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    # Requests of the test client and URLs built by url_for then name the live server.
    app.config["SERVER_NAME"] = f"127.0.0.1:{server.port}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    recorders = {
        signal: Recorder()
        for signal in (
            signals.relay_message_received,
            signals.relay_session_finished,
            signals.relay_forwarded,
            signals.delivery_failed,
            signals.request_rejected,
        )
    }
    for signal, recorder in recorders.items():
        signal.connect(recorder, app, weak=False)
    try:
        yield Relay(
            app=app,
            wechat=wechat,
            client=WeChatTestClient(app, user=USER),
            base_url=f"http://127.0.0.1:{server.port}",
            sandbox=sandbox,
            platform=platform,
            received=recorders[signals.relay_message_received],
            finished=recorders[signals.relay_session_finished],
            forwarded=recorders[signals.relay_forwarded],
            failed=recorders[signals.delivery_failed],
            rejected=recorders[signals.request_rejected],
        )
    finally:
        for signal, recorder in recorders.items():
            t.cast(Signal, signal).disconnect(recorder, app)
        server.shutdown()
        thread.join()
        server.server_close()


# == user → platform ==================================================================
