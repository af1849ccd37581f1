"""The sandbox: web OAuth: the authorize page, codes, user tokens, userinfo."""

from __future__ import annotations

import typing as t
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from flask_wechat.sandbox import (
    SANDBOX_APP_ID,
    SANDBOX_APP_SECRET,
    SANDBOX_CORP_ID,
    SANDBOX_OPENID,
    Sandbox,
)

from .conftest import JSON, Api, Clock, no_rid

# -- web OAuth ---------------------------------------------------------------------------


def _authorize(api: Api, scope: str, state: str = "xyz") -> dict[str, list[str]]:
    response = api.raw(
        "GET",
        "/connect/oauth2/authorize",
        params={
            "appid": SANDBOX_APP_ID,
            "redirect_uri": "https://example.com/callback?next=/home",
            "response_type": "code",
            "scope": scope,
            "state": state,
        },
        allow_redirects=False,
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == (
        "https",
        "example.com",
        "/callback",
    )
    return parse_qs(location.query)


def _exchange(api: Api, code: str) -> JSON:
    response = api.raw(
        "GET",
        "/sns/oauth2/access_token",
        params={
            "appid": SANDBOX_APP_ID,
            "secret": SANDBOX_APP_SECRET,
            "code": code,
            "grant_type": "authorization_code",
        },
    )
    return t.cast(JSON, response.json())


def test_oauth_authorize_redirects_with_a_code(api: Api, sandbox: Sandbox) -> None:
    query = _authorize(api, "snsapi_base")
    assert query["state"] == ["xyz"]
    assert query["next"] == ["/home"]
    token = _exchange(api, query["code"][0])
    assert token["openid"] == SANDBOX_OPENID == sandbox.oauth_user
    assert token["scope"] == "snsapi_base"
    assert token["expires_in"] == 7200
    assert token["refresh_token"]
    assert token["unionid"] == sandbox.users[SANDBOX_OPENID]["unionid"]

    sandbox.oauth_user = "oSomebodyElse"
    assert _exchange(api, _authorize(api, "snsapi_base")["code"][0])["openid"] == "oSomebodyElse"


def test_oauth_authorize_rejects_bad_requests(api: Api) -> None:
    base = {
        "appid": SANDBOX_APP_ID,
        "redirect_uri": "https://example.com/cb",
        "response_type": "code",
        "scope": "snsapi_base",
    }
    for change, expected in [
        ({"appid": "wxnope"}, 40013),
        ({"redirect_uri": ""}, 10003),
        ({"scope": "snsapi_everything"}, 10005),
    ]:
        response = api.raw(
            "GET", "/connect/oauth2/authorize", params={**base, **change}, allow_redirects=False
        )
        assert response.json()["errcode"] == expected


def test_oauth_codes_are_one_time(api: Api, sandbox: Sandbox) -> None:
    code = sandbox.oauth_code(SANDBOX_OPENID)
    assert "access_token" in _exchange(api, code)
    assert no_rid(_exchange(api, code)) == {"errcode": 40163, "errmsg": "code been used"}
    assert _exchange(api, "made-up")["errcode"] == 40029
    other_app = sandbox.oauth_code(SANDBOX_OPENID, app_id=SANDBOX_CORP_ID)
    assert _exchange(api, other_app)["errcode"] == 40029
    with pytest.raises(ValueError, match="scope"):
        sandbox.oauth_code(SANDBOX_OPENID, scope="snsapi_all")
    with pytest.raises(KeyError):
        sandbox.oauth_code(SANDBOX_OPENID, app_id="wxnope")


def test_oauth_codes_expire(session: requests.Session) -> None:
    clock = Clock()
    with Sandbox(clock=clock) as sandbox:
        code = sandbox.oauth_code(SANDBOX_OPENID)
        clock.now += 301
        assert _exchange(Api(sandbox, session), code)["errcode"] == 42003


def test_oauth_userinfo_needs_the_userinfo_scope(api: Api, sandbox: Sandbox) -> None:
    base = _exchange(api, sandbox.oauth_code(SANDBOX_OPENID, scope="snsapi_base"))
    params = {"access_token": base["access_token"], "openid": SANDBOX_OPENID, "lang": "zh_CN"}
    assert api.raw("GET", "/sns/userinfo", params=params).json()["errcode"] == 48001

    full = _exchange(api, sandbox.oauth_code(SANDBOX_OPENID, scope="snsapi_userinfo"))
    params["access_token"] = full["access_token"]
    info = api.raw("GET", "/sns/userinfo", params=params).json()
    assert info["openid"] == SANDBOX_OPENID
    assert info["nickname"] == "沙盒用户0"
    assert info["privilege"] == []
    wrong_user = api.raw("GET", "/sns/userinfo", params={**params, "openid": "oOther"}).json()
    assert wrong_user["errcode"] == 40003
    # an OAuth token is not an API access_token, nor the other way round
    assert api.get("/cgi-bin/getcallbackip", access_token=full["access_token"])["errcode"] == 40001
    as_oauth = api.raw("GET", "/sns/userinfo", params={**params, "access_token": api.token()})
    assert as_oauth.json()["errcode"] == 40001


def test_oauth_refresh_and_auth(api: Api, sandbox: Sandbox) -> None:
    first = _exchange(api, sandbox.oauth_code(SANDBOX_OPENID, scope="snsapi_userinfo"))
    refreshed = api.raw(
        "GET",
        "/sns/oauth2/refresh_token",
        params={
            "appid": SANDBOX_APP_ID,
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
        },
    ).json()
    assert refreshed["access_token"] != first["access_token"]
    assert refreshed["refresh_token"] == first["refresh_token"]
    assert refreshed["scope"] == "snsapi_userinfo"
    bad = api.raw(
        "GET",
        "/sns/oauth2/refresh_token",
        params={"appid": SANDBOX_APP_ID, "grant_type": "refresh_token", "refresh_token": "x"},
    ).json()
    assert bad["errcode"] == 40030

    check = {"access_token": refreshed["access_token"], "openid": SANDBOX_OPENID}
    assert api.raw("GET", "/sns/auth", params=check).json() == {"errcode": 0, "errmsg": "ok"}
    sandbox.expire_tokens()
    assert api.raw("GET", "/sns/auth", params=check).json()["errcode"] == 42001
