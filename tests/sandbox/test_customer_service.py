"""The sandbox: customer-service messages, the typing indicator and kf accounts."""

from __future__ import annotations

from flask_wechat.sandbox import (
    Sandbox,
)

from .conftest import Api

# -- customer service --------------------------------------------------------------------


def test_custom_messages(api: Api, sandbox: Sandbox) -> None:
    text = {"touser": "oUser", "msgtype": "text", "text": {"content": "你好 ]]> 😀"}}
    assert api.post("/cgi-bin/message/custom/send", text) == {"errcode": 0, "errmsg": "ok"}
    image = {"touser": "oUser", "msgtype": "image", "image": {"media_id": "M"}}
    assert api.post("/cgi-bin/message/custom/send", image)["errcode"] == 0
    assert sandbox.sent == [{**text, "kind": "custom"}, {**image, "kind": "custom"}]

    bad = [
        ({"msgtype": "text", "text": {"content": "x"}}, 40003),
        ({"touser": "o", "msgtype": "fax", "fax": {}}, 40008),
        ({"touser": "o", "msgtype": "image", "text": {"content": "x"}}, 40008),
        ({"touser": "o", "msgtype": "text", "text": {"content": ""}}, 44004),
        ([1, 2], 47001),
    ]
    for body, expected in bad:
        assert api.post("/cgi-bin/message/custom/send", body)["errcode"] == expected
    assert len(sandbox.sent) == 2


def test_typing(api: Api) -> None:
    ok = api.post("/cgi-bin/message/custom/typing", {"touser": "o", "command": "Typing"})
    assert ok["errcode"] == 0
    bad = api.post("/cgi-bin/message/custom/typing", {"touser": "o", "command": "Dance"})
    assert bad["errcode"] == 40097


def test_kf_accounts(api: Api) -> None:
    add = api.post("/customservice/kfaccount/add", {"kf_account": "kf1@gh_x", "nickname": "客服一"})
    assert add == {"errcode": 0, "errmsg": "ok"}
    again = api.post("/customservice/kfaccount/add", {"kf_account": "kf1@gh_x", "nickname": "x"})
    assert again["errcode"] == 65406
    invalid = api.post("/customservice/kfaccount/add", {"kf_account": "no-at", "nickname": "x"})
    assert invalid["errcode"] == 65404
    api.post("/customservice/kfaccount/update", {"kf_account": "kf1@gh_x", "nickname": "客服"})
    (kf,) = api.get("/cgi-bin/customservice/getkflist")["kf_list"]
    assert kf["kf_account"] == "kf1@gh_x"
    assert kf["kf_nick"] == "客服"
    assert kf["kf_id"] == "1001"

    upload = api.raw(
        "POST",
        "/customservice/kfaccount/uploadheadimg",
        params={"access_token": api.token(), "kf_account": "kf1@gh_x"},
        files={"media": ("head.jpg", b"\xff\xd8\xff\xe0 jpeg", "image/jpeg")},
    ).json()
    assert upload["errcode"] == 0
    assert api.get("/cgi-bin/customservice/getkflist")["kf_list"][0]["kf_headimgurl"]

    assert api.post("/customservice/kfaccount/del", {"kf_account": "kf1@gh_x"})["errcode"] == 0
    assert api.post("/customservice/kfaccount/del", {"kf_account": "kf1@gh_x"})["errcode"] == 65401
    assert api.get("/cgi-bin/customservice/getkflist") == {"kf_list": []}
