"""Drafts (草稿箱) and free publishing (发布能力) of Official Account articles.

An article is written as a draft (:meth:`DraftAPI.add`), published with
:meth:`FreePublishAPI.submit` (asynchronous: a ``PUBLISHJOBFINISH`` event and
:meth:`FreePublishAPI.get` tell the outcome) and removed with
:meth:`FreePublishAPI.delete`.

https://developers.weixin.qq.com/doc/offiaccount/Draft_Box/Add_draft.html and
https://developers.weixin.qq.com/doc/offiaccount/Publish/Publish.html
"""

from __future__ import annotations

import typing as t

from .base import APIModule

if t.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .base import JSON

#: An article: ``title``, ``content`` (HTML), ``thumb_media_id`` (a permanent
#: image or thumb), optional ``author``, ``digest``, ``content_source_url``,
#: ``need_open_comment``, ``only_fans_can_comment``.
Article: t.TypeAlias = "Mapping[str, t.Any]"


class DraftAPI(APIModule):
    """``/cgi-bin/draft/*``."""

    def add(self, articles: Sequence[Article]) -> str:
        """Save a draft of one or more (at most 8) articles; returns its ``media_id``."""
        body = {"articles": [dict(article) for article in articles]}
        return str(self.client.post("/cgi-bin/draft/add", body)["media_id"])

    def get(self, media_id: str) -> list[dict[str, t.Any]]:
        """The articles of a draft (``news_item``)."""
        data = self.client.post("/cgi-bin/draft/get", {"media_id": media_id}, idempotent=True)
        return [dict(item) for item in data.get("news_item") or ()]

    def delete(self, media_id: str) -> JSON:
        """Delete a draft."""
        return self.client.post("/cgi-bin/draft/delete", {"media_id": media_id})

    def batchget(self, offset: int = 0, count: int = 20, no_content: bool = False) -> JSON:
        """One page (``count`` 1-20) of drafts: ``total_count``, ``item_count``,
        ``item`` (``media_id``, ``content.news_item``, ``update_time``)."""
        body = {"offset": offset, "count": count, "no_content": 1 if no_content else 0}
        return self.client.post("/cgi-bin/draft/batchget", body, idempotent=True)


class FreePublishAPI(APIModule):
    """``/cgi-bin/freepublish/*``."""

    def submit(self, media_id: str) -> str:
        """Publish the draft ``media_id``; returns the ``publish_id`` to follow."""
        return str(
            self.client.post("/cgi-bin/freepublish/submit", {"media_id": media_id})["publish_id"]
        )

    def get(self, publish_id: str) -> JSON:
        """The state of a publication: ``publish_status`` (0 done, 1 publishing,
        2 original-check failed, ...), ``article_id``, ``article_detail``."""
        return self.client.post(
            "/cgi-bin/freepublish/get", {"publish_id": publish_id}, idempotent=True
        )

    def delete(self, article_id: str, index: int = 0) -> JSON:
        """Delete a published article (``index`` 1-based; 0: every article of it)."""
        return self.client.post(
            "/cgi-bin/freepublish/delete", {"article_id": article_id, "index": index}
        )
