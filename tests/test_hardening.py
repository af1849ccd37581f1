"""Every real message, no forged one: the callback's security rules, played
against real apps (and, for the relay, real HTTP on loopback).

* the replay guard: a captured safe-mode signature cannot carry a plaintext
  forgery; an identical replay stays a duplicate after ``WECHAT_DEDUP_TTL``;
* dedup: different WeCom ``sys`` events and TEMPLATESENDJOBFINISH pairs all run,
  WeChat's identical retries run once, messages without a sender dispatch;
* attackers cannot grow memory with made-up event names;
* secrets never reach logs, exception text, the CLI or signal payloads;
* agent media is fetched only from allowed, public hosts (SSRF);
* hostile input answers 4xx, never 5xx.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import time
import traceback
import typing as t
from collections.abc import Iterator

import pytest
import requests
from flask import Flask

from flask_wechat import Message, WeChat, signals
from flask_wechat.crypto import make_nonce, sign
from flask_wechat.errors import PermanentFailure, TransportError, WeChatError
from flask_wechat.relay import fetch_media, media_hosts
from flask_wechat.sandbox import SANDBOX_APP_SECRET, SANDBOX_OPENID, RelayPlatform, Sandbox
from flask_wechat.testing import WeChatTestClient

from .conftest import AES_KEY, create_app, production
from .relay.conftest import USER, Relay, relay_app
from .relay.conftest import platform as platform
from .relay.conftest import relay as relay
from .relay.test_agent_messages import JPEG

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


# == the replay guard ===================================================================


def test_a_captured_safe_mode_signature_cannot_carry_a_plaintext_body(
    rejected: Recorder,
) -> None:
    app, wechat = create_app(WECHAT_ENCODING_AES_KEY=AES_KEY)
    seen = counting(wechat, "text")
    safe = WeChatTestClient(app, mode="safe")
    body, query = safe.encode(safe.message("text", Content="genuine"))
    assert safe.post(body, query).status_code == 200
    assert [m.content for m in seen] == ["genuine"]

    # The attacker keeps signature/timestamp/nonce and posts plaintext of their own.
    forged = WeChatTestClient(app, mode="plain").message("text", Content="forged")
    from flask_wechat.parsing import to_xml

    plain_query = {k: query[k] for k in ("signature", "timestamp", "nonce", "openid")}
    response = safe.post(to_xml(forged).encode(), plain_query)

    assert response.status_code == 403
    assert response.get_data(as_text=True) == "replayed request"
    assert [c["reason"] for c in rejected.calls] == ["replayed request"]
    assert [m.content for m in seen] == ["genuine"]

    # Genuine plaintext and compatible-mode traffic of the same account still flow.
    assert WeChatTestClient(app, mode="plain").text("plain one").status_code == 200
    assert WeChatTestClient(app, mode="compatible").text("compatible one").status_code == 200
    assert [m.content for m in seen] == ["genuine", "plain one", "compatible one"]


def test_the_same_signature_in_another_encrypted_mode_is_refused(rejected: Recorder) -> None:
    app, wechat = create_app(WECHAT_ENCODING_AES_KEY=AES_KEY)
    seen = counting(wechat, "text")
    safe = WeChatTestClient(app, mode="safe")
    message = safe.message("text", Content="once")
    ts, nonce = int(time.time()), make_nonce(10)
    safe.send(message, timestamp=ts, nonce=nonce)
    plain = WeChatTestClient(app, mode="plain")
    other = dict(message, Content="twice")
    result = plain.send(other, timestamp=ts, nonce=nonce)
    assert result.status_code == 403
    assert [m.content for m in seen] == ["once"]


def _wait_until(condition: t.Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.02)


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
def test_an_identical_replay_after_the_dedup_ttl_is_still_a_duplicate(mode: str) -> None:
    app, wechat = create_app(
        WECHAT_ENCODING_AES_KEY=None if mode == "plain" else AES_KEY, WECHAT_DEDUP_TTL=1
    )
    seen = counting(wechat, "text")
    client = WeChatTestClient(app, mode=mode)
    message = client.message("text", Content="pay once")
    body, query = client.encode(message)
    assert client.post(body, query).status_code == 200
    state = app.extensions["wechat"]
    key = state.dedup.key("default", f"m{message['MsgId']}")
    _wait_until(lambda: state.store.get(key) is None)  # the dedup record has expired

    replay = client.post(body, query)

    assert replay.status_code == 200
    assert len(seen) == 1


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
def test_wechat_retries_run_once(mode: str) -> None:
    app, wechat = create_app(WECHAT_ENCODING_AES_KEY=None if mode == "plain" else AES_KEY)
    seen = counting(wechat, "text", "subscribe")
    client = WeChatTestClient(app, mode=mode)
    for message in (client.message("text", Content="hi"), client.event_message("subscribe")):
        body, query = client.encode(message)
        for _ in range(3):  # WeChat retries with the very same request
            assert client.post(body, query).status_code == 200
        # ... and a retry may also come with a fresh timestamp/nonce.
        assert client.send(message).status_code == 200
    assert [m.dispatch_name for m in seen] == ["text", "subscribe"]


def test_different_wecom_sys_events_of_one_second_all_run(sandbox: Sandbox) -> None:
    app, wechat = work_app(sandbox)
    seen = counting(wechat, "change_contact")
    client = WeChatTestClient(app, user="sys")
    now = int(time.time())
    for change, user in (("create_user", "zhangsan"), ("update_user", "zhangsan"),
                         ("create_user", "lisi")):  # fmt: skip
        result = client.event("change_contact", CreateTime=now, ChangeType=change, UserID=user)
        assert result.status_code == 200
    assert [(m.change_type, m.user_id) for m in seen] == [
        ("create_user", "zhangsan"),
        ("update_user", "zhangsan"),
        ("create_user", "lisi"),
    ]


def test_templatesendjobfinish_differing_only_in_msgid_both_run() -> None:
    app, wechat = create_app(WECHAT_ENCODING_AES_KEY=AES_KEY)
    seen = counting(wechat, "templatesendjobfinish")
    client = WeChatTestClient(app)
    now = int(time.time())
    for msg_id in (200163836, 200163840):
        event = client.event_message(
            "TEMPLATESENDJOBFINISH", CreateTime=now, MsgID=msg_id, Status="success"
        )
        assert client.send(event).status_code == 200
    assert [m.id for m in seen] == [200163836, 200163840]


def test_kf_msg_or_event_without_a_sender_dispatches(sandbox: Sandbox) -> None:
    app, wechat = work_app(sandbox)
    seen = counting(wechat, "kf_msg_or_event")
    client = WeChatTestClient(app)
    event = client.event_message(
        "kf_msg_or_event", Token="ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMz", OpenKfId="wkxxxxxxx"
    )
    del event["FromUserName"]
    result = client.send(event)
    assert result.status_code == 200
    [message] = seen
    assert message.source is None
    assert message.field("open_kf_id") == "wkxxxxxxx"
    # Its retry is recognised by the digest of the whole message.
    assert client.send(event).status_code == 200
    assert len(seen) == 1


def test_unseen_event_names_leave_no_signal_behind() -> None:
    app, _wechat = create_app()
    client = WeChatTestClient(app)
    before = len(signals._type_signals), len(signals._account_signals)
    for i in range(1000):
        assert client.event(f"made_up_event_{i}_{secrets.token_hex(4)}").status_code == 200
    assert (len(signals._type_signals), len(signals._account_signals)) == before


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


# == SSRF through the relay ================================================================


@pytest.fixture
def internal() -> Iterator[RelayPlatform]:
    """A server inside the network (another loopback port): must never be fetched."""
    with RelayPlatform("unused") as server:
        yield server


def agent_sends(relay: Relay, url: str) -> None:
    response = relay.platform.reply(relay.callback_url, USER, "image", url)
    assert response.status_code == 200


def assert_refused(relay: Relay, reason: str) -> None:
    [failure] = relay.failed.calls
    assert isinstance(failure["exception"], PermanentFailure)
    assert reason in str(failure["exception"])
    assert relay.sandbox.count("/cgi-bin/media/upload") == 0


def test_media_from_the_relay_platform_itself_is_fetched(relay: Relay) -> None:
    url = relay.platform.add_file("ok.jpg", JPEG, "image/jpeg")
    agent_sends(relay, url)
    assert relay.failed.calls == []
    assert relay.platform.downloads("ok.jpg") == 1
    assert relay.sandbox.count("/cgi-bin/media/upload") == 1


def test_media_on_another_loopback_port_is_refused(relay: Relay, internal: RelayPlatform) -> None:
    url = internal.add_file("secret.jpg", JPEG, "image/jpeg")
    agent_sends(relay, url)
    assert_refused(relay, "non-public address")
    assert internal.downloads("secret.jpg") == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:{port}/files/secret.jpg",
        "http://internal.corp.example/files/secret.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/files/secret.jpg",
        "http://2130706433:{port}/files/secret.jpg",
    ],
)
def test_media_on_a_host_not_allowed_is_refused(
    relay: Relay, internal: RelayPlatform, url: str
) -> None:
    internal.add_file("secret.jpg", JPEG, "image/jpeg")
    port = internal.url.rsplit(":", 1)[1]
    agent_sends(relay, url.format(port=port))
    assert_refused(relay, "host is not allowed")
    assert internal.downloads("secret.jpg") == 0


def test_a_redirect_to_loopback_is_refused(relay: Relay, internal: RelayPlatform) -> None:
    target = internal.add_file("secret.jpg", JPEG, "image/jpeg")
    url = relay.platform.add_redirect("hop.jpg", target)
    agent_sends(relay, url)
    assert_refused(relay, "non-public address")
    assert relay.platform.downloads("hop.jpg") == 1
    assert internal.downloads("secret.jpg") == 0


def test_redirects_within_the_platform_are_followed_up_to_three(relay: Relay) -> None:
    final = relay.platform.add_file("final.jpg", JPEG, "image/jpeg")
    hop = final
    for i in range(3):
        hop = relay.platform.add_redirect(f"hop{i}.jpg", hop)
    agent_sends(relay, hop)
    assert relay.failed.calls == []
    assert relay.platform.downloads("final.jpg") == 1

    too_far = relay.platform.add_redirect("hop3.jpg", hop)
    agent_sends(relay, too_far)
    [failure] = relay.failed.calls
    assert isinstance(failure["exception"], PermanentFailure)
    assert "too many times" in str(failure["exception"])
    assert relay.platform.downloads("final.jpg") == 1
    assert relay.sandbox.count("/cgi-bin/media/upload") == 1


def test_allowed_hosts_resolving_inside_the_network_are_refused(
    sandbox: Sandbox, internal: RelayPlatform
) -> None:
    """``localhost`` and a private literal are allowed by name but resolve inside."""
    app, _wechat = relay_app(
        sandbox,
        internal,
        WECHAT_RELAY_URL="https://relay.example.com/Icallback",
        WECHAT_RELAY_MEDIA_HOSTS=["localhost", "10.1.2.3", "media.example.com"],
    )
    account = app.extensions["wechat"].account()
    assert media_hosts(account) == {"relay.example.com", "localhost", "10.1.2.3",
                                    "media.example.com"}  # fmt: skip
    port = internal.url.rsplit(":", 1)[1]
    internal.add_file("x.jpg", JPEG, "image/jpeg")
    for url in (f"http://localhost:{port}/files/x.jpg", "http://10.1.2.3/files/x.jpg"):
        with pytest.raises(PermanentFailure, match="non-public address"):
            fetch_media(url, "image", account)
    for url in ("ftp://relay.example.com/x.jpg", "http://user@relay.example.com/x.jpg"):
        with pytest.raises(PermanentFailure, match="not an http"):
            fetch_media(url, "image", account)
    assert internal.downloads("x.jpg") == 0


def test_proxied_media_never_runs_in_a_browser(relay: Relay) -> None:
    media_id = relay.upload("voice", b"#!AMR\n<script>alert(1)</script>", "x.amr")
    relay.client.send(relay.client.message("voice", MediaId=media_id))
    url = relay.platform.accepted[0]["mediaUrl"]
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in answer.headers["Content-Security-Policy"]


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


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_hostile_next_values_redirect_safely(sandbox: Sandbox, target: str) -> None:
    app = Flask("hardening_oauth")
    app.config.update(
        TESTING=True,
        SECRET_KEY="oauth-hardening",
        WECHAT_CALLBACK_URL=None,
        WECHAT_OAUTH_URL="/wechat/oauth",
    )
    app.config.update(sandbox.flask_config("mp"))
    WeChat(app)
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
    app = Flask("hardening_oauth_ok")
    app.config.update(
        TESTING=True,
        SECRET_KEY="oauth-hardening",
        WECHAT_CALLBACK_URL=None,
        WECHAT_OAUTH_URL="/wechat/oauth",
    )
    app.config.update(sandbox.flask_config("mp"))
    WeChat(app)
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


# == stable collection shapes ==============================================================


@pytest.mark.parametrize(
    ("one", "two", "path"),
    [
        (
            "<SubscribeMsgPopupEvent><List><T>a</T></List></SubscribeMsgPopupEvent>",
            "<SubscribeMsgPopupEvent><List><T>a</T></List><List><T>b</T></List>"
            "</SubscribeMsgPopupEvent>",
            ("SubscribeMsgPopupEvent", "List"),
        ),
        (
            "<ApprovalNodes><ApprovalNode><N>1</N></ApprovalNode></ApprovalNodes>",
            "<ApprovalNodes><ApprovalNode><N>1</N></ApprovalNode>"
            "<ApprovalNode><N>2</N></ApprovalNode></ApprovalNodes>",
            ("ApprovalNodes", "ApprovalNode"),
        ),
        (
            "<MemChangeList><Item>a</Item></MemChangeList>",
            "<MemChangeList><Item>a</Item><Item>b</Item></MemChangeList>",
            ("MemChangeList", "Item"),
        ),
        (
            "<article_detail><count>1</count><item><idx>1</idx></item></article_detail>",
            "<article_detail><count>2</count><item><idx>1</idx></item>"
            "<item><idx>2</idx></item></article_detail>",
            ("article_detail", "item"),
        ),
        (
            "<PicList><item><PicMd5Sum>a</PicMd5Sum></item></PicList>",
            "<PicList><item><PicMd5Sum>a</PicMd5Sum></item>"
            "<item><PicMd5Sum>b</PicMd5Sum></item></PicList>",
            ("PicList",),
        ),
    ],
)
def test_repeatable_elements_are_lists_whatever_their_count(
    one: str, two: str, path: tuple[str, ...]
) -> None:
    from flask_wechat.parsing import parse_xml

    def at(xml: str) -> t.Any:
        value: t.Any = parse_xml(f"<xml><MsgType>event</MsgType>{xml}</xml>".encode())
        for name in path:
            value = value[name]
        return value

    assert isinstance(at(one), list)
    assert len(at(one)) == 1
    assert isinstance(at(two), list)
    assert len(at(two)) == 2
    assert at(two)[0] == at(one)[0]


def test_a_repeated_list_valued_field_keeps_each_list_whole() -> None:
    from flask_wechat.parsing import parse_xml

    fields = parse_xml(
        b"<xml><A><PicList><item>1</item></PicList><PicList><item>2</item></PicList></A></xml>"
    )
    assert fields["A"]["PicList"] == [["1"], ["2"]]
