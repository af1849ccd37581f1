"""The public testing helpers, including the pytest plugin's ``wechat_client`` fixture."""

from __future__ import annotations

import pytest
from flask import Flask

from flask_wechat import Message, TextReply, WeChat, signals
from flask_wechat.crypto import MessageCrypto, sign
from flask_wechat.parsing import parse_xml
from flask_wechat.sandbox import Sandbox
from flask_wechat.testing import Recorder, WeChatTestClient, recording

from .conftest import AES_KEY, APP_ID, TOKEN, create_app


@pytest.fixture
def app() -> Flask:
    """The ``app`` fixture the plugin's ``wechat_client`` builds on."""
    app, wechat = create_app(WECHAT_ENCODING_AES_KEY=AES_KEY)

    @wechat.on("text")
    def echo(message: Message) -> TextReply:
        return TextReply(message.content or "")

    return app


def test_plugin_fixture_plays_wechat_in_safe_mode(wechat_client: WeChatTestClient) -> None:
    result = wechat_client.text("ping")
    assert result.status_code == 200
    assert result.encrypted
    assert result.content == "ping"
    assert result.msg_type == "text"


def test_safe_mode_request_is_what_wechat_sends(app: Flask) -> None:
    client = WeChatTestClient(app, mode="safe")
    body, query = client.encode(client.message("text", Content="hi"), timestamp=1700000000)
    envelope = parse_xml(body)
    assert set(envelope) == {"ToUserName", "Encrypt"}
    assert query["encrypt_type"] == "aes"
    assert query["signature"] == sign(TOKEN, "1700000000", query["nonce"])
    assert query["msg_signature"] == sign(TOKEN, "1700000000", query["nonce"], envelope["Encrypt"])
    inner = MessageCrypto(TOKEN, AES_KEY, APP_ID).decrypt_raw(envelope["Encrypt"])
    assert parse_xml(inner)["Content"] == "hi"


def test_compatible_mode_carries_both_copies(app: Flask) -> None:
    client = WeChatTestClient(app, mode="compatible")
    body, _query = client.encode(client.message("text", Content="both"))
    envelope = parse_xml(body)
    assert envelope["Content"] == "both"
    assert "Encrypt" in envelope


def test_plain_mode_has_no_encryption(app: Flask) -> None:
    client = WeChatTestClient(app, mode="plain")
    body, query = client.encode(client.message("text", Content="plain"))
    assert "msg_signature" not in query
    assert parse_xml(body)["Content"] == "plain"
    assert client.text("plain").encrypted is False


def test_success_answer_has_no_reply(app: Flask) -> None:
    result = WeChatTestClient(app).event("VIEW", EventKey="https://example.com")
    assert result.is_success
    assert result.reply is None
    assert result.text == "success"


def test_verify_url_echoes(app: Flask) -> None:
    response = WeChatTestClient(app).verify_url("abc123")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "abc123"


def test_modes_needing_a_key_are_refused_without_one() -> None:
    app, _wechat = create_app()
    with pytest.raises(ValueError, match="EncodingAESKey"):
        WeChatTestClient(app, mode="safe")
    with pytest.raises(ValueError, match="mode"):
        WeChatTestClient(app, mode="loud")
    assert WeChatTestClient(app).mode == "plain"


def test_default_mode_follows_the_account(app: Flask) -> None:
    assert WeChatTestClient(app).mode == "safe"


def test_unknown_app_without_extension_fails_clearly() -> None:
    bare = Flask("bare")
    with pytest.raises(KeyError):
        WeChatTestClient(bare)
    wechat = WeChat()
    with bare.app_context(), pytest.raises(RuntimeError, match="init_app"):
        wechat.state()


def test_recording_keeps_sender_and_payload_for_the_block_only() -> None:
    app, _wechat = create_app()
    other, _ = create_app()
    with recording(signals.request_rejected, app) as rejected:
        signals.request_rejected.send(app, reason="bad signature")
        signals.request_rejected.send(other, reason="someone else's")
    signals.request_rejected.send(app, reason="after the block")
    assert rejected.calls == [{"sender": app, "reason": "bad signature"}]


def test_a_recorder_notes_what_on_call_observed() -> None:
    app, _wechat = create_app()
    seen = iter(range(10))
    with recording(signals.message_received, recorder=Recorder(lambda: next(seen))) as got:
        signals.message_received.send(app, message="first")
        signals.message_received.send(app, message="second")
    assert [call["observed"] for call in got.calls] == [0, 1]
    assert [str(message) for message in got.messages] == ["first", "second"]


def test_the_plugin_s_sandbox_is_running_and_clean(sandbox: Sandbox) -> None:
    assert sandbox.token_requests == 0
    assert sandbox.flask_config("mp")["WECHAT_API_BASE_URL"].startswith("http://127.0.0.1:")
