"""The sandbox: WeCom member OAuth and app messages."""

from __future__ import annotations

import typing as t
from urllib.parse import parse_qs, urlsplit

from flask_wechat.sandbox import (
    SANDBOX_AGENT_ID,
    SANDBOX_CORP_ID,
    SANDBOX_USERID,
    Sandbox,
)

from .conftest import JSON, Api

# -- WeCom -------------------------------------------------------------------------------


def test_work_oauth(api: Api, sandbox: Sandbox) -> None:
    code = sandbox.oauth_code("zhangsan", app_id=SANDBOX_CORP_ID)
    answer = api.get("/cgi-bin/user/getuserinfo", work=True, code=code)
    assert answer == {"errcode": 0, "errmsg": "ok", "UserId": "zhangsan", "DeviceId": ""}
    assert api.get("/cgi-bin/user/getuserinfo", work=True, code=code)["errcode"] == 40163
    assert api.get("/cgi-bin/user/getuserinfo", work=True, code="nope")["errcode"] == 40029

    response = api.raw(
        "GET",
        "/connect/oauth2/authorize",
        params={
            "appid": SANDBOX_CORP_ID,
            "redirect_uri": "https://example.com/cb",
            "response_type": "code",
            "scope": "snsapi_base",
        },
        allow_redirects=False,
    )
    new_code = parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]
    newer = api.get("/cgi-bin/auth/getuserinfo", work=True, code=new_code)
    assert newer["userid"] == SANDBOX_USERID


def test_work_messages(api: Api, sandbox: Sandbox) -> None:
    message = {
        "touser": "zhangsan|lisi",
        "msgtype": "text",
        "agentid": 1000002,
        "text": {"content": "你的快递已到"},
    }
    answer = api.post("/cgi-bin/message/send", message, work=True)
    assert answer["errcode"] == 0
    assert answer["invaliduser"] == ""
    assert sandbox.sent == [{**message, "kind": "work", "app_id": SANDBOX_CORP_ID}]
    cases: list[tuple[JSON, int]] = [
        ({"agentid": None}, 41011),
        ({"agentid": "abc"}, 40056),
        ({"msgtype": "fax"}, 40008),
        ({"touser": ""}, 81013),
        ({"text": {"content": ""}}, 44004),
    ]
    for change, expected in cases:
        assert api.post("/cgi-bin/message/send", {**message, **change}, work=True)["errcode"] == (
            expected
        )
    assert len(sandbox.sent) == 1
    # an Official Account token may not send WeCom messages
    assert api.post("/cgi-bin/message/send", message)["errcode"] == 48001


def test_each_wecom_app_has_its_own_token_and_tags_its_sends(api: Api, sandbox: Sandbox) -> None:
    second = sandbox.register(SANDBOX_CORP_ID, "second-app-secret", kind="work")

    def gettoken(secret: str) -> JSON:
        params = {"corpid": SANDBOX_CORP_ID, "corpsecret": secret}
        return t.cast(JSON, api.raw("GET", "/cgi-bin/gettoken", params=params).json())

    first_token = api.work_token()
    second_token = gettoken("second-app-secret")["access_token"]
    assert first_token != second_token
    assert gettoken("nope")["errcode"] == 40001
    message = {"touser": "@all", "msgtype": "text", "text": {"content": "hi"}}
    for token, agent_id in ((first_token, SANDBOX_AGENT_ID), (second_token, second.agent_id)):
        body = {**message, "agentid": agent_id}
        assert api.post("/cgi-bin/message/send", body, access_token=token)["errcode"] == 0
    assert [(m["app_id"], m["agentid"]) for m in sandbox.sent] == [
        (SANDBOX_CORP_ID, SANDBOX_AGENT_ID),
        (SANDBOX_CORP_ID, second.agent_id),
    ]
    sends = [c for c in sandbox.calls if c.path == "/cgi-bin/message/send"]
    assert [(c.app_id, c.agent_id) for c in sends] == [
        (SANDBOX_CORP_ID, SANDBOX_AGENT_ID),
        (SANDBOX_CORP_ID, second.agent_id),
    ]
    tokens = [c for c in sandbox.calls if c.path == "/cgi-bin/gettoken"]
    assert [c.agent_id for c in tokens] == [SANDBOX_AGENT_ID, second.agent_id, None]
