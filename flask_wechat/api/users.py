"""Followers (用户管理): profiles, remarks and the list of every follower."""

from __future__ import annotations

import typing as t

from .base import APIModule
from .tags import chunks

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from .base import JSON

#: ``/cgi-bin/user/info/batchget`` takes at most 100 OpenIDs per call.
BATCHGET_LIMIT = 100
#: ``/cgi-bin/user/get`` answers at most 10000 OpenIDs per page.
USER_LIST_PAGE = 10000


class UserAPI(APIModule):
    """Read followers' profiles and list every follower."""

    def get(self, open_id: str, lang: str = "zh_CN") -> JSON:
        """One follower's profile (``subscribe`` is 0 once they unfollowed)."""
        return self.client.get("/cgi-bin/user/info", {"openid": open_id, "lang": lang})

    def get_many(self, open_ids: Iterable[str], lang: str = "zh_CN") -> list[dict[str, t.Any]]:
        """Profiles of many followers, fetched :data:`BATCHGET_LIMIT` at a time, in order."""
        profiles: list[dict[str, t.Any]] = []
        for chunk in chunks(open_ids, BATCHGET_LIMIT):
            body = {"user_list": [{"openid": open_id, "lang": lang} for open_id in chunk]}
            data = self.client.post("/cgi-bin/user/info/batchget", body, idempotent=True)
            profiles.extend(dict(item) for item in data.get("user_info_list") or ())
        return profiles

    def list_page(self, next_open_id: str | None = None) -> JSON:
        """One page of ``/cgi-bin/user/get`` as WeChat answers it: ``total``,
        ``count``, ``data.openid`` (up to :data:`USER_LIST_PAGE`), ``next_openid``."""
        params = {"next_openid": next_open_id} if next_open_id else None
        return self.client.get("/cgi-bin/user/get", params)

    def iter_open_ids(self, next_open_id: str | None = None) -> Iterator[str]:
        """Every follower's OpenID, following ``next_openid`` from page to page.

        Ends on an empty page (``count`` 0) or an empty ``next_openid``; a page
        that does not advance the cursor also ends it, so a confused answer can
        never loop forever.
        """
        cursor = next_open_id or None
        while True:
            page = self.list_page(cursor)
            open_ids = (page.get("data") or {}).get("openid") or []
            yield from open_ids
            following = page.get("next_openid") or None
            if not page.get("count") or not open_ids or not following or following == cursor:
                return
            cursor = following

    def set_remark(self, open_id: str, remark: str) -> JSON:
        """Set the remark (备注名) the account keeps for a follower (at most 30 chars)."""
        body = {"openid": open_id, "remark": remark}
        return self.client.post("/cgi-bin/user/info/updateremark", body, idempotent=True)
