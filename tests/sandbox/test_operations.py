"""The sandbox's operations endpoints, over raw HTTP."""

from __future__ import annotations

import json

import requests

from flask_wechat.sandbox import ERRMSGS, SANDBOX_APP_ID, Sandbox

from .conftest import Api, Clock, errcode, no_rid


def test_clear_quota_is_for_ones_own_appid(api: Api) -> None:
    assert errcode(api.post("/cgi-bin/clear_quota", {"appid": "wxsomeoneelse"})) == 40013
    assert errcode(api.post("/cgi-bin/clear_quota", {"appid": SANDBOX_APP_ID})) == 0
    assert errcode(api.post("/cgi-bin/clear_quota", {"appid": SANDBOX_APP_ID}, work=True)) == 48001


def test_blacklist_batches(api: Api) -> None:
    path = "/cgi-bin/tags/members/batchblacklist"
    assert errcode(api.post(path, {"openid_list": []})) == 40032
    assert errcode(api.post(path, {"openid_list": ["x"] * 21})) == 40032
    assert errcode(api.post(path, {})) == 40032


def test_quotas_are_counted_per_app_and_path(api: Api, sandbox: Sandbox) -> None:
    api.get("/cgi-bin/getcallbackip")
    api.get("/cgi-bin/getcallbackip")
    api.get("/cgi-bin/menu/get")
    quota = api.post("/cgi-bin/openapi/quota/get", {"cgi_path": "/cgi-bin/getcallbackip"})
    assert quota == {
        "errcode": 0,
        "errmsg": "ok",
        "quota": {"daily_limit": 100000, "used": 2, "remain": 99998},
    }
    # another app's calls are its own
    sandbox.register("wxsecondaccount0001", "second-secret")
    other = api.token("wxsecondaccount0001", "second-secret")
    theirs = api.post(
        "/cgi-bin/openapi/quota/get", {"cgi_path": "/cgi-bin/getcallbackip"}, access_token=other
    )
    assert theirs["quota"]["used"] == 0
    assert errcode(api.post("/cgi-bin/openapi/quota/get", {})) == 76003
    assert errcode(api.post("/cgi-bin/openapi/quota/get", {"cgi_path": "/cgi-bin/x"})) == 76021


def test_daily_quota_and_45011(api: Api, sandbox: Sandbox) -> None:
    sandbox.set_daily_limit("/cgi-bin/getcallbackip", 1)
    assert errcode(api.get("/cgi-bin/getcallbackip")) == 0
    refused = api.get("/cgi-bin/getcallbackip")
    assert no_rid(refused) == {"errcode": 45009, "errmsg": ERRMSGS[45009]}
    sandbox.fail("/cgi-bin/menu/get", 45011)
    assert no_rid(api.get("/cgi-bin/menu/get"))["errcode"] == 45011
    assert errcode(api.get("/cgi-bin/menu/get")) == 46003  # the next minute


def test_quotas_start_again_at_midnight_in_china(session: requests.Session) -> None:
    clock = Clock()
    clock.now = 1_700_000_000.0 - (1_700_000_000 + 8 * 3600) % 86400 + 86400 - 60  # 23:59
    with Sandbox(clock=clock) as sandbox:
        api = Api(sandbox, session)
        api.get("/cgi-bin/getcallbackip")
        quota = {"cgi_path": "/cgi-bin/getcallbackip"}
        assert api.post("/cgi-bin/openapi/quota/get", quota)["quota"]["used"] == 1
        clock.now += 120  # 00:01 the next day, Beijing time
        assert api.post("/cgi-bin/openapi/quota/get", quota)["quota"]["used"] == 0


def test_rids_name_failed_calls_for_seven_days(session: requests.Session) -> None:
    clock = Clock()
    with Sandbox(clock=clock) as sandbox:
        api = Api(sandbox, session)
        failed = api.get("/cgi-bin/menu/get")
        rid = failed["errmsg"].rpartition(" rid: ")[2]
        assert rid.startswith(f"{int(clock.now):08x}-")
        found = api.post("/cgi-bin/openapi/rid/get", {"rid": rid})
        assert found["request"]["invoke_time"] == int(clock.now)
        assert found["request"]["response_body"] == json.dumps(failed, separators=(",", ":"))
        assert api.post("/cgi-bin/openapi/rid/get", {"rid": rid})["errcode"] == 0
        clock.now += 7 * 24 * 3600 + 1
        fresh = api.token()  # the old access_token expired meanwhile
        gone = api.post("/cgi-bin/openapi/rid/get", {"rid": rid}, access_token=fresh)
        assert errcode(gone) == 76001
        malformed = api.post("/cgi-bin/openapi/rid/get", {"rid": "x"}, access_token=fresh)
        assert errcode(malformed) == 76002
        # an error the test wrote itself is answered exactly as given
        sandbox.fail("/cgi-bin/menu/get", 45011, errmsg="slow down")
        answer = api.get("/cgi-bin/menu/get", access_token=fresh)
        assert answer == {"errcode": 45011, "errmsg": "slow down"}
