"""No secret of the platform in any log record, exception or signal payload:
the component secret, tickets, component_access_tokens, pre_auth_codes,
authorization codes, authorizer tokens and refresh tokens."""

from __future__ import annotations

import contextlib
import logging
import time
import typing as t

import pytest

from flask_wechat import signals
from flask_wechat.errors import WeChatError
from flask_wechat.sandbox import Sandbox
from flask_wechat.testing import DEFAULT_USER, WeChatTestClient

from ..hardening.conftest import closed_port
from ..hardening.test_secrets import assert_no_secret, exception_texts, log_texts
from .conftest import AUTHORIZER, Site, connect, make_site

TEST_MP = "wx570bc396a51b8ff8"
SIGNALS = [
    signals.authorizer_authorized,
    signals.authorizer_updated,
    signals.authorizer_unauthorized,
    signals.component_ticket_received,
    signals.access_token_refreshed,
    signals.request_rejected,
    signals.message_received,
    signals.reply_sent,
    signals.handler_failed,
    signals.delivery_failed,
]


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "urllib3.connectionpool", "requests", "flask_wechat"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _secrets(site: Site, sandbox: Sandbox) -> list[str]:
    fake = site.component
    values = [fake.secret, fake.encoding_aes_key, *fake.tickets, *fake.tokens]
    values += [*fake.pre_auth_codes, *fake.auth_codes, *fake.retired_refresh_tokens]
    values += [grant.refresh_token for grant in fake.authorizers.values()]
    values += [token.value for token in sandbox.tokens.values()]
    return [value for value in values if value]


def test_a_whole_life_leaks_nothing(
    site: Site, sandbox: Sandbox, debug_logs: pytest.LogCaptureFixture
) -> None:
    payloads: list[dict[str, t.Any]] = []

    def receiver(sender: object, **payload: t.Any) -> None:
        payloads.append(payload)

    texts: list[str] = []
    with contextlib.ExitStack() as stack:
        for signal in SIGNALS:
            stack.enter_context(signal.connected_to(receiver, site.app))
        connect(site)
        client = site.app.test_client()
        site.component.push_authorized(client, AUTHORIZER, update=True)
        site.wechat.on("text")(lambda message: "hi")
        WeChatTestClient(site.app, AUTHORIZER).text("hello")
        site.app.test_client().post(f"/wechat/component/{AUTHORIZER}", data=b"junk")
        site.component.rotate_refresh_token(AUTHORIZER)
        with site.app.app_context():
            site.wechat.client(AUTHORIZER).refresh_access_token()
        # the release check with an authorization code in a message
        code = site.component.grant(TEST_MP)
        sandbox.user_wrote(DEFAULT_USER, app_id=TEST_MP)
        WeChatTestClient(site.app, TEST_MP).text("QUERY_AUTH_CODE:" + code)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(
            e.get("app_id") == TEST_MP for e in sandbox.sent
        ):
            time.sleep(0.02)
        # used codes and refused tokens end in exceptions
        with site.app.app_context():
            component = site.wechat.component
            assert component is not None
            for call in (
                lambda: component.finish_authorization(code),  # used: 61010
                lambda: component.client("wxneverauthorized00").access_token,
            ):
                with pytest.raises(WeChatError) as raised:
                    call()
                texts += exception_texts(raised.value)
        site.component.push_unauthorized(client, AUTHORIZER)
    texts += [repr(payload) for payload in payloads]
    texts += log_texts(debug_logs)
    values = _secrets(site, sandbox)
    assert len(values) > 10
    # the code of the release check is echoed back to WeChat by design; not elsewhere
    echoed = [text for text in texts if code in text]
    assert echoed == []
    assert_no_secret(values, texts)


def test_an_unreachable_api_leaks_nothing(
    sandbox: Sandbox, debug_logs: pytest.LogCaptureFixture
) -> None:
    down = make_site(sandbox, WECHAT_API_BASE_URL=f"http://127.0.0.1:{closed_port()}")
    down.component.push_ticket(down.app.test_client())
    texts: list[str] = []
    code = "queryauthcode@@@" + "secret-code-value"  # a traceback shows source lines
    with down.app.app_context():
        component = down.wechat.component
        assert component is not None
        for call in (
            lambda: component.access_token,
            lambda: component.finish_authorization(code),
            lambda: component.authorize_url("https://site.example/"),
        ):
            with pytest.raises(WeChatError) as raised:
                call()
            texts += exception_texts(raised.value)
    values = [*_secrets(down, sandbox), code]
    assert_no_secret(values, texts + log_texts(debug_logs))
