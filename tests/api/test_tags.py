"""Tags against the sandbox."""

from __future__ import annotations

import typing as t

import pytest

from flask_wechat.errors import APIError

from .conftest import posted

if t.TYPE_CHECKING:
    from flask_wechat.api import Client
    from flask_wechat.sandbox import Sandbox


def test_create_list_update_delete(client: Client, sandbox: Sandbox) -> None:
    tag = client.tags.create("广东")
    assert tag["name"] == "广东"
    assert isinstance(tag["id"], int)
    client.tags.update(tag["id"], "广东人")
    assert {"id": tag["id"], "name": "广东人"}.items() <= next(
        item for item in client.tags.list() if item["id"] == tag["id"]
    ).items()
    client.tags.delete(tag["id"])
    assert all(item["id"] != tag["id"] for item in client.tags.list())


def batch_sizes(sandbox: Sandbox, path: str) -> list[int]:
    return [len(body["openid_list"]) for body in posted(sandbox, path)]


def test_tag_users_in_batches_of_50(client: Client, sandbox: Sandbox) -> None:
    users = sandbox.add_users(120)
    tag = client.tags.create("vip")
    client.tags.tag_users(tag["id"], iter(users))  # any iterable
    assert batch_sizes(sandbox, "/cgi-bin/tags/members/batchtagging") == [50, 50, 20]
    assert client.tags.tags_of(users[0]) == [tag["id"]]
    assert client.tags.tags_of(users[-1]) == [tag["id"]]

    client.tags.untag_users(tag["id"], users[:60])
    assert batch_sizes(sandbox, "/cgi-bin/tags/members/batchuntagging") == [50, 10]
    assert client.tags.tags_of(users[0]) == []
    assert client.tags.tags_of(users[60]) == [tag["id"]]


def test_members_follows_paging(client: Client, sandbox: Sandbox) -> None:
    users = sandbox.add_users(25)
    sandbox.page_size = 10
    tag = client.tags.create("paged")
    client.tags.tag_users(tag["id"], users)
    assert list(client.tags.members(tag["id"])) == users
    cursors = [body["next_openid"] for body in posted(sandbox, "/cgi-bin/user/tag/get")]
    assert cursors == ["", users[9], users[19], users[24]]


def test_system_tag_cannot_be_renamed(client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(APIError) as info:
        client.tags.update(2, "星星")
    assert info.value.errcode == 45058


def test_members_of_empty_tag(client: Client, sandbox: Sandbox) -> None:
    tag = client.tags.create("empty")
    assert list(client.tags.members(tag["id"])) == []
