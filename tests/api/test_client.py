"""The API client's HTTP layer against the sandbox: retries, timeouts, errcodes, decoding."""

from __future__ import annotations

import socket
import time
import typing as t

import pytest
import requests

from flask_wechat.errors import (
    AccessTokenExpired,
    APIError,
    APIUnauthorized,
    CustomerServiceLimit,
    QuotaExceeded,
    ResponseWindowClosed,
    SystemBusy,
    TransportError,
)
from flask_wechat.sandbox import ERRMSGS, SANDBOX_OPENID

if t.TYPE_CHECKING:
    from flask_wechat.api import Client
    from flask_wechat.sandbox import Sandbox

CALLBACK_IP = "/cgi-bin/getcallbackip"
SEND = "/cgi-bin/message/custom/send"
TEXT = {"touser": SANDBOX_OPENID, "msgtype": "text", "text": {"content": "你好"}}


class CountingSession(requests.Session):
    """A session that counts the requests it was asked to make."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    def request(self, *args: t.Any, **kwargs: t.Any) -> requests.Response:
        self.attempts += 1
        return super().request(*args, **kwargs)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def eventually(check: t.Callable[[], bool], within: float = 10.0) -> None:
    """Wait until ``check()`` holds: the sandbox may still be busy with a request
    the client already gave up on."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("the sandbox never got there")
        time.sleep(0.02)


@pytest.fixture
def fast(client: Client) -> Client:
    """The client with a tiny backoff, so retries cost milliseconds."""
    client.backoff = 0.01
    client.access_token  # noqa: B018 - warm the token so only the API call is counted
    return client


# -- errcode -1 ----------------------------------------------------------------------------


def test_system_busy_is_retried_then_succeeds(fast: Client, sandbox: Sandbox) -> None:
    sandbox.fail(CALLBACK_IP, -1, times=2)
    assert fast.callback_ip() == ["127.0.0.1", "::1"]
    assert sandbox.count(CALLBACK_IP) == 3


def test_system_busy_send_is_retried_too(fast: Client, sandbox: Sandbox) -> None:
    """-1 means WeChat did nothing, so even a send may be repeated."""
    sandbox.fail(SEND, -1, times=1)
    assert fast.post(SEND, TEXT) == {"errcode": 0, "errmsg": "ok"}
    assert sandbox.count(SEND) == 2
    assert len(sandbox.sent) == 1


def test_system_busy_forever_gives_up(fast: Client, sandbox: Sandbox) -> None:
    sandbox.fail(CALLBACK_IP, -1, times=None)
    with pytest.raises(SystemBusy) as caught:
        fast.get(CALLBACK_IP)
    assert type(caught.value) is SystemBusy
    assert isinstance(caught.value, APIError)
    assert caught.value.errcode == -1
    assert caught.value.errmsg.startswith(ERRMSGS[-1] + " rid: ")
    assert caught.value.rid is not None
    assert sandbox.count(CALLBACK_IP) == fast.retries + 1


def test_retries_setting_is_honoured(fast: Client, sandbox: Sandbox) -> None:
    fast.retries = 0
    sandbox.fail(CALLBACK_IP, -1, times=None)
    with pytest.raises(APIError):
        fast.get(CALLBACK_IP)
    assert sandbox.count(CALLBACK_IP) == 1


# -- timeouts and connection errors ----------------------------------------------------------


def test_send_read_timeout_is_not_retried(fast: Client, sandbox: Sandbox) -> None:
    """WeChat may have sent the message: repeating it could deliver it twice."""
    sandbox.delay(SEND, 2.0)
    fast.timeout = 0.2
    with pytest.raises(TransportError, match="ReadTimeout"):
        fast.post(SEND, TEXT)
    # The one request the client gave up on is still delivered, once.
    eventually(lambda: len(sandbox.sent) == 1)
    assert sandbox.count(SEND) == 1


def test_get_read_timeout_is_retried(fast: Client, sandbox: Sandbox) -> None:
    sandbox.delay(CALLBACK_IP, 2.0)
    fast.timeout = 0.2
    with pytest.raises(TransportError, match="ReadTimeout"):
        fast.get(CALLBACK_IP)
    eventually(lambda: sandbox.count(CALLBACK_IP) >= fast.retries + 1)
    assert sandbox.count(CALLBACK_IP) == fast.retries + 1


def test_get_read_timeout_then_success(fast: Client, sandbox: Sandbox) -> None:
    """A slow answer once, then a quick one: the retry's answer is returned."""
    sandbox.delay(CALLBACK_IP, 2.0)
    fast.timeout = 0.2
    session = CountingSession()
    fast.session = session
    original = session.request

    def request(*args: t.Any, **kwargs: t.Any) -> requests.Response:
        if session.attempts == 1:
            sandbox.delay(CALLBACK_IP, 0)  # only the first attempt is slow
        return original(*args, **kwargs)

    session.request = request  # type: ignore[method-assign]
    assert fast.callback_ip() == ["127.0.0.1", "::1"]
    assert session.attempts == 2


def test_connection_refused_is_retried_even_for_sends(fast: Client, sandbox: Sandbox) -> None:
    """Nothing reached WeChat, so a send is safe to repeat."""
    session = CountingSession()
    fast.session = session
    fast.base_url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(TransportError) as caught:
        fast.post(SEND, TEXT)
    assert not caught.value.may_have_arrived
    assert "access_token" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert session.attempts == fast.retries + 1
    assert sandbox.count(SEND) == 0


def test_connection_refused_on_get(fast: Client) -> None:
    session = CountingSession()
    fast.session = session
    fast.base_url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(TransportError):
        fast.get(CALLBACK_IP)
    assert session.attempts == fast.retries + 1


# -- errcodes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("errcode", "error"),
    [
        (45015, ResponseWindowClosed),
        (45047, CustomerServiceLimit),
        (48001, APIUnauthorized),
        (45009, QuotaExceeded),
        (40003, APIError),
        (61451, APIError),
    ],
)
def test_typed_errors(fast: Client, sandbox: Sandbox, errcode: int, error: type[APIError]) -> None:
    sandbox.fail(SEND, errcode, errmsg=f"sandbox says {errcode}")
    with pytest.raises(APIError) as caught:
        fast.post(SEND, TEXT)
    assert type(caught.value) is error
    assert caught.value.errcode == errcode
    assert caught.value.errmsg == f"sandbox says {errcode}"
    assert str(errcode) in str(caught.value)
    assert sandbox.count(SEND) == 1  # not retried
    assert sandbox.sent == []


def test_real_errcode_from_the_sandbox(fast: Client, sandbox: Sandbox) -> None:
    """Not injected: the sandbox's own validation answers 40003 for a missing touser."""
    with pytest.raises(APIError) as caught:
        fast.post(SEND, {"msgtype": "text", "text": {"content": "x"}})
    assert type(caught.value) is APIError
    assert caught.value.errcode == 40003
    assert caught.value.errmsg == f"{ERRMSGS[40003]} rid: {caught.value.rid}"


def test_revoked_token_is_refreshed_once(fast: Client, sandbox: Sandbox) -> None:
    old = fast.access_token
    sandbox.revoke_tokens()
    assert fast.callback_ip()
    assert fast.access_token != old
    assert sandbox.token_requests == 2


def test_token_errcode_without_token_is_not_refreshed(fast: Client, sandbox: Sandbox) -> None:
    sandbox.fail(CALLBACK_IP, 42001)
    with pytest.raises(AccessTokenExpired):
        fast.get(CALLBACK_IP, token=False)
    assert sandbox.token_requests == 1


# -- decoding ------------------------------------------------------------------------------


def test_utf8_without_charset(fast: Client, sandbox: Sandbox) -> None:
    buttons = [{"type": "click", "name": "今日歌曲", "key": "V1001"}]
    fast.menus.create(buttons)
    raw = requests.get(
        sandbox.url + "/cgi-bin/menu/get", params={"access_token": fast.access_token}, timeout=10
    )
    # WeChat (and the sandbox) send no charset; requests alone would guess wrong.
    assert raw.headers["Content-Type"] == "application/json"
    assert "今日歌曲".encode() in raw.content
    got = fast.get("/cgi-bin/menu/get")
    assert got["menu"]["button"][0]["name"] == "今日歌曲"
    assert sandbox.menu == {"button": buttons}


def test_send_body_is_real_utf8(fast: Client, sandbox: Sandbox) -> None:
    fast.post(SEND, TEXT)
    assert sandbox.sent[0]["text"] == {"content": "你好"}


def test_generic_get_and_post_return_dicts(fast: Client, sandbox: Sandbox) -> None:
    got = fast.get(CALLBACK_IP)
    assert isinstance(got, dict)
    assert got == {"ip_list": ["127.0.0.1", "::1"]}
    sent = fast.post(SEND, TEXT)
    assert isinstance(sent, dict)
    assert sent["errcode"] == 0
    assert sandbox.sent[0]["touser"] == SANDBOX_OPENID
    assert sandbox.calls[-1].params["access_token"] == fast.access_token


def test_unknown_path_is_an_api_error(fast: Client, sandbox: Sandbox) -> None:
    with pytest.raises(APIError) as caught:
        fast.get(sandbox.url + "/no/such/page/at/all")
    assert caught.value.errcode == 40066
