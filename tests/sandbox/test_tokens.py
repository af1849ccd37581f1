"""The sandbox: access tokens (``token``, ``stable_token``, WeCom ``gettoken``)
and JS-SDK tickets."""

from __future__ import annotations

import time

import pytest
import requests

from flask_wechat.sandbox import (
    SANDBOX_APP_ID,
    SANDBOX_APP_SECRET,
    SANDBOX_CORP_ID,
    SANDBOX_CORP_SECRET,
    Sandbox,
)

from .conftest import Api, Clock, errcode

# -- access tokens -----------------------------------------------------------------------


def test_token_is_issued_and_unique(api: Api, sandbox: Sandbox) -> None:
    params = {
        "grant_type": "client_credential",
        "appid": SANDBOX_APP_ID,
        "secret": SANDBOX_APP_SECRET,
    }
    first = api.raw("GET", "/cgi-bin/token", params=params).json()
    second = api.raw("GET", "/cgi-bin/token", params=params).json()
    assert set(first) == {"access_token", "expires_in"}
    assert first["expires_in"] == 7200
    assert first["access_token"] != second["access_token"]
    assert len(first["access_token"]) >= 64
    assert sandbox.token_requests == 2


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"appid": "wxunknown", "secret": SANDBOX_APP_SECRET}, 40013),
        ({"appid": SANDBOX_APP_ID, "secret": "wrong"}, 40125),
        ({"appid": SANDBOX_CORP_ID, "secret": SANDBOX_CORP_SECRET}, 40013),
        ({"appid": SANDBOX_APP_ID}, 41004),
        ({"appid": SANDBOX_APP_ID, "secret": SANDBOX_APP_SECRET, "grant_type": "x"}, 40002),
    ],
)
def test_token_errors_are_counted(
    api: Api, sandbox: Sandbox, params: dict[str, str], expected: int
) -> None:
    answer = api.raw("GET", "/cgi-bin/token", params={"grant_type": "client_credential", **params})
    assert answer.json()["errcode"] == expected
    assert sandbox.token_requests == 1


def test_registered_apps_get_tokens(api: Api, sandbox: Sandbox) -> None:
    sandbox.register("wxminiprogram00001", "mini-secret", kind="miniprogram")
    token = api.token("wxminiprogram00001", "mini-secret")
    assert errcode(api.get("/cgi-bin/getcallbackip", access_token=token)) == 0
    with pytest.raises(ValueError, match="kind"):
        sandbox.register("wx1", "s", kind="game")


def test_missing_unknown_revoked_and_expired_tokens(api: Api, sandbox: Sandbox) -> None:
    assert api.get("/cgi-bin/getcallbackip", access_token="")["errcode"] == 41001
    assert api.raw("GET", "/cgi-bin/getcallbackip").json()["errcode"] == 41001
    assert api.get("/cgi-bin/getcallbackip", access_token="nope")["errcode"] == 40001

    token = api.token()
    assert api.get("/cgi-bin/getcallbackip", access_token=token)["ip_list"][0] == "127.0.0.1"
    sandbox.expire_tokens()
    assert api.get("/cgi-bin/getcallbackip", access_token=token)["errcode"] == 42001

    fresh = api.token()
    assert "errcode" not in api.get("/cgi-bin/getcallbackip", access_token=fresh)
    sandbox.revoke_tokens()
    assert api.get("/cgi-bin/getcallbackip", access_token=fresh)["errcode"] == 40001
    assert "errcode" not in api.get("/cgi-bin/getcallbackip", access_token=api.token())


def test_tokens_expire_for_real(session: requests.Session) -> None:
    with Sandbox(token_ttl=1) as sandbox:
        api = Api(sandbox, session)
        answer = api.raw(
            "GET",
            "/cgi-bin/token",
            params={
                "grant_type": "client_credential",
                "appid": SANDBOX_APP_ID,
                "secret": SANDBOX_APP_SECRET,
            },
        ).json()
        assert answer["expires_in"] == 1
        time.sleep(1.3)
        assert api.get("/cgi-bin/getcallbackip", access_token=answer["access_token"])[
            "errcode"
        ] == (42001)


def test_new_token_retires_the_old_one_after_the_overlap(session: requests.Session) -> None:
    clock = Clock()
    with Sandbox(overlap=300, clock=clock) as sandbox:
        api = Api(sandbox, session)
        first = api.token()
        second = api.token()
        assert errcode(api.get("/cgi-bin/getcallbackip", access_token=first)) == 0
        clock.now += 301
        assert api.get("/cgi-bin/getcallbackip", access_token=first)["errcode"] == 40001
        assert errcode(api.get("/cgi-bin/getcallbackip", access_token=second)) == 0
        # only the latest and the one before overlap: a third retires the first at once
        third = api.token()
        fourth = api.token()
        assert api.get("/cgi-bin/getcallbackip", access_token=second)["errcode"] == 40001
        assert errcode(api.get("/cgi-bin/getcallbackip", access_token=third)) == 0
        assert errcode(api.get("/cgi-bin/getcallbackip", access_token=fourth)) == 0
        clock.now += 7200
        assert api.get("/cgi-bin/getcallbackip", access_token=fourth)["errcode"] == 42001


def test_no_overlap_means_the_old_token_dies_at_once(session: requests.Session) -> None:
    with Sandbox(overlap=0) as sandbox:
        api = Api(sandbox, session)
        old = api.token()
        api.token()
        assert api.get("/cgi-bin/getcallbackip", access_token=old)["errcode"] == 40001


def test_stable_token(api: Api, sandbox: Sandbox) -> None:
    body = {
        "grant_type": "client_credential",
        "appid": SANDBOX_APP_ID,
        "secret": SANDBOX_APP_SECRET,
    }
    first = api.raw("POST", "/cgi-bin/stable_token", json=body).json()
    again = api.raw("POST", "/cgi-bin/stable_token", json=body).json()
    assert first["access_token"] == again["access_token"]
    assert 7190 <= again["expires_in"] <= 7200
    forced = api.raw("POST", "/cgi-bin/stable_token", json={**body, "force_refresh": True}).json()
    assert forced["access_token"] != first["access_token"]
    # stable tokens are apart from /cgi-bin/token ones
    api.token()
    assert errcode(api.get("/cgi-bin/getcallbackip", access_token=forced["access_token"])) == 0
    sandbox.expire_tokens()
    renewed = api.raw("POST", "/cgi-bin/stable_token", json=body).json()
    assert renewed["access_token"] != forced["access_token"]
    bad = api.raw("POST", "/cgi-bin/stable_token", json={**body, "secret": "x"}).json()
    assert bad["errcode"] == 40125
    assert api.raw("POST", "/cgi-bin/stable_token", data=b"").json()["errcode"] == 44002
    assert api.raw("POST", "/cgi-bin/stable_token", data=b"{nope").json()["errcode"] == 47001
    assert sandbox.token_requests == 8


def test_work_token(api: Api, sandbox: Sandbox) -> None:
    params = {"corpid": SANDBOX_CORP_ID, "corpsecret": SANDBOX_CORP_SECRET}
    first = api.raw("GET", "/cgi-bin/gettoken", params=params).json()
    assert first["errcode"] == 0
    assert first["errmsg"] == "ok"
    assert first["expires_in"] == 7200
    again = api.raw("GET", "/cgi-bin/gettoken", params=params).json()
    assert again["access_token"] == first["access_token"]
    wrong = api.raw("GET", "/cgi-bin/gettoken", params={**params, "corpsecret": "x"}).json()
    assert wrong["errcode"] == 40001
    unknown = api.raw("GET", "/cgi-bin/gettoken", params={**params, "corpid": "ww0"}).json()
    assert unknown["errcode"] == 40013
    assert sandbox.token_requests == 4
    # a WeCom token is no good for Official Account APIs, and the other way round
    assert api.get("/cgi-bin/user/info", access_token=first["access_token"])["errcode"] == 48001
    assert api.get("/cgi-bin/get_jsapi_ticket")["errcode"] == 48001


# -- JS-SDK tickets ----------------------------------------------------------------------


def test_jsapi_ticket(api: Api, sandbox: Sandbox) -> None:
    assert sandbox.ticket_for(SANDBOX_APP_ID) is None
    answer = api.get("/cgi-bin/ticket/getticket", type="jsapi")
    assert answer["errcode"] == 0
    assert answer["expires_in"] == 7200
    assert answer["ticket"] == sandbox.ticket_for(SANDBOX_APP_ID)
    assert api.get("/cgi-bin/ticket/getticket", type="jsapi")["ticket"] == answer["ticket"]
    assert api.get("/cgi-bin/ticket/getticket", type="nope")["errcode"] == 40097

    work = api.get("/cgi-bin/get_jsapi_ticket", work=True)
    assert work["errcode"] == 0
    assert work["ticket"] == sandbox.ticket_for(SANDBOX_CORP_ID) != answer["ticket"]
    agent = api.get("/cgi-bin/ticket/get", work=True, type="agent_config")
    assert agent["ticket"] == sandbox.ticket_for(SANDBOX_CORP_ID, "agent_config")
