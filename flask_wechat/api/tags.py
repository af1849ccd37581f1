"""User tags (标签): the account's tags and which followers carry them."""

from __future__ import annotations

import typing as t

from .base import APIModule

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from .base import JSON

#: ``/cgi-bin/tags/members/batch(un)tagging`` takes at most 50 OpenIDs per call.
BATCH_TAGGING_LIMIT = 50

_Tags: t.TypeAlias = "list[dict[str, t.Any]]"
_TagIds: t.TypeAlias = "list[int]"


def chunks(items: Iterable[str], size: int) -> Iterator[list[str]]:
    """``items`` in lists of at most ``size``."""
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class TagAPI(APIModule):
    """Create tags, tag and untag followers, list a tag's followers."""

    def create(self, name: str) -> dict[str, t.Any]:
        """Create a tag (name at most 30 bytes); returns ``{"id": ..., "name": ...}``."""
        data = self.client.post("/cgi-bin/tags/create", {"tag": {"name": name}})
        return dict(data["tag"])

    def list(self) -> _Tags:
        """Every tag: ``id``, ``name`` and ``count`` (followers carrying it)."""
        data = self.client.get("/cgi-bin/tags/get")
        return [dict(tag) for tag in data.get("tags") or ()]

    def update(self, tag_id: int, name: str) -> JSON:
        """Rename a tag."""
        body = {"tag": {"id": int(tag_id), "name": name}}
        return self.client.post("/cgi-bin/tags/update", body, idempotent=True)

    def delete(self, tag_id: int) -> JSON:
        """Delete a tag (WeChat refuses while it has over 100,000 followers)."""
        return self.client.post("/cgi-bin/tags/delete", {"tag": {"id": int(tag_id)}})

    def members(self, tag_id: int, next_open_id: str | None = None) -> Iterator[str]:
        """Every OpenID carrying the tag, fetched page by page (``next_openid``)."""
        cursor = next_open_id or ""
        while True:
            body = {"tagid": int(tag_id), "next_openid": cursor}
            page = self.client.post("/cgi-bin/user/tag/get", body, idempotent=True)
            open_ids = (page.get("data") or {}).get("openid") or []
            yield from open_ids
            following = page.get("next_openid") or ""
            if not page.get("count") or not open_ids or not following or following == cursor:
                return
            cursor = following

    def tag_users(self, tag_id: int, open_ids: Iterable[str]) -> None:
        """Put the tag on followers, in batches of :data:`BATCH_TAGGING_LIMIT`."""
        self._batch("/cgi-bin/tags/members/batchtagging", tag_id, open_ids)

    def untag_users(self, tag_id: int, open_ids: Iterable[str]) -> None:
        """Take the tag off followers, in batches of :data:`BATCH_TAGGING_LIMIT`."""
        self._batch("/cgi-bin/tags/members/batchuntagging", tag_id, open_ids)

    def tags_of(self, open_id: str) -> _TagIds:
        """The ids of the tags a follower carries."""
        data = self.client.post("/cgi-bin/tags/getidlist", {"openid": open_id}, idempotent=True)
        return [int(tag_id) for tag_id in data.get("tagid_list") or ()]

    def _batch(self, path: str, tag_id: int, open_ids: Iterable[str]) -> None:
        # Tagging twice is harmless, so a timed-out batch may be retried.
        for chunk in chunks(open_ids, BATCH_TAGGING_LIMIT):
            self.client.post(path, {"openid_list": chunk, "tagid": int(tag_id)}, idempotent=True)
