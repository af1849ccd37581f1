"""The sandbox: user tags and tagged followers."""

from __future__ import annotations

from flask_wechat.sandbox import (
    Sandbox,
)

from .conftest import Api

# -- tags --------------------------------------------------------------------------------


def test_tags(api: Api, sandbox: Sandbox) -> None:
    created = api.post("/cgi-bin/tags/create", {"tag": {"name": "广东"}})
    assert created == {"tag": {"id": 100, "name": "广东"}}
    assert api.post("/cgi-bin/tags/create", {"tag": {"name": "北京"}})["tag"]["id"] == 101
    assert api.post("/cgi-bin/tags/create", {"tag": {"name": "广东"}})["errcode"] == 45157
    assert api.post("/cgi-bin/tags/create", {"tag": {"name": ""}})["errcode"] == 45157
    # WeChat counts a tag name's bytes (UTF-8): 30 of them, 10 Chinese characters
    assert api.post("/cgi-bin/tags/create", {"tag": {"name": "x" * 31}})["errcode"] == 45158
    assert api.post("/cgi-bin/tags/create", {"tag": {"name": "标" * 11}})["errcode"] == 45158
    assert api.post("/cgi-bin/tags/create", {"tag": {"name": "标" * 10}})["tag"]["id"] == 102

    users = sandbox.add_users(3)
    tagging = {"openid_list": users[:2], "tagid": 100}
    assert api.post("/cgi-bin/tags/members/batchtagging", tagging)["errcode"] == 0
    tags = {tag["id"]: tag for tag in api.get("/cgi-bin/tags/get")["tags"]}
    assert tags[100] == {"id": 100, "name": "广东", "count": 2}
    assert tags[2]["name"] == "星标组"
    assert api.post("/cgi-bin/tags/getidlist", {"openid": users[0]}) == {"tagid_list": [100]}
    members = api.post("/cgi-bin/user/tag/get", {"tagid": 100, "next_openid": ""})
    assert members["count"] == 2
    assert members["data"]["openid"] == users[:2]

    bad_user = {"openid_list": ["ghost"], "tagid": 100}
    assert api.post("/cgi-bin/tags/members/batchtagging", bad_user)["errcode"] == 40003
    bad_tag = {"openid_list": users, "tagid": 999}
    assert api.post("/cgi-bin/tags/members/batchtagging", bad_tag)["errcode"] == 45159
    too_many = {"openid_list": ["o"] * 51, "tagid": 100}
    assert api.post("/cgi-bin/tags/members/batchtagging", too_many)["errcode"] == 40032

    untag = {"openid_list": [users[0]], "tagid": 100}
    assert api.post("/cgi-bin/tags/members/batchuntagging", untag)["errcode"] == 0
    assert api.post("/cgi-bin/tags/getidlist", {"openid": users[0]}) == {"tagid_list": []}

    rename = {"tag": {"id": 100, "name": "广东人"}}
    assert api.post("/cgi-bin/tags/update", rename)["errcode"] == 0
    assert api.post("/cgi-bin/tags/update", {"tag": {"id": 2, "name": "x"}})["errcode"] == 45058
    assert api.post("/cgi-bin/tags/delete", {"tag": {"id": 100}})["errcode"] == 0
    assert sandbox.users[users[1]]["tagid_list"] == []
    assert api.post("/cgi-bin/tags/delete", {"tag": {"id": 100}})["errcode"] == 45159


def test_too_many_tags(api: Api) -> None:
    for i in range(100):
        assert "tag" in api.post("/cgi-bin/tags/create", {"tag": {"name": f"t{i}"}})
    assert api.post("/cgi-bin/tags/create", {"tag": {"name": "one more"}})["errcode"] == 45056


def test_tag_members_are_paged(api: Api, sandbox: Sandbox) -> None:
    sandbox.page_size = 2
    users = sandbox.add_users(5)
    tag_id = api.post("/cgi-bin/tags/create", {"tag": {"name": "all"}})["tag"]["id"]
    api.post("/cgi-bin/tags/members/batchtagging", {"openid_list": users, "tagid": tag_id})
    seen: list[str] = []
    cursor = ""
    while True:
        page = api.post("/cgi-bin/user/tag/get", {"tagid": tag_id, "next_openid": cursor})
        if page["count"] == 0:
            break
        seen += page["data"]["openid"]
        cursor = page["next_openid"]
    assert seen == users
