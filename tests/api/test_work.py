"""WeCom app calls against the sandbox."""

from __future__ import annotations

import typing as t
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from flask_wechat.errors import APIError, InvalidCode
from flask_wechat.sandbox import SANDBOX_CORP_ID, SANDBOX_CORP_SECRET, SANDBOX_USERID

from .conftest import WORK_AGENT_ID

if t.TYPE_CHECKING:
    from flask_wechat.api import Client
    from flask_wechat.sandbox import Sandbox

    from .conftest import ClientFactory


def test_send_text_to_everyone(work_client: Client, sandbox: Sandbox) -> None:
    work_client.work.send_text("系统维护通知")
    assert len(sandbox.sent) == 1
    message = sandbox.sent[0]
    assert message["kind"] == "work"
    assert message["touser"] == "@all"
    assert message["agentid"] == WORK_AGENT_ID
    assert message["msgtype"] == "text"
    assert message["text"] == {"content": "系统维护通知"}
    assert message["safe"] == 0
    assert sandbox.count("/cgi-bin/gettoken") == 1
    (call,) = [c for c in sandbox.calls if c.path == "/cgi-bin/gettoken"]
    assert call.params["corpid"] == SANDBOX_CORP_ID


def test_send_message_to_lists(work_client: Client, sandbox: Sandbox) -> None:
    work_client.work.send_message(
        "markdown",
        {"content": "**hi**"},
        touser=["zhangsan", "lisi"],
        toparty=[1, 2],
        totag="3",
        agent_id=1000005,
        safe=True,
    )
    message = sandbox.sent[0]
    assert message["touser"] == "zhangsan|lisi"
    assert message["toparty"] == "1|2"
    assert message["totag"] == "3"
    assert message["agentid"] == 1000005
    assert message["markdown"] == {"content": "**hi**"}
    assert message["safe"] == 1


def test_send_needs_recipients(work_client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="touser"):
        work_client.work.send_text("nobody", touser=None)
    assert sandbox.sent == []


def test_send_needs_an_agent_id(make_client: ClientFactory, sandbox: Sandbox) -> None:
    client = make_client(
        WECHAT_KIND="work", WECHAT_APP_ID=SANDBOX_CORP_ID, WECHAT_APP_SECRET=SANDBOX_CORP_SECRET
    )
    with pytest.raises(ValueError, match="WECHAT_AGENT_ID"):
        client.work.send_text("hello")
    client.work.send_text("hello", agent_id=7)
    assert sandbox.sent[0]["agentid"] == 7


def test_get_user_info(work_client: Client, sandbox: Sandbox) -> None:
    code = sandbox.oauth_code("zhangsan", app_id=SANDBOX_CORP_ID)
    info = work_client.work.get_user_info(code)
    assert info["UserId"] == "zhangsan"
    (call,) = [c for c in sandbox.calls if c.path == "/cgi-bin/user/getuserinfo"]
    assert call.params["code"] == code


def test_get_user_info_bad_code(work_client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(APIError) as info:
        work_client.work.get_user_info("not-a-code")
    assert info.value.errcode == 40029


def test_oauth_url_names_the_agent(work_client: Client, sandbox: Sandbox) -> None:
    url = work_client.oauth.authorize_url("https://corp.example/cb", state="x")
    assert f"&state=x&agentid={WORK_AGENT_ID}#wechat_redirect" in url
    response = requests.get(url, allow_redirects=False, timeout=5)
    code = dict(parse_qsl(urlsplit(response.headers["Location"]).query))["code"]
    assert work_client.work.get_user_info(code)["UserId"] == SANDBOX_USERID


@pytest.mark.parametrize("kind", ["mp", "work"])
def test_callback_ip(make_client: ClientFactory, sandbox: Sandbox, kind: str) -> None:
    client = make_client(**sandbox.flask_config(kind))  # a WeCom one names its AgentID
    assert client.callback_ip() == ["127.0.0.1", "::1"]
    assert sandbox.count("/cgi-bin/getcallbackip") == 1


def test_menus_name_the_agent(work_client: Client, sandbox: Sandbox) -> None:
    buttons = [{"type": "click", "name": "打卡", "key": "CHECK_IN"}]
    work_client.menus.create(buttons)
    assert work_client.menus.get()["menu"]["button"][0]["key"] == "CHECK_IN"
    work_client.menus.delete()
    calls = [c for c in sandbox.calls if c.path.startswith("/cgi-bin/menu/")]
    assert [c.params.get("agentid") for c in calls] == [str(WORK_AGENT_ID)] * 3
    assert sandbox.menu is None  # the Official Account's menu is its own


def test_official_account_menus_carry_no_agentid(client: Client, sandbox: Sandbox) -> None:
    client.menus.create([{"type": "click", "name": "今日", "key": "TODAY"}])
    (call,) = [c for c in sandbox.calls if c.path == "/cgi-bin/menu/create"]
    assert "agentid" not in call.params


def test_auth_user_info_and_detail(work_client: Client, sandbox: Sandbox) -> None:
    sandbox.add_member("lisi", "李四", mobile="13900000000")
    code = sandbox.oauth_code("lisi", "snsapi_privateinfo", app_id=SANDBOX_CORP_ID)
    info = work_client.work.auth_user_info(code)
    assert info["userid"] == "lisi"
    (call,) = [c for c in sandbox.calls if c.path == "/cgi-bin/auth/getuserinfo"]
    assert call.params["code"] == code
    detail = work_client.work.auth_user_detail(info["user_ticket"])
    assert detail["userid"] == "lisi"
    assert detail["mobile"] == "13900000000"
    assert [c.json for c in sandbox.calls if c.path == "/cgi-bin/auth/getuserdetail"] == [
        {"user_ticket": info["user_ticket"]}
    ]
    with pytest.raises(APIError) as refused:
        work_client.work.auth_user_detail("not-a-ticket")
    assert refused.value.errcode == 40129
    with pytest.raises(APIError) as used:
        work_client.work.auth_user_info(code)  # a code works once
    assert used.value.errcode == 40163
    with pytest.raises(InvalidCode):
        work_client.work.auth_user_info("not-a-code")


def test_get_user(work_client: Client, sandbox: Sandbox) -> None:
    member = work_client.work.get_user(SANDBOX_USERID)
    assert member["userid"] == SANDBOX_USERID
    assert "mobile" not in member  # only getuserdetail tells it
    (call,) = [c for c in sandbox.calls if c.path == "/cgi-bin/user/get"]
    assert call.params["userid"] == SANDBOX_USERID
    with pytest.raises(APIError) as info:
        work_client.work.get_user("nobody")
    assert info.value.errcode == 60111


def test_user_get_still_lists_followers_of_an_official_account(
    client: Client, sandbox: Sandbox
) -> None:
    assert client.get("/cgi-bin/user/get")["total"] == 1
