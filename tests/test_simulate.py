"""``flask wechat simulate``: one message as WeChat would send it, the answer shown."""

from __future__ import annotations

import threading
import typing as t
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server

from flask_wechat import Message, TextReply, WeChat
from flask_wechat.sandbox import Sandbox

from .conftest import AES_KEY, APP_SECRET, TOKEN


def simulated_app(**config: t.Any) -> Flask:
    app = Flask("simulated")
    app.config.update(
        WECHAT_TOKEN=TOKEN,
        WECHAT_APP_ID="wx1234567890abcdef",
        WECHAT_APP_SECRET=APP_SECRET,
        WECHAT_ENCODING_AES_KEY=AES_KEY,
        WECHAT_API_BASE_URL="http://127.0.0.1:9",  # nothing listens: --sandbox must replace it
    )
    app.config.update(config)
    wechat = WeChat(app)

    @wechat.on("text")
    def echo(message: Message) -> TextReply:
        return TextReply(f"{message.source}: {message.content}")

    @wechat.on("subscribe")
    def welcome(message: Message) -> str:
        return f"welcome from {message.qr_scene}"

    @wechat.on("image")
    def image(message: Message) -> str:
        return f"image {message.media_id} {message.field('extra_thing')}"

    @wechat.on("click")
    def later(message: Message) -> None:
        wechat.client().customer_service.send_text(message.source or "", "sent through the API")

    return app


def run(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["wechat", "simulate", *args])
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output
    assert AES_KEY not in result.output
    assert APP_SECRET not in result.output
    return result.output


def test_text_in_safe_mode_prints_the_decrypted_reply() -> None:
    output = run(simulated_app(), "text", "hello")
    assert "HTTP 200" in output
    assert "reply (decrypted):" in output
    assert "Content: oTestUser0000000000000000000: hello" in output


def test_event_with_a_key_user_and_plain_mode() -> None:
    output = run(
        simulated_app(),
        "event",
        "subscribe",
        "--key",
        "qrscene_1",
        "--user",
        "oU",
        "--mode",
        "plain",
    )
    assert "reply:\n" in output
    assert "Content: welcome from 1" in output
    assert "ToUserName: oU" in output


def test_image_with_media_id_and_extra_fields() -> None:
    output = run(
        simulated_app(),
        "image",
        "--media-id",
        "M1",
        "--field",
        "ExtraThing=x",
        "--mode",
        "compatible",
    )
    assert "Content: image M1 x" in output


def test_an_unhandled_message_prints_success() -> None:
    output = run(simulated_app(), "voice", "--media-id", "V")
    assert "answer: success" in output


def test_sandbox_shows_what_was_sent_through_the_api() -> None:
    output = run(simulated_app(), "event", "CLICK", "--key", "V1", "--sandbox")
    assert "answer: success" in output
    assert "sent through the API (1):" in output
    assert "sent through the API" in output.split("(1):")[1]
    assert '"touser": "oTestUser0000000000000000000"' in output


def test_named_account_and_bad_field() -> None:
    app = simulated_app(
        WECHAT_TOKEN=None,
        WECHAT_APP_ID=None,
        WECHAT_APP_SECRET=None,
        WECHAT_ENCODING_AES_KEY=None,
        WECHAT_API_BASE_URL=None,
        WECHAT_ACCOUNTS={"shop": {"token": TOKEN, "app_id": "wxshop"}},
    )
    assert "Content: oTestUser0000000000000000000: hi" in run(
        app, "text", "hi", "--account", "shop"
    )
    bad = app.test_cli_runner().invoke(args=["wechat", "simulate", "text", "--field", "nothing"])
    assert bad.exit_code != 0
    assert "Name=value" in bad.output
    missing = app.test_cli_runner().invoke(args=["wechat", "simulate", "text", "-a", "nope"])
    assert missing.exit_code != 0
    assert "nope" in missing.output


@pytest.fixture
def served() -> Iterator[tuple[Flask, str]]:
    with Sandbox() as sandbox:
        app = simulated_app(**sandbox.flask_config("mp"))
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        try:
            yield app, f"http://127.0.0.1:{server.port}/wechat"
        finally:
            server.shutdown()
            thread.join()


def test_over_real_http_to_a_running_site(served: tuple[Flask, str]) -> None:
    app, url = served
    output = run(app, "text", "over the wire", "--url", url)
    assert "HTTP 200" in output
    assert "Content: oTestUser0000000000000000000: over the wire" in output
    refused = app.test_cli_runner().invoke(
        args=["wechat", "simulate", "text", "x", "--url", url.replace("/wechat", "/nowhere")]
    )
    assert refused.exit_code == 1
    assert "HTTP 404" in refused.output


def test_url_refusing_the_signature_exits_non_zero_with_the_reason(
    served: tuple[Flask, str],
) -> None:
    """A site with another Token answers 403: the run fails and says why."""
    _app, url = served
    with Sandbox() as other_sandbox:
        other = simulated_app(**other_sandbox.flask_config("mp"), WECHAT_TOKEN="another-token")
        result = other.test_cli_runner().invoke(
            args=["wechat", "simulate", "text", "x", "--url", url]
        )
    assert result.exit_code == 1, result.output
    assert "HTTP 403" in result.output
    assert "Error: the site refused the message: HTTP 403: " in result.output
    assert "signature" in result.output.lower()
