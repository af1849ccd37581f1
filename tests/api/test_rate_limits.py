"""WeChat's rid, the per-minute limit (45011) and the IP whitelist (40164) as
errors a caller can act on."""

from __future__ import annotations

import typing as t

import pytest

from flask_wechat.errors import APIError, IPNotWhitelisted, RateLimited, api_error
from flask_wechat.sandbox import SANDBOX_OPENID

if t.TYPE_CHECKING:
    from flask_wechat.api import Client
    from flask_wechat.sandbox import Sandbox

SEND = "/cgi-bin/message/custom/send"
TEXT = {"touser": SANDBOX_OPENID, "msgtype": "text", "text": {"content": "hi"}}
RID = "6638c156-2d826832-17af344b"


def test_rid_is_parsed_and_shown() -> None:
    error = api_error(
        40001, f"invalid credential, access_token is invalid or not latest rid: {RID}"
    )
    assert error.rid == RID
    assert RID in str(error)
    assert api_error(40001, "invalid credential").rid is None
    assert api_error(-1, "").rid is None
    hinted = api_error(40003, f"invalid openid hint: [abc] rid: {RID}")
    assert hinted.rid == RID


def test_rate_limited_says_when_to_try_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "flask_wechat.errors.time.time", lambda: 1_699_999_980 + 45.5
    )  # 45.5 s into a minute
    error = api_error(
        45011, f"api minute-quota reach limit  mustslower  retry next minute rid: {RID}"
    )
    assert type(error) is RateLimited
    assert isinstance(error, APIError)
    assert error.retry_after == pytest.approx(14.5)
    assert error.rid == RID
    assert "resets in 14s" in str(error) or "resets in 15s" in str(error)


def test_rate_limited_is_never_retried_at_once(client: Client, sandbox: Sandbox) -> None:
    sandbox.user_wrote(SANDBOX_OPENID)
    sandbox.fail(SEND, 45011)
    with pytest.raises(RateLimited) as caught:
        client.post(SEND, TEXT)
    assert sandbox.count(SEND) == 1
    assert 0 < caught.value.retry_after <= 60
    assert caught.value.rid is not None
    assert caught.value.rid in str(caught.value)
    assert client.post(SEND, TEXT)["errcode"] == 0  # the next minute, it goes


def test_ip_whitelist_error_says_what_to_do(client: Client, sandbox: Sandbox) -> None:
    sandbox.fail("/cgi-bin/getcallbackip", 40164)
    with pytest.raises(IPNotWhitelisted) as caught:
        client.callback_ip()
    message = str(caught.value)
    assert "40164" in message
    assert "IP whitelist" in message
    assert "admin console" in message
