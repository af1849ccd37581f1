"""Hostile input answers 4xx, never 5xx."""

from __future__ import annotations

import json
import time

import pytest
from flask import Flask

from flask_wechat import WeChat
from flask_wechat.crypto import make_nonce, sign
from flask_wechat.sandbox import SANDBOX_OPENID, Sandbox
from flask_wechat.testing import WeChatTestClient

from ..conftest import AES_KEY, create_app
from ..relay.conftest import USER, Relay
from ..relay.conftest import platform as platform
from ..relay.conftest import relay as relay
from .conftest import Recorder, counting

# == no 5xx ===============================================================================


def _mini_app(sandbox: Sandbox, fmt: str, mode: str) -> tuple[Flask, WeChat]:
    app = Flask("hardening_mini")
    app.config.update(sandbox.flask_config("miniprogram"))
    app.config.update(
        TESTING=True,
        WECHAT_TOKEN="mini-hardening",
        WECHAT_ENCODING_AES_KEY=None if mode == "plain" else AES_KEY,
        WECHAT_FORMAT=fmt,
    )
    return app, WeChat(app)


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
def test_a_lone_surrogate_in_signed_json_answers_400(
    sandbox: Sandbox, mode: str, rejected: Recorder
) -> None:
    app, wechat = _mini_app(sandbox, "json", mode)
    seen = counting(wechat, "text")
    client = WeChatTestClient(app, mode=mode)
    fields = client.message("text", Content="u\ud800")
    raw = json.dumps(fields).encode()  # ASCII JSON spelling the surrogate as \ud800
    body, query = client.encode(fields, body=raw)
    response = client.post(body, query)
    assert response.status_code == 400
    assert seen == []
    assert rejected.calls
    assert rejected.calls[-1]["reason"]


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><MsgType>text</MsgType><Content>&#xD800;</Content></xml>",
        b"<xml><MsgType>text</MsgType><Content>\xed\xa0\x80</Content></xml>",
        b"<xml><MsgType>text</MsgType><Content>\xed\xa0\x80\x01</Content></xml>",
    ],
)
def test_surrogates_in_signed_xml_answer_400(body: bytes, rejected: Recorder) -> None:
    app, wechat = create_app()
    seen = counting(wechat, "text")
    client = WeChatTestClient(app)
    ts, nonce = str(int(time.time())), make_nonce(10)
    query = {"signature": sign("test-token", ts, nonce), "timestamp": ts, "nonce": nonce}
    assert client.post(body, query).status_code == 400
    assert seen == []
    assert len(rejected.calls) == 1


def test_surrogates_in_an_encrypted_body_answer_400(rejected: Recorder) -> None:
    app, wechat = create_app(WECHAT_ENCODING_AES_KEY=AES_KEY)
    seen = counting(wechat, "text")
    client = WeChatTestClient(app, mode="safe")
    fields = client.message("text", Content="x")
    raw = b"<xml><MsgType>text</MsgType><Content>\xed\xa0\x80</Content></xml>"
    body, query = client.encode(fields, body=raw)
    assert client.post(body, query).status_code == 400
    assert seen == []


def test_a_lone_surrogate_in_a_relay_message_answers_400(relay: Relay) -> None:
    body = relay.platform.signed(USER, "text", "x")
    raw = json.dumps(body).replace('"x"', '"u\\ud800"').encode()
    response = relay.platform.post(relay.callback_url, raw)
    assert 400 <= response.status_code < 500
    assert relay.sandbox.sent == []


HOSTILE_NEXT = [
    "/a\r\nSet-Cookie: evil=1",
    "/a\nLocation: https://evil.example",
    "/\t/evil.example",
    "/ /evil.example",
    "//evil.example",
    "/\\evil.example",
    "https://evil.example/",
    "/\x00",
    "/\x85x",
    "/" + "a" * 5000,
    "\ud800",
    "/\ud800",
]


def oauth_app(sandbox: Sandbox, name: str) -> Flask:
    """An API-only app with the OAuth views, on the sandbox."""
    app = Flask(name)
    app.config.update(
        TESTING=True,
        SECRET_KEY="oauth-hardening",
        WECHAT_CALLBACK_URL=None,
        WECHAT_OAUTH_URL="/wechat/oauth",
    )
    app.config.update(sandbox.flask_config("mp"))
    WeChat(app)
    return app


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_hostile_next_values_redirect_safely(sandbox: Sandbox, target: str) -> None:
    app = oauth_app(sandbox, "hardening_oauth")
    browser = app.test_client()
    # The next value as /login saw it ...
    encodable = target.encode("utf-8", "replace").decode("utf-8")  # what a query can carry
    start = browser.get("/wechat/oauth/login", query_string={"next": encodable})
    assert start.status_code == 302
    with browser.session_transaction() as session:
        key, pending = next((k, v) for k, v in session.items() if isinstance(v, dict))
        assert pending["next"] in ("/", "/?")  # "/\ud800" arrives as "/?", a plain path
        # ... and as a session written by an older release might hold it.
        pending["next"] = target
        session[key] = pending
    code = sandbox.oauth_code(SANDBOX_OPENID)
    answer = browser.get(
        "/wechat/oauth/authorized", query_string={"code": code, "state": pending["state"]}
    )
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/"


def test_a_plain_next_path_is_kept(sandbox: Sandbox) -> None:
    app = oauth_app(sandbox, "hardening_oauth_ok")
    browser = app.test_client()
    browser.get("/wechat/oauth/login", query_string={"next": "/orders/7?tab=新"})
    with browser.session_transaction() as session:
        pending = next(v for v in session.values() if isinstance(v, dict))
    code = sandbox.oauth_code(SANDBOX_OPENID)
    answer = browser.get(
        "/wechat/oauth/authorized", query_string={"code": code, "state": pending["state"]}
    )
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/orders/7?tab=")
