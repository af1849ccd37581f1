"""The sandbox: followers: paging, info, remarks."""

from __future__ import annotations

import pytest

from flask_wechat.sandbox import (
    SANDBOX_OPENID,
    Sandbox,
)

from .conftest import Api

# -- users -------------------------------------------------------------------------------


def test_add_users_is_deterministic(sandbox: Sandbox) -> None:
    assert list(sandbox.users) == [SANDBOX_OPENID]
    added = sandbox.add_users(2)
    assert added == ["oSANDBOX00000000000000000001", "oSANDBOX00000000000000000002"]
    assert all(len(openid) == 28 for openid in added)
    assert Sandbox().add_users(2) == added


def test_user_list_is_paged_like_wechat(api: Api, sandbox: Sandbox) -> None:
    sandbox.page_size = 4
    everyone = [SANDBOX_OPENID, *sandbox.add_users(9)]
    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        page = api.get("/cgi-bin/user/get", next_openid=cursor)
        assert page["total"] == 10
        if page["count"] == 0:
            assert "data" not in page
            assert page["next_openid"] == ""
            break
        assert page["count"] == len(page["data"]["openid"]) <= 4
        seen += page["data"]["openid"]
        cursor = page["next_openid"]
        pages += 1
    assert seen == everyone
    assert pages == 3
    assert api.get("/cgi-bin/user/get", next_openid="ghost")["errcode"] == 40003
    sandbox.users[everyone[1]]["subscribe"] = 0
    assert api.get("/cgi-bin/user/get")["total"] == 9


def test_default_page_size_is_wechats(api: Api, sandbox: Sandbox) -> None:
    sandbox.add_users(10)
    assert sandbox.page_size == 10000
    assert api.get("/cgi-bin/user/get")["count"] == 11


def test_user_info_batchget_and_remark(api: Api, sandbox: Sandbox) -> None:
    openid = sandbox.add_users(1)[0]
    info = api.get("/cgi-bin/user/info", openid=openid, lang="zh_CN")
    assert info["subscribe"] == 1
    assert info["openid"] == openid
    assert info["nickname"] == "沙盒用户1"
    assert info["unionid"]
    assert info["tagid_list"] == []
    assert api.get("/cgi-bin/user/info", openid="ghost")["errcode"] == 40003
    assert api.get("/cgi-bin/user/info")["errcode"] == 41009

    remark = {"openid": openid, "remark": "胖子"}
    assert api.post("/cgi-bin/user/info/updateremark", remark)["errcode"] == 0
    assert sandbox.users[openid]["remark"] == "胖子"
    assert api.post("/cgi-bin/user/info/updateremark", {"openid": "x", "remark": ""})[
        "errcode"
    ] == (40003)

    sandbox.users[SANDBOX_OPENID]["subscribe"] = 0
    batch = api.post(
        "/cgi-bin/user/info/batchget",
        {"user_list": [{"openid": openid, "lang": "zh_CN"}, {"openid": SANDBOX_OPENID}]},
    )
    first, second = batch["user_info_list"]
    assert first["remark"] == "胖子"
    assert second["subscribe"] == 0
    assert "nickname" not in second


def test_each_app_has_its_own_followers(api: Api, sandbox: Sandbox) -> None:
    sandbox.register("wxotherapp000001", "other-secret")
    other = api.token("wxotherapp000001", "other-secret")
    added = sandbox.add_users(2, app_id="wxotherapp000001")
    assert sandbox.followers() == [SANDBOX_OPENID]
    assert sandbox.followers("wxotherapp000001") == [SANDBOX_OPENID, *added]
    assert api.get("/cgi-bin/user/get", access_token=other)["total"] == 3
    assert api.get("/cgi-bin/user/get")["total"] == 1
    sandbox.user_wrote("oWroteToOther", app_id="wxotherapp000001")
    assert api.get("/cgi-bin/user/info", openid="oWroteToOther")["errcode"] == 40003
    info = api.get("/cgi-bin/user/info", access_token=other, openid="oWroteToOther")
    assert info["subscribe"] == 1
    with pytest.raises(KeyError):
        sandbox.add_users(1, app_id="wxnotregistered")
