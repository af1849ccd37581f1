"""Property tests over every entry point: hostile requests never get a 5xx.

Hypothesis throws random bytes, XML with DOCTYPE and entities, broken base64 and
padding, huge fields, lone surrogates and hostile queries at the callbacks (GET
and POST, every platform and mode), the relay callback, the media proxy and the
OAuth views, both unsigned and correctly signed (so that the body reaches the
decrypting and parsing code). For every answer: never a 5xx; a refusal (4xx) has
a short reason, sends ``request_rejected`` (OAuth: ``oauth_error``) and runs no
handler. Examples are few and derandomised, so the whole file takes seconds.
"""

from __future__ import annotations

import base64
import contextlib
import json
import string
import time
import typing as t
from collections.abc import Iterator
from urllib.parse import quote

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_wechat import Message, WeChat, signals
from flask_wechat.crypto import MessageCrypto, make_nonce, sign
from flask_wechat.parsing import MAX_BODY_SIZE
from flask_wechat.tasks import InlineRunner

TOKEN = "fuzz-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wxfuzz000000000001"
CORP_ID = "wwfuzz000000000001"
RELAY_TOKEN = "fuzz-relay-token"

FUZZ = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Target(t.NamedTuple):
    """One callback under test."""

    name: str
    app: Flask
    crypto: MessageCrypto | None
    handled: list[Message]
    json: bool
    work: bool


def _target(
    name: str, *, work: bool = False, fmt: str = "xml", aes: bool = True, relay: bool = False
) -> Target:
    app = Flask(f"fuzz_{name}")
    app.config.update(
        TESTING=True,
        SECRET_KEY="fuzz-secret-key",
        WECHAT_KIND="work" if work else ("miniprogram" if fmt == "json" else "mp"),
        WECHAT_APP_ID=CORP_ID if work else APP_ID,
        WECHAT_APP_SECRET="fuzz-app-secret",
        WECHAT_TOKEN=TOKEN,
        WECHAT_ENCODING_AES_KEY=AES_KEY if aes else None,
        WECHAT_API_BASE_URL="http://127.0.0.1:9",
        WECHAT_RELAY_URL="http://127.0.0.1:9/Icallback",
        WECHAT_RELAY_TOKEN=RELAY_TOKEN,
        WECHAT_OAUTH_URL="/wechat/oauth",
    )
    if work:
        app.config["WECHAT_AGENT_ID"] = 1000002
    if not relay:
        del app.config["WECHAT_RELAY_URL"], app.config["WECHAT_RELAY_TOKEN"]
    if fmt == "json":
        app.config["WECHAT_FORMAT"] = "json"
    wechat = WeChat(app, task_runner=InlineRunner(attempts=1))
    handled: list[Message] = []

    @wechat.on("text", "event", "image", "subscribe", "click")
    def record(message: Message) -> None:
        handled.append(message)

    crypto = MessageCrypto(TOKEN, AES_KEY, CORP_ID if work else APP_ID) if aes else None
    return Target(name, app, crypto, handled, fmt == "json", work)


TARGETS = [
    _target("mp_plain", aes=False),
    _target("mp_aes"),
    _target("mini_xml"),
    _target("mini_json", fmt="json"),
    _target("work", work=True),
]


class Watch:
    """What one request caused: refusals signalled, handlers run."""

    def __init__(self) -> None:
        self.rejected: list[str] = []
        self.oauth_errors: list[str] = []

    def on_rejected(self, sender: object, **payload: t.Any) -> None:
        self.rejected.append(payload["reason"])

    def on_oauth_error(self, sender: object, **payload: t.Any) -> None:
        self.oauth_errors.append(payload["reason"])


@contextlib.contextmanager
def watching() -> Iterator[Watch]:
    watch = Watch()
    signals.request_rejected.connect(watch.on_rejected)
    signals.oauth_error.connect(watch.on_oauth_error)
    try:
        yield watch
    finally:
        signals.request_rejected.disconnect(watch.on_rejected)
        signals.oauth_error.disconnect(watch.on_oauth_error)


def check(
    target: Target, response: t.Any, watch: Watch, handled_before: int, *, oauth: bool = False
) -> None:
    status = response.status_code
    assert status < 500, (target.name, status, response.get_data()[:200])
    if status >= 400:
        reason = response.get_data(as_text=True)
        assert 0 < len(reason) <= 120, reason
        assert "Traceback" not in reason
        assert watch.oauth_errors if oauth else watch.rejected, "no refusal signalled"
        assert len(target.handled) == handled_before, "a refused request ran a handler"


# -- hostile material -------------------------------------------------------------------

CRAFTED_BODIES = [
    b"",
    b"<xml>",
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    b"<xml><MsgType>text</MsgType><Content>&e;</Content></xml>",
    b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    b"<xml><MsgType>text</MsgType><Content>&b;</Content></xml>",
    b"<xml><MsgType>text</MsgType><Content>&#xD800;</Content></xml>",
    b"<xml><MsgType>text</MsgType><Content>\xed\xa0\x80</Content></xml>",
    b"<xml><MsgType>text</MsgType><Content>\x00\x01\x1f</Content></xml>",
    b"<xml><MsgType></MsgType></xml>",
    b"<xml><MsgType><a/><b/></MsgType><MsgId>99999999999999999999999999</MsgId></xml>",
    b"<xml><MsgType>text</MsgType><CreateTime>-1e999</CreateTime></xml>",
    b"<xml><MsgType>text</MsgType><FromUserName><x>1</x></FromUserName></xml>",
    b"<xml><MsgType>event</MsgType><Event><x/></Event></xml>",
    b"<xml>" + b"<a>" * 300 + b"</a>" * 300 + b"</xml>",
    b"<xml><MsgType>text</MsgType><Content>" + b"A" * (MAX_BODY_SIZE + 1) + b"</Content></xml>",
    b'{"MsgType":"text","Content":"u\\ud800"}',
    b'{"MsgType":"text","Content":"\xed\xa0\x80"}',
    b'{"MsgType":["text"],"FromUserName":{"a":1}}',
    b'{"MsgType":"text","MsgId":1e400}',
    b'{"MsgType":"text","CreateTime":NaN}',
    b"[" * 5000 + b"]" * 5000,
    b'{"Encrypt": 5}',
    b"<xml><Encrypt><a/></Encrypt></xml>",
]

bodies = st.one_of(
    st.sampled_from(CRAFTED_BODIES),
    st.binary(max_size=512),
    st.text(max_size=256).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.builds(
        lambda tag, text: f"<xml><MsgType>{tag}</MsgType><Content>{text}</Content></xml>".encode(
            "utf-8", "surrogatepass"
        ),
        st.sampled_from(["text", "event", "image", "", "TEXT"]),
        st.text(max_size=64),
    ),
)

base64ish = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "+/=", max_size=200),
    st.binary(max_size=120).map(lambda b: base64.b64encode(b).decode()),
    st.binary(max_size=120).map(lambda b: base64.b64encode(b).decode().rstrip("=")),
    st.text(max_size=40),
)

query_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "0", str(int(time.time())), "9" * 40, "aes", "raw", "\r\n", "%00"]),
)
queries = st.dictionaries(
    st.sampled_from(
        ["signature", "timestamp", "nonce", "msg_signature", "encrypt_type", "openid", "echostr"]
    ),
    query_values,
    max_size=7,
)


def _now() -> str:
    return str(int(time.time()))


def _post(target: Target, body: bytes, query: t.Mapping[str, str]) -> t.Any:
    content_type = "application/json" if target.json else "text/xml"
    return target.app.test_client().post(
        "/wechat", query_string=dict(query), data=body, content_type=content_type
    )


def _envelope(target: Target, encrypt: str) -> bytes:
    if target.json:
        return json.dumps({"ToUserName": "gh_x", "Encrypt": encrypt}).encode()
    return (
        f"<xml><ToUserName><![CDATA[x]]></ToUserName><AgentID>1000002</AgentID>"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    ).encode("utf-8", "surrogatepass")


def _encrypted_query(ts: str, nonce: str, msg_signature: str) -> dict[str, str]:
    return {
        "signature": sign(TOKEN, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": msg_signature,
    }


# -- the callbacks ----------------------------------------------------------------------


@FUZZ
@given(target=st.sampled_from(TARGETS), body=bodies, query=queries)
def test_unsigned_hostile_posts_are_refused(
    target: Target, body: bytes, query: dict[str, str]
) -> None:
    before = len(target.handled)
    with watching() as watch:
        response = _post(target, body, query)
    check(target, response, watch, before)
    assert response.status_code >= 400  # nothing here is signed
    assert len(target.handled) == before


@FUZZ
@given(target=st.sampled_from(TARGETS), body=bodies)
def test_signed_hostile_plaintext_never_fails(target: Target, body: bytes) -> None:
    """Correctly signed (and, with an AES key, correctly encrypted) hostile bodies
    reach the parser: they are refused, or taken as the message they are."""
    ts, nonce = _now(), make_nonce(10)
    before = len(target.handled)
    if target.crypto is None:
        query = {"signature": sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}
        payload = body
    else:
        sealed = target.crypto.seal(body, ts, nonce)
        query = _encrypted_query(ts, nonce, sealed.msg_signature)
        payload = _envelope(target, sealed.encrypt)
    with watching() as watch:
        response = _post(target, payload, query)
    check(target, response, watch, before)


@FUZZ
@given(target=st.sampled_from([t for t in TARGETS if t.crypto is not None]), encrypt=base64ish)
def test_signed_broken_ciphertext_is_refused(target: Target, encrypt: str) -> None:
    ts, nonce = _now(), make_nonce(10)
    before = len(target.handled)
    query = _encrypted_query(ts, nonce, sign(TOKEN, ts, nonce, encrypt))
    with watching() as watch:
        response = _post(target, _envelope(target, encrypt), query)
    check(target, response, watch, before)
    assert response.status_code >= 400


@FUZZ
@given(target=st.sampled_from(TARGETS), query=queries, signed=st.booleans(), echostr=base64ish)
def test_hostile_url_verification_never_fails(
    target: Target, query: dict[str, str], signed: bool, echostr: str
) -> None:
    if signed:
        ts, nonce = _now(), make_nonce(10)
        query = {
            "timestamp": ts,
            "nonce": nonce,
            "echostr": echostr,
            "signature": sign(TOKEN, ts, nonce),
            "msg_signature": sign(TOKEN, ts, nonce, echostr),
        }
    with watching() as watch:
        response = target.app.test_client().get("/wechat", query_string=query)
    check(target, response, watch, len(target.handled))


# -- the relay callback and media proxy -------------------------------------------------------

RELAY_TARGET = _target("relay", aes=False, relay=True)

relay_bodies = st.one_of(
    bodies,
    st.fixed_dictionaries(
        {
            "open_id": st.one_of(st.text(max_size=30), st.integers(), st.none()),
            "msgType": st.one_of(
                st.sampled_from(["", "TEXT", "link", "finish "]), st.text(max_size=8)
            ),
            "content": st.one_of(
                st.text(max_size=60),
                st.sampled_from(["file:///etc/passwd", "gopher://x", "u\ud800"]),
            ),
            "timestamp": st.one_of(st.integers(), st.text(max_size=20), st.floats()),
            "nonce": st.one_of(
                st.text(max_size=20), st.integers(), st.lists(st.integers(), max_size=2)
            ),
            "msg_signature": st.one_of(st.text(max_size=40), st.none()),
        }
    ).map(lambda d: json.dumps(d).encode()),
)


@FUZZ
@given(body=relay_bodies)
def test_hostile_relay_posts_never_fail(body: bytes) -> None:
    target = RELAY_TARGET
    with watching() as watch:
        response = target.app.test_client().post(
            "/wechat/relay", data=body, content_type="application/json"
        )
    check(target, response, watch, len(target.handled))
    assert response.status_code >= 400


@FUZZ
@given(
    open_id=st.text(min_size=1, max_size=30).filter(str.strip),
    msg_type=st.text(max_size=10).filter(lambda s: s not in ("text", "finish")),
    content=st.text(max_size=60),
)
def test_signed_relay_posts_with_hostile_fields_never_fail(
    open_id: str, msg_type: str, content: str
) -> None:
    target = RELAY_TARGET
    ts, nonce = str(int(time.time() * 1000)), make_nonce(12)
    fields = {
        "open_id": open_id,
        "msgType": msg_type,
        "content": content,
        "timestamp": int(ts),
        "nonce": nonce,
        "msg_signature": sign(RELAY_TOKEN, ts, nonce, open_id),
    }
    if msg_type in ("image", "voice", "video"):
        fields["content"] = "ftp://" + content  # never a fetchable URL
    with watching() as watch:
        response = target.app.test_client().post(
            "/wechat/relay", data=json.dumps(fields).encode(), content_type="application/json"
        )
    check(target, response, watch, len(target.handled))


@FUZZ
@given(media_id=st.text(max_size=300), sig=st.one_of(st.none(), st.text(max_size=80)))
def test_hostile_media_proxy_requests_never_fail(media_id: str, sig: str | None) -> None:
    target = RELAY_TARGET
    path = "/wechat/relay/media/" + quote(media_id.encode("utf-8", "surrogatepass"), safe="")
    query = (
        {}
        if sig is None
        else {"sig": sig.encode("utf-8", "surrogatepass").decode("utf-8", "replace")}
    )
    with watching() as watch:
        response = target.app.test_client().get(path, query_string=query)
    assert response.status_code < 500
    if response.status_code >= 400 and response.status_code != 404:
        assert watch.rejected
        assert 0 < len(response.get_data(as_text=True)) <= 120


# -- OAuth ------------------------------------------------------------------------------------

oauth_values = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "/a\r\nSet-Cookie: x=1",
            "//evil.example",
            "https://evil.example",
            "/\t/evil.example",
            "snsapi_userinfo",
            "snsapi_base",
            "%0d%0a",
        ]
    ),
)


def _query_text(value: str) -> str:
    return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


@FUZZ
@given(
    target=st.sampled_from(TARGETS),
    next_value=oauth_values,
    scope=st.one_of(st.none(), oauth_values),
)
def test_hostile_oauth_login_never_fails(
    target: Target, next_value: str, scope: str | None
) -> None:
    query = {"next": _query_text(next_value)}
    if scope is not None:
        query["scope"] = _query_text(scope)
    with watching() as watch:
        response = target.app.test_client().get("/wechat/oauth/login", query_string=query)
    check(target, response, watch, len(target.handled), oauth=True)
    if response.status_code == 302:
        assert "\n" not in response.headers["Location"]


@FUZZ
@given(target=st.sampled_from(TARGETS), code=oauth_values, state=oauth_values, start=st.booleans())
def test_hostile_oauth_callbacks_never_fail(
    target: Target, code: str, state: str, start: bool
) -> None:
    browser = target.app.test_client()
    if start:
        browser.get("/wechat/oauth/login", query_string={"next": "/home"})
    with watching() as watch:
        response = browser.get(
            "/wechat/oauth/authorized",
            query_string={"code": _query_text(code), "state": _query_text(state)},
        )
    check(target, response, watch, len(target.handled), oauth=True)
    assert response.status_code >= 400  # the state never matches a guess
