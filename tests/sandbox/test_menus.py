"""The sandbox: default and conditional menus."""

from __future__ import annotations

import typing as t

import pytest

from flask_wechat.sandbox import (
    SANDBOX_AGENT_ID,
    SANDBOX_CORP_ID,
    Sandbox,
)

from .conftest import JSON, Api, no_rid

# -- menus -------------------------------------------------------------------------------

MENU: JSON = {
    "button": [
        {"type": "click", "name": "今日歌曲", "key": "V1001_TODAY_MUSIC"},
        {
            "name": "菜单",
            "sub_button": [
                {"type": "view", "name": "搜索", "url": "http://www.soso.com/"},
                {"type": "click", "name": "赞一下我们", "key": "V1001_GOOD"},
            ],
        },
    ]
}


def test_menu_create_get_delete(api: Api, sandbox: Sandbox) -> None:
    assert not sandbox.menu
    assert no_rid(api.get("/cgi-bin/menu/get")) == {"errcode": 46003, "errmsg": "menu no exist"}
    assert api.post("/cgi-bin/menu/create", MENU) == {"errcode": 0, "errmsg": "ok"}
    assert sandbox.menu == MENU
    got = api.get("/cgi-bin/menu/get")
    buttons = got["menu"]["button"]
    assert buttons[0] == {**MENU["button"][0], "sub_button": []}
    assert buttons[1]["sub_button"][1]["key"] == "V1001_GOOD"
    assert got["conditionalmenu"] == []
    assert api.get("/cgi-bin/menu/delete")["errcode"] == 0
    assert not sandbox.menu
    assert api.get("/cgi-bin/menu/get")["errcode"] == 46003


@pytest.mark.parametrize(
    ("buttons", "expected"),
    [
        ([], 40016),
        ([{"type": "click", "name": f"b{i}", "key": "k"} for i in range(4)], 40016),
        (
            [
                {
                    "name": "多",
                    "sub_button": [{"type": "click", "name": "s", "key": "k"}] * 6,
                }
            ],
            40023,
        ),
        ([{"type": "dance", "name": "b"}], 40017),
        ([{"type": "click", "name": "", "key": "k"}], 40018),
        ([{"type": "click", "name": "b"}], 40019),
        ([{"type": "view", "name": "b"}], 40020),
        ([{"name": "m", "sub_button": [{"type": "click", "name": "s"}]}], 40026),
    ],
)
def test_menu_validation(api: Api, sandbox: Sandbox, buttons: list[JSON], expected: int) -> None:
    assert api.post("/cgi-bin/menu/create", {"button": buttons})["errcode"] == expected
    assert sandbox.menu is None


def test_conditional_menus_and_trymatch(api: Api, sandbox: Sandbox) -> None:
    tag_id = api.post("/cgi-bin/tags/create", {"tag": {"name": "VIP"}})["tag"]["id"]
    vip, other = sandbox.add_users(2)
    api.post("/cgi-bin/tags/members/batchtagging", {"openid_list": [vip], "tagid": tag_id})
    special = {
        "button": [{"type": "click", "name": "专属", "key": "VIP"}],
        "matchrule": {"tag_id": str(tag_id)},
    }
    assert api.post("/cgi-bin/menu/addconditional", special)["errcode"] == 65303
    api.post("/cgi-bin/menu/create", MENU)
    assert api.post("/cgi-bin/menu/addconditional", {**special, "matchrule": {}})["errcode"] == (
        65304
    )
    menuid = api.post("/cgi-bin/menu/addconditional", special)["menuid"]
    assert menuid

    matched = api.post("/cgi-bin/menu/trymatch", {"user_id": vip})
    assert matched["button"][0]["key"] == "VIP"
    default = api.post("/cgi-bin/menu/trymatch", {"user_id": other})
    assert default["button"][0]["key"] == "V1001_TODAY_MUSIC"
    assert api.post("/cgi-bin/menu/trymatch", {"user_id": "ghost"})["errcode"] == 65302
    assert api.get("/cgi-bin/menu/get")["conditionalmenu"][0]["matchrule"] == special["matchrule"]

    assert api.post("/cgi-bin/menu/delconditional", {"menuid": menuid})["errcode"] == 0
    assert api.post("/cgi-bin/menu/delconditional", {"menuid": menuid})["errcode"] == 65301
    assert api.post("/cgi-bin/menu/trymatch", {"user_id": vip})["button"][0]["key"] == (
        "V1001_TODAY_MUSIC"
    )


# -- each app its own menus ------------------------------------------------------------


def test_each_app_has_its_own_menu(api: Api, sandbox: Sandbox) -> None:
    sandbox.register("wxotherapp000001", "other-secret")
    other = api.token("wxotherapp000001", "other-secret")
    assert api.post("/cgi-bin/menu/create", MENU)["errcode"] == 0
    assert api.get("/cgi-bin/menu/get", access_token=other)["errcode"] == 46003
    mine = {"button": [{"type": "click", "name": "另一个", "key": "OTHER"}]}
    assert api.post("/cgi-bin/menu/create", mine, access_token=other)["errcode"] == 0
    assert sandbox.menu == MENU
    assert sandbox.app_data("wxotherapp000001").menu == mine
    assert api.get("/cgi-bin/menu/delete", access_token=other)["errcode"] == 0
    assert sandbox.menu == MENU


def test_wecom_menus_belong_to_one_agent(api: Api, sandbox: Sandbox) -> None:
    agent = str(SANDBOX_AGENT_ID)
    assert api.post("/cgi-bin/menu/create", MENU, work=True)["errcode"] == 41011
    assert api.post("/cgi-bin/menu/create", MENU, work=True, agentid="1000099")["errcode"] == 40056
    assert api.get("/cgi-bin/menu/get", work=True)["errcode"] == 41011
    assert api.get("/cgi-bin/menu/delete", work=True, agentid="x")["errcode"] == 40056
    assert api.post("/cgi-bin/menu/create", MENU, work=True, agentid=agent)["errcode"] == 0
    # the WeCom push did not overwrite the Official Account's menu
    assert sandbox.menu is None
    assert sandbox.app_data(SANDBOX_CORP_ID).menu == MENU
    served = api.get("/cgi-bin/menu/get", work=True, agentid=agent)
    assert served["menu"]["button"][0]["key"] == "V1001_TODAY_MUSIC"

    second = sandbox.register(SANDBOX_CORP_ID, "second-app-secret", kind="work")
    assert second.agent_id == SANDBOX_AGENT_ID + 1
    token = t.cast(
        str,
        api.get("/cgi-bin/gettoken", corpid=SANDBOX_CORP_ID, corpsecret="second-app-secret")[
            "access_token"
        ],
    )
    # one app's Secret does not manage another app's menu
    theirs = api.get("/cgi-bin/menu/get", access_token=token, agentid=agent)
    assert theirs["errcode"] == 40056
    mine = api.get("/cgi-bin/menu/get", access_token=token, agentid=str(second.agent_id))
    assert mine["errcode"] == 46003
