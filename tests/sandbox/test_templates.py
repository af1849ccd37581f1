"""The sandbox: template messages and the account's templates."""

from __future__ import annotations

import requests

from flask_wechat.sandbox import (
    SANDBOX_APP_ID,
    SANDBOX_OPENID,
    Sandbox,
)

from .conftest import Api, Clock, errcode

# -- templates ---------------------------------------------------------------------------


def test_templates(api: Api, sandbox: Sandbox) -> None:
    assert api.post(
        "/cgi-bin/template/api_set_industry", {"industry_id1": "1", "industry_id2": "4"}
    ) == {"errcode": 0, "errmsg": "ok"}
    industry = api.get("/cgi-bin/template/get_industry")
    assert industry["primary_industry"]["first_class"] == "IT科技"
    assert industry["secondary_industry"]["second_class"] == "电子技术"
    bad_industry = {"industry_id1": "0", "industry_id2": "4"}
    assert api.post("/cgi-bin/template/api_set_industry", bad_industry)["errcode"] == 40102

    added = api.post("/cgi-bin/template/api_add_template", {"template_id_short": "TM00015"})
    assert added["errcode"] == 0
    template_id = added["template_id"]
    listed = api.get("/cgi-bin/template/get_all_private_template")["template_list"]
    assert [tpl["template_id"] for tpl in listed] == [template_id]

    message = {
        "touser": SANDBOX_OPENID,
        "template_id": template_id,
        "url": "https://example.com",
        "data": {"first": {"value": "您好", "color": "#173177"}},
    }
    sent = api.post("/cgi-bin/message/template/send", message)
    assert sent["errcode"] == 0
    assert isinstance(sent["msgid"], int)
    assert sandbox.sent == [{**message, "kind": "template", "app_id": SANDBOX_APP_ID}]
    unknown = api.post("/cgi-bin/message/template/send", {**message, "template_id": "nope"})
    assert unknown["errcode"] == 40037
    sandbox.users[SANDBOX_OPENID]["subscribe"] = 0
    assert api.post("/cgi-bin/message/template/send", message)["errcode"] == 43004

    delete = {"template_id": template_id}
    assert api.post("/cgi-bin/template/del_private_template", delete)["errcode"] == 0
    assert api.post("/cgi-bin/template/del_private_template", delete)["errcode"] == 40037


def test_client_msg_id_blocks_a_repeat_for_ten_minutes(session: requests.Session) -> None:
    clock = Clock()
    with Sandbox(10**9, clock=clock) as sandbox:
        api = Api(sandbox, session)
        template_id = api.post("/cgi-bin/template/api_add_template", {"template_id_short": "T"})[
            "template_id"
        ]
        (other,) = sandbox.add_users(1)
        message = {"touser": SANDBOX_OPENID, "template_id": template_id, "client_msg_id": "m-1"}
        assert errcode(api.post("/cgi-bin/message/template/send", message)) == 0
        assert errcode(api.post("/cgi-bin/message/template/send", message)) == 43105
        # another user, or no client_msg_id, is another message
        assert (
            errcode(api.post("/cgi-bin/message/template/send", {**message, "touser": other})) == 0
        )
        plain = {k: v for k, v in message.items() if k != "client_msg_id"}
        assert errcode(api.post("/cgi-bin/message/template/send", plain)) == 0
        assert errcode(api.post("/cgi-bin/message/template/send", plain)) == 0
        clock.now += 600
        assert errcode(api.post("/cgi-bin/message/template/send", message)) == 0
        assert len(sandbox.sent) == 5
