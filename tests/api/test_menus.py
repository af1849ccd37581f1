"""Menus against the sandbox."""

from __future__ import annotations

import typing as t

import pytest

from flask_wechat.errors import APIError
from flask_wechat.sandbox import SANDBOX_OPENID

if t.TYPE_CHECKING:
    from flask_wechat.api import Client
    from flask_wechat.sandbox import Sandbox

BUTTONS: list[dict[str, t.Any]] = [
    {"type": "click", "name": "今日歌曲", "key": "V1001_TODAY_MUSIC"},
    {
        "name": "菜单",
        "sub_button": [{"type": "view", "name": "搜索", "url": "http://www.soso.com/"}],
    },
]


@pytest.mark.parametrize("form", ["dict", "list"])
def test_create_and_get(client: Client, sandbox: Sandbox, form: str) -> None:
    client.menus.create({"button": BUTTONS} if form == "dict" else BUTTONS)
    assert sandbox.menu == {"button": BUTTONS}
    names = [button["name"] for button in client.menus.get()["menu"]["button"]]
    assert names == ["今日歌曲", "菜单"]


def test_create_rejects_other_dicts(client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="button"):
        client.menus.create({"buttons": BUTTONS})
    assert sandbox.count("/cgi-bin/menu/create") == 0


def test_delete(client: Client, sandbox: Sandbox) -> None:
    client.menus.create(BUTTONS)
    client.menus.delete()
    assert sandbox.menu is None
    assert sandbox.count("/cgi-bin/menu/delete") == 1


def test_conditional(client: Client, sandbox: Sandbox) -> None:
    client.menus.create(BUTTONS)
    tag = client.tags.create("vip")
    client.tags.tag_users(tag["id"], [SANDBOX_OPENID])
    vip_only = [{"type": "click", "name": "会员专区", "key": "VIP"}]
    menuid = client.menus.add_conditional({"button": vip_only}, {"tag_id": str(tag["id"])})
    assert menuid.isdigit()
    menus = client.menus.get()
    assert [str(m["menuid"]) for m in menus["conditionalmenu"]] == [menuid]
    assert client.menus.try_match(SANDBOX_OPENID)["button"][0]["key"] == "VIP"

    client.menus.delete_conditional(menuid)
    assert client.menus.get()["conditionalmenu"] == []
    assert client.menus.try_match(SANDBOX_OPENID)["button"][0]["key"] == "V1001_TODAY_MUSIC"


def test_get_without_menu(client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(APIError) as info:
        client.menus.get()
    assert info.value.errcode == 46003
