"""Followers against the sandbox."""

from __future__ import annotations

import typing as t

import pytest

from flask_wechat.errors import APIError
from flask_wechat.sandbox import SANDBOX_OPENID

from .conftest import posted

if t.TYPE_CHECKING:
    from flask_wechat.api import Client
    from flask_wechat.sandbox import Sandbox


@pytest.fixture
def followers(sandbox: Sandbox) -> list[str]:
    """25 followers (the sandbox's own one plus 24), 10 per page of ``user/get``."""
    sandbox.add_users(24)
    sandbox.page_size = 10
    openids = sandbox.followers()
    assert len(openids) == 25
    return openids


def test_iter_open_ids_pages_through_every_follower(
    client: Client, sandbox: Sandbox, followers: list[str]
) -> None:
    open_ids = client.users.iter_open_ids()
    assert sandbox.count("/cgi-bin/user/get") == 0  # lazy: nothing fetched yet
    assert list(open_ids) == followers
    # 10 + 10 + 5, then the empty page that ends the list
    cursors = [c.params.get("next_openid") for c in sandbox.calls if c.path == "/cgi-bin/user/get"]
    assert cursors == [None, followers[9], followers[19], followers[24]]


def test_iter_open_ids_stops_early_when_the_caller_does(
    client: Client, sandbox: Sandbox, followers: list[str]
) -> None:
    open_ids = client.users.iter_open_ids()
    assert [next(open_ids) for _ in range(12)] == followers[:12]
    assert sandbox.count("/cgi-bin/user/get") == 2


def test_iter_open_ids_from_a_cursor(
    client: Client, sandbox: Sandbox, followers: list[str]
) -> None:
    assert list(client.users.iter_open_ids(followers[9])) == followers[10:]


def test_iter_open_ids_with_exactly_full_pages(client: Client, sandbox: Sandbox) -> None:
    sandbox.add_users(19)
    sandbox.page_size = 10
    assert list(client.users.iter_open_ids()) == sandbox.followers()
    assert sandbox.count("/cgi-bin/user/get") == 3  # 10 + 10 + the empty page


def test_iter_open_ids_skips_who_unfollowed(client: Client, sandbox: Sandbox) -> None:
    gone, *staying = sandbox.add_users(3)
    sandbox.users[gone]["subscribe"] = 0
    assert list(client.users.iter_open_ids()) == [SANDBOX_OPENID, *staying]


def test_list_page_is_raw(client: Client, sandbox: Sandbox, followers: list[str]) -> None:
    page = client.users.list_page()
    assert page["total"] == 25
    assert page["count"] == 10
    assert page["data"]["openid"] == followers[:10]
    assert page["next_openid"] == followers[9]
    last = client.users.list_page(followers[24])
    assert last["count"] == 0
    assert last["next_openid"] == ""


def test_get_and_remark(client: Client, sandbox: Sandbox) -> None:
    client.users.set_remark(SANDBOX_OPENID, "胖子")
    profile = client.users.get(SANDBOX_OPENID, lang="en")
    assert profile["openid"] == SANDBOX_OPENID
    assert profile["remark"] == "胖子"
    assert sandbox.users[SANDBOX_OPENID]["remark"] == "胖子"
    (call,) = [c for c in sandbox.calls if c.path == "/cgi-bin/user/info"]
    assert call.params["lang"] == "en"


def test_get_many_in_batches_of_100(client: Client, sandbox: Sandbox) -> None:
    users = sandbox.add_users(150)
    profiles = client.users.get_many(users, lang="en")
    assert [p["openid"] for p in profiles] == users
    batches = posted(sandbox, "/cgi-bin/user/info/batchget")
    assert [len(b["user_list"]) for b in batches] == [100, 50]
    assert batches[0]["user_list"][0] == {"openid": users[0], "lang": "en"}


def test_get_many_of_nobody(client: Client, sandbox: Sandbox) -> None:
    assert client.users.get_many([]) == []
    assert sandbox.count("/cgi-bin/user/info/batchget") == 0


def test_get_unknown_user(client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(APIError) as info:
        client.users.get("o-nobody")
    assert info.value.errcode == 40003
