"""User tags (用户标签) and tagging followers."""

from __future__ import annotations

import typing as t

from ..state import APIFault
from .base import Answer, Context, JSONDict, RouteTable, ok, page_of, to_int, to_text

routes = RouteTable()


def _tag_body(ctx: Context) -> JSONDict:
    tag = ctx.json().get("tag")
    if not isinstance(tag, dict):
        raise APIFault(47001)
    return tag


def _check_tag_name(ctx: Context, name: t.Any, tag_id: int | None = None) -> str:
    if not isinstance(name, str) or not name:
        raise APIFault(45157)
    if len(name.encode("utf-8")) > 30:  # WeChat counts bytes: 10 Chinese characters
        raise APIFault(45158)
    if any(other == name and i != tag_id for i, other in ctx.state.tags.items()):
        raise APIFault(45157)
    return name


def _user_tag(ctx: Context, value: t.Any) -> int:
    tag_id = to_int(value)
    if tag_id is None or tag_id not in ctx.state.tags:
        raise APIFault(45159)
    return tag_id


def _editable_tag(ctx: Context, value: t.Any) -> int:
    tag_id = _user_tag(ctx, value)
    if tag_id < 100:
        raise APIFault(45058)
    return tag_id


@routes.endpoint("/cgi-bin/tags/create", methods=("POST",))
def tags_create(ctx: Context) -> Answer:
    """Create a tag (ids from 100, at most 100 tags, names unique and ≤ 30 chars)."""
    name = _check_tag_name(ctx, _tag_body(ctx).get("name"))
    if sum(1 for tag_id in ctx.state.tags if tag_id >= 100) >= 100:
        raise APIFault(45056)
    tag_id = ctx.state.new_tag_id()
    ctx.state.tags[tag_id] = name
    return {"tag": {"id": tag_id, "name": name}}


@routes.endpoint("/cgi-bin/tags/get")
def tags_get(ctx: Context) -> Answer:
    """Every tag with its number of followers."""
    counts: dict[int, int] = {}
    for user in ctx.data.users.values():
        for tag_id in user.get("tagid_list", []):
            counts[tag_id] = counts.get(tag_id, 0) + 1
    return {
        "tags": [
            {"id": tag_id, "name": name, "count": counts.get(tag_id, 0)}
            for tag_id, name in sorted(ctx.state.tags.items())
        ]
    }


@routes.endpoint("/cgi-bin/tags/update", methods=("POST",))
def tags_update(ctx: Context) -> Answer:
    """Rename a tag."""
    tag = _tag_body(ctx)
    tag_id = _editable_tag(ctx, tag.get("id"))
    ctx.state.tags[tag_id] = _check_tag_name(ctx, tag.get("name"), tag_id)
    return ok()


@routes.endpoint("/cgi-bin/tags/delete", methods=("POST",))
def tags_delete(ctx: Context) -> Answer:
    """Delete a tag and take it off every follower."""
    tag_id = _editable_tag(ctx, _tag_body(ctx).get("id"))
    del ctx.state.tags[tag_id]
    for user in ctx.data.users.values():
        if tag_id in user.get("tagid_list", []):
            user["tagid_list"] = [i for i in user["tagid_list"] if i != tag_id]
    return ok()


@routes.endpoint("/cgi-bin/user/tag/get", methods=("POST",))
def tag_members(ctx: Context) -> Answer:
    """Followers with a tag, paged by ``next_openid``."""
    body = ctx.json()
    tag_id = _user_tag(ctx, body.get("tagid"))
    openids = [
        openid
        for openid in ctx.followers()
        if tag_id in ctx.data.users[openid].get("tagid_list", [])
    ]
    return page_of(ctx, openids, to_text(body.get("next_openid")))


def _batch(ctx: Context) -> tuple[list[JSONDict], int]:
    body = ctx.json()
    openids = body.get("openid_list")
    if not isinstance(openids, list) or not 1 <= len(openids) <= 50:
        raise APIFault(40032)
    tag_id = _user_tag(ctx, body.get("tagid"))
    users = []
    for openid in openids:
        user = ctx.data.users.get(openid) if isinstance(openid, str) else None
        if user is None:
            raise APIFault(40003)
        users.append(user)
    return users, tag_id


@routes.endpoint("/cgi-bin/tags/members/batchtagging", methods=("POST",))
def tags_batch_tag(ctx: Context) -> Answer:
    """Tag up to 50 followers (each may carry at most 20 tags)."""
    users, tag_id = _batch(ctx)
    for user in users:
        tags = user.setdefault("tagid_list", [])
        if tag_id not in tags and len(tags) >= 20:
            raise APIFault(45059)
    for user in users:
        if tag_id not in user["tagid_list"]:
            user["tagid_list"].append(tag_id)
    return ok()


@routes.endpoint("/cgi-bin/tags/members/batchuntagging", methods=("POST",))
def tags_batch_untag(ctx: Context) -> Answer:
    """Untag up to 50 followers."""
    users, tag_id = _batch(ctx)
    for user in users:
        user["tagid_list"] = [i for i in user.get("tagid_list", []) if i != tag_id]
    return ok()


@routes.endpoint("/cgi-bin/tags/getidlist", methods=("POST",))
def tags_of_user(ctx: Context) -> Answer:
    """The tags of one follower."""
    user = ctx.data.users.get(to_text(ctx.json().get("openid")))
    if user is None:
        raise APIFault(40003)
    return {"tagid_list": list(user.get("tagid_list", []))}
