"""Secrets never reach logs, exception text, the CLI or signal payloads."""

from __future__ import annotations

import logging
import traceback
import typing as t
from collections.abc import Iterator

import pytest
from flask import Flask

from flask_wechat import Message, WeChat, signals
from flask_wechat.errors import TransportError, WeChatError
from flask_wechat.sandbox import SANDBOX_APP_SECRET, SANDBOX_OPENID, RelayPlatform, Sandbox
from flask_wechat.testing import WeChatTestClient

from ..conftest import AES_KEY, create_app, production
from ..relay.conftest import USER, relay_app
from ..relay.conftest import platform as platform
from ..relay.conftest import relay as relay
from .conftest import Recorder, closed_port

# == secrets never in error text ==========================================================


def _chain(exc: BaseException) -> Iterator[BaseException]:
    stack: list[BaseException | None] = [exc]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend([current.__cause__, current.__context__])


def exception_texts(exc: BaseException) -> list[str]:
    """Everything an exception could show: each chained exception's text, args
    and traceback (suppressed contexts included)."""
    texts = []
    for link in _chain(exc):
        texts += [str(link), repr(link), repr(link.args)]
        texts.append("".join(traceback.format_exception(type(link), link, link.__traceback__)))
    return texts


def log_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return [formatter.format(record) for record in caplog.records]


def assert_no_secret(secret_values: t.Iterable[str], texts: t.Iterable[str]) -> None:
    joined = "\n".join(texts)
    for value in secret_values:
        assert value not in joined, f"a secret ({value[:3]}…) leaked"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "urllib3.connectionpool", "requests", "flask_wechat"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


APP_SECRET = "Hardening-AppSecret-0123456789abcdef"
RELAY_TOKEN = "hardening-relay-token-f00d"
OAUTH_CODE = "061hardeningOAuthCode000000000x"


def unreachable_app(**config: t.Any) -> tuple[Flask, WeChat]:
    app, wechat = create_app(
        WECHAT_APP_SECRET=APP_SECRET,
        WECHAT_ENCODING_AES_KEY=AES_KEY,
        WECHAT_API_BASE_URL=f"http://127.0.0.1:{closed_port()}",
        WECHAT_OAUTH_URL="/wechat/oauth",
        SECRET_KEY="hardening-session-key",
        **config,
    )
    return production(app), wechat


def test_unreachable_api_errors_carry_no_secret(debug_logs: pytest.LogCaptureFixture) -> None:
    app, wechat = unreachable_app()
    secret_values = [APP_SECRET, AES_KEY, OAUTH_CODE]
    texts: list[str] = []
    with app.app_context():
        client = wechat.client()
        calls: list[t.Callable[[], object]] = [
            lambda: client.access_token,
            client.refresh_access_token,
            client.ticket,
            lambda: client.oauth.exchange_code(OAUTH_CODE),
            lambda: client.miniprogram.code_to_session(OAUTH_CODE),
            lambda: client.media.download("media-id-1"),
        ]
        for call in calls:
            with pytest.raises(WeChatError) as info:
                call()
            texts += exception_texts(info.value)
    assert any("did not answer" in text for text in texts)
    assert_no_secret(secret_values, texts + log_texts(debug_logs))


def test_a_cached_access_token_never_shows_when_the_api_goes_away(
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    with Sandbox() as sandbox:
        app, wechat = create_app(**sandbox.flask_config("mp"))
        with app.app_context():
            client = wechat.client()
            token = client.access_token
            ticket = client.ticket()
    texts: list[str] = []
    with app.app_context():
        for call in (lambda: client.users.get(SANDBOX_OPENID), lambda: client.media.download("m")):
            with pytest.raises(TransportError) as info:
                call()
            texts += exception_texts(info.value)
    assert_no_secret([token, ticket, SANDBOX_APP_SECRET], texts + log_texts(debug_logs))


def test_handler_failure_signal_carries_no_secret(debug_logs: pytest.LogCaptureFixture) -> None:
    app, wechat = unreachable_app()
    failed = Recorder()
    signals.handler_failed.connect(failed, app, weak=False)

    @wechat.on("text")
    def look_up(message: Message) -> str:
        wechat.client().users.get(message.source or "")
        return "never"

    try:
        result = WeChatTestClient(app).text("who am I")
    finally:
        signals.handler_failed.disconnect(failed, app)
    assert result.status_code == 200
    [call] = failed.calls
    texts = [*exception_texts(call["exception"]), repr(call)]
    assert_no_secret([APP_SECRET, AES_KEY], texts + log_texts(debug_logs))


def test_oauth_error_signal_carries_no_code_or_secret(
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    app, _wechat = unreachable_app()
    errors = Recorder()
    signals.oauth_error.connect(errors, app, weak=False)
    browser = app.test_client()
    try:
        start = browser.get("/wechat/oauth/login?next=/home")
        assert start.status_code == 302
        with browser.session_transaction() as session:
            state = next(v for v in session.values() if isinstance(v, dict))["state"]
        answer = browser.get(f"/wechat/oauth/authorized?code={OAUTH_CODE}&state={state}")
    finally:
        signals.oauth_error.disconnect(errors, app)
    assert answer.status_code == 400
    assert OAUTH_CODE not in answer.get_data(as_text=True)
    [call] = errors.calls
    texts = [repr(call)] + (exception_texts(call["error"]) if call["error"] else [])
    assert_no_secret([APP_SECRET, OAUTH_CODE], texts + log_texts(debug_logs))


def test_cli_token_answers_an_unreachable_api_in_one_line() -> None:
    app, _ = unreachable_app()
    runner = app.test_cli_runner()
    for args in (["wechat", "token"], ["wechat", "token", "--refresh"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1
        output = result.output.strip()
        assert len(output.splitlines()) == 1, output
        assert output.startswith("Error: ")
        assert "Traceback" not in output
        assert APP_SECRET not in output
        assert AES_KEY not in output


def test_relay_delivery_failure_carries_no_token(
    sandbox: Sandbox, debug_logs: pytest.LogCaptureFixture
) -> None:
    app, _wechat = relay_app(
        sandbox,
        t.cast(RelayPlatform, _ClosedPlatform()),
        WECHAT_RELAY_TOKEN=RELAY_TOKEN,
        WECHAT_APP_SECRET=APP_SECRET,
    )
    failed = Recorder()
    signals.delivery_failed.connect(failed, app, weak=False)
    try:
        assert WeChatTestClient(app, user=USER).text("anyone there?").status_code == 200
    finally:
        signals.delivery_failed.disconnect(failed, app)
    [call] = failed.calls
    assert isinstance(call["exception"], TransportError)
    texts = [*exception_texts(call["exception"]), repr(call)]
    assert_no_secret([RELAY_TOKEN, APP_SECRET], texts + log_texts(debug_logs))


class _ClosedPlatform:
    """Where a relay platform would be, with nothing listening."""

    def __init__(self) -> None:
        self.receive_url = f"http://127.0.0.1:{closed_port()}/Icallback"
