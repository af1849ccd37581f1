"""Quotas, the current menu configuration, the blacklist and online staff
against the sandbox."""

from __future__ import annotations

import typing as t

import pytest

from flask_wechat.errors import APIError, QuotaExceeded
from flask_wechat.sandbox import SANDBOX_APP_ID, SANDBOX_OPENID

from .conftest import posted

if t.TYPE_CHECKING:
    from flask_wechat.api import Client
    from flask_wechat.sandbox import Sandbox


def test_clear_quota_lifts_45009(client: Client, sandbox: Sandbox) -> None:
    sandbox.fail("/cgi-bin/menu/get", 45009, times=None)
    with pytest.raises(QuotaExceeded):
        client.menus.get()
    client.operations.clear_quota()
    assert posted(sandbox, "/cgi-bin/clear_quota") == [{"appid": SANDBOX_APP_ID}]
    with pytest.raises(APIError) as info:
        client.menus.get()
    assert info.value.errcode == 46003  # no menu, but the quota is back
    for _ in range(9):
        client.operations.clear_quota()
    with pytest.raises(APIError) as info:
        client.operations.clear_quota()
    assert info.value.errcode == 48006


def test_current_selfmenu_info(client: Client, sandbox: Sandbox) -> None:
    assert client.operations.get_current_selfmenu_info()["is_menu_open"] == 0
    client.menus.create(
        {
            "button": [
                {"type": "click", "name": "今日", "key": "TODAY"},
                {
                    "name": "更多",
                    "sub_button": [{"type": "view", "name": "官网", "url": "https://example.com/"}],
                },
            ]
        }
    )
    info = client.operations.get_current_selfmenu_info()
    assert info["is_menu_open"] == 1
    first, more = info["selfmenu_info"]["button"]
    assert first["key"] == "TODAY"
    assert more["sub_button"]["list"][0]["url"] == "https://example.com/"


def test_blacklist(client: Client, sandbox: Sandbox) -> None:
    others = sandbox.add_users(2)
    client.operations.batch_blacklist([SANDBOX_OPENID, *others])
    listed = client.operations.get_blacklist()
    assert listed["total"] == 3
    assert listed["data"]["openid"] == [SANDBOX_OPENID, *others]
    client.operations.batch_unblacklist([SANDBOX_OPENID])
    assert client.operations.get_blacklist()["data"]["openid"] == others
    with pytest.raises(APIError) as info:
        client.operations.batch_blacklist(["oNOBODY"])
    assert info.value.errcode == 40003
    with pytest.raises(ValueError, match="1 to 20"):
        client.operations.batch_blacklist([SANDBOX_OPENID] * 21)


def test_online_kf_list(client: Client, sandbox: Sandbox) -> None:
    client.customer_service.add_account("kf2001@sandbox", "小王")
    client.customer_service.add_account("kf2002@sandbox", "小李")
    assert client.operations.online_kf_list() == []
    sandbox.set_kf_online("kf2002@sandbox", accepted_case=2)
    (online,) = client.operations.online_kf_list()
    assert (online["kf_account"], online["status"], online["accepted_case"]) == (
        "kf2002@sandbox",
        1,
        2,
    )
