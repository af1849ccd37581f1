"""Permanent material (永久素材) of an Official Account, and images for articles.

Unlike temporary media (:mod:`flask_wechat.api.media`, 3 days), permanent
material stays until deleted (at most 100000 images, 1000 of other types).
Articles are made with drafts (:mod:`flask_wechat.api.drafts`); their cover is a
permanent ``image`` or ``thumb``, and images inside their HTML are uploaded with
:meth:`MaterialAPI.upload_image`.

https://developers.weixin.qq.com/doc/offiaccount/Asset_Management/Adding_Permanent_Assets.html
"""

from __future__ import annotations

import json
import typing as t

from .base import APIModule
from .media import _DEFAULT_NAMES, FileInput, read_upload

if t.TYPE_CHECKING:
    from .base import JSON

#: The material types: ``news`` (articles, listed only) and the files.
MATERIAL_TYPES = ("image", "voice", "video", "thumb", "news")


class MaterialAPI(APIModule):
    """Add, read, list, count and delete permanent material."""

    def add(
        self,
        media_type: str,
        file: FileInput,
        filename: str | None = None,
        content_type: str | None = None,
        *,
        title: str | None = None,
        introduction: str | None = None,
    ) -> JSON:
        """Upload ``file`` as permanent material of ``media_type`` (``image``,
        ``voice``, ``video``, ``thumb``): ``media_id`` (and ``url`` for images).
        A video needs a ``title`` (and may have an ``introduction``)."""
        name, content, kind = read_upload(
            file, filename, content_type, default_name=_DEFAULT_NAMES.get(media_type, "media.bin")
        )
        data = None
        if media_type == "video":
            if not title:
                raise ValueError("a permanent video needs a title")
            description = {"title": title, "introduction": introduction or ""}
            data = {"description": json.dumps(description, ensure_ascii=False)}
        return t.cast(
            "JSON",
            self.client.request(
                "POST",
                "/cgi-bin/material/add_material",
                params={"type": media_type},
                files={"media": (name, content, kind)},
                data=data,
            ),
        )

    def get(self, media_id: str) -> JSON | bytes:
        """A permanent material: the bytes of an image, voice or thumb; for a
        video ``title``, ``description`` and ``down_url``; for articles
        ``news_item``."""
        result = self.client.request(
            "POST",
            "/cgi-bin/material/get_material",
            json={"media_id": media_id},
            stream=True,
            idempotent=True,
        )
        if isinstance(result, dict):
            return result
        with result:
            body = bytes(result.content)
            if "json" in result.headers.get("Content-Type", ""):
                return t.cast("JSON", json.loads(body.decode("utf-8")))
            return body

    def delete(self, media_id: str) -> JSON:
        """Delete a permanent material."""
        return self.client.post("/cgi-bin/material/del_material", {"media_id": media_id})

    def batchget(self, media_type: str, offset: int = 0, count: int = 20) -> JSON:
        """One page (``count`` 1-20) of the material of ``media_type``:
        ``total_count``, ``item_count`` and ``item`` (``media_id``, ``name``,
        ``update_time``, ``url``; articles: ``content.news_item``)."""
        body = {"type": media_type, "offset": offset, "count": count}
        return self.client.post("/cgi-bin/material/batchget_material", body, idempotent=True)

    def count(self) -> JSON:
        """``voice_count``, ``video_count``, ``image_count``, ``news_count``."""
        return self.client.get("/cgi-bin/material/get_materialcount")

    def upload_image(self, file: FileInput, filename: str | None = None) -> str:
        """Upload an image (jpg/png, under 1 MB) for use inside an article's HTML
        (``/cgi-bin/media/uploadimg``); returns its URL. It counts against no
        material limit.

        https://developers.weixin.qq.com/doc/offiaccount/Asset_Management/Adding_Permanent_Assets.html
        """
        name, content, kind = read_upload(file, filename, None, default_name="image.jpg")
        result = self.client.request(
            "POST", "/cgi-bin/media/uploadimg", files={"media": (name, content, kind)}
        )
        return str(result["url"])
