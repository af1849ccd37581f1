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


def test_api_quota_counts_calls_per_path(client: Client, sandbox: Sandbox) -> None:
    client.menus.create({"button": [{"type": "click", "name": "a", "key": "k"}]})
    client.menus.create({"button": [{"type": "click", "name": "b", "key": "k"}]})
    assert client.operations.get_api_quota("/cgi-bin/menu/create") == {
        "daily_limit": 1000,
        "used": 2,
        "remain": 998,
    }
    assert client.operations.get_api_quota("/cgi-bin/token")["used"] == 1
    assert posted(sandbox, "/cgi-bin/openapi/quota/get")[0] == {"cgi_path": "/cgi-bin/menu/create"}


def test_api_quota_refuses_what_wechat_refuses(client: Client) -> None:
    for cgi_path, errcode in (
        ("https://api.weixin.qq.com/cgi-bin/menu/create", 76003),
        ("cgi-bin/menu/create", 76003),
        ("/sns/oauth2/access_token", 76022),
        ("/cgi-bin/no/such/api", 76021),
    ):
        with pytest.raises(APIError) as info:
            client.operations.get_api_quota(cgi_path)
        assert info.value.errcode == errcode, cgi_path


def test_daily_quota_runs_out_with_45009(client: Client, sandbox: Sandbox) -> None:
    sandbox.set_daily_limit("/cgi-bin/menu/get", 2)
    for _ in range(2):
        with pytest.raises(APIError) as info:
            client.menus.get()
        assert info.value.errcode == 46003  # no menu yet, but answered
    with pytest.raises(QuotaExceeded) as exceeded:
        client.menus.get()
    assert exceeded.value.rid is not None
    assert client.operations.get_api_quota("/cgi-bin/menu/get") == {
        "daily_limit": 2,
        "used": 2,
        "remain": 0,
    }
    client.operations.clear_quota()
    assert client.operations.get_api_quota("/cgi-bin/menu/get")["used"] == 0


def test_rid_info_of_a_failed_call(client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(APIError) as info:
        client.post("/cgi-bin/message/custom/send", {"msgtype": "text", "text": {"content": "x"}})
    rid = info.value.rid
    assert rid is not None
    request = client.operations.get_rid_info(rid)
    assert set(request) == {
        "invoke_time",
        "cost_in_ms",
        "request_url",
        "request_body",
        "response_body",
        "client_ip",
    }
    assert rid in request["response_body"]
    assert '"msgtype":"text"' in request["request_body"]
    assert client.access_token not in request["request_url"]  # cut short, as WeChat does
    assert request["request_url"].startswith("access_token=")
    assert request["client_ip"] == "127.0.0.1"


def test_rid_info_refuses_unknown_and_malformed_rids(client: Client) -> None:
    with pytest.raises(APIError) as info:
        client.operations.get_rid_info("6638c156-2d826832-17af344b")
    assert info.value.errcode == 76001
    with pytest.raises(APIError) as info:
        client.operations.get_rid_info("not a rid")
    assert info.value.errcode == 76002


def test_rid_info_is_only_for_the_same_account(
    make_client: t.Callable[..., Client], client: Client, sandbox: Sandbox
) -> None:
    with pytest.raises(APIError) as info:
        client.menus.get()
    assert info.value.rid is not None
    sandbox.register("wxsecondaccount0001", "second-secret")
    other = make_client(WECHAT_APP_ID="wxsecondaccount0001", WECHAT_APP_SECRET="second-secret")
    with pytest.raises(APIError) as refused:
        other.operations.get_rid_info(info.value.rid)
    assert refused.value.errcode == 76001
