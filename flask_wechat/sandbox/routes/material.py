"""Permanent material (永久素材), article images (``uploadimg``), drafts and free
publishing of an Official Account.

Uploads follow the temporary media rules (types, extensions, sizes); a draft's
articles need a ``title``, ``content`` and a ``thumb_media_id`` naming a
permanent image or thumb (40007 otherwise). Publishing finishes at once:
``freepublish/get`` answers ``publish_status`` 0 with the ``article_id``, and
the publication is recorded in ``sent`` (kind ``"freepublish"``).
"""

from __future__ import annotations

import json
import secrets
import typing as t

from flask import Response, request

from ..state import APIFault
from .base import Answer, Context, JSONDict, RouteTable, ok, to_int, to_text
from .media import uploaded_media

routes = RouteTable()

FILE_TYPES = frozenset({"image", "voice", "video", "thumb"})
#: uploadimg: jpg/png only, under 1 MB.
UPLOADIMG_TYPES = frozenset({"image/jpeg", "image/png"})
UPLOADIMG_LIMIT = 1024 * 1024
MAX_ARTICLES = 8


@routes.endpoint("/cgi-bin/material/add_material", methods=("POST",))
def add_material(ctx: Context) -> Answer:
    """A permanent file; a video needs ``description`` with a ``title``."""
    type_ = ctx.args.get("type", "")
    if type_ not in FILE_TYPES:
        raise APIFault(40004)
    title = introduction = ""
    if type_ == "video":
        try:
            description = json.loads(request.form.get("description", ""))
        except ValueError:
            raise APIFault(40097, "invalid description") from None
        title = to_text(description.get("title")) if isinstance(description, dict) else ""
        if not title:
            raise APIFault(40097, "video needs a title")
        introduction = to_text(description.get("introduction"))
    media = uploaded_media(ctx, type_)
    # Permanent media_ids work wherever temporary ones do (customer-service sends).
    ctx.state.media[media.media_id] = media
    ctx.data.materials[media.media_id] = {
        "media": media,
        "title": title,
        "introduction": introduction,
    }
    answer: JSONDict = {"media_id": media.media_id}
    if type_ == "image":
        answer["url"] = f"http://mmbiz.qpic.cn/sandbox/{media.media_id[:16]}/0"
    return answer


@routes.endpoint("/cgi-bin/material/get_material", methods=("POST",))
def get_material(ctx: Context) -> Answer:
    """A file's bytes; a video's title and ``down_url``."""
    item = ctx.data.materials.get(to_text(ctx.json().get("media_id")))
    if item is None:
        raise APIFault(40007)
    media = item["media"]
    if media.type == "video":
        return {
            "title": item["title"],
            "description": item["introduction"],
            "down_url": f"{request.host_url}sandbox/video/{media.media_id}",
        }
    return Response(media.data, content_type=media.content_type)


@routes.endpoint("/cgi-bin/material/del_material", methods=("POST",))
def del_material(ctx: Context) -> Answer:
    media_id = to_text(ctx.json().get("media_id"))
    if ctx.data.materials.pop(media_id, None) is None:
        raise APIFault(40007)
    ctx.state.media.pop(media_id, None)
    return ok()


@routes.endpoint("/cgi-bin/material/batchget_material", methods=("POST",))
def batchget_material(ctx: Context) -> Answer:
    """One page of a type's material (``news``: the published articles)."""
    body = ctx.json()
    type_ = body.get("type")
    offset, count = to_int(body.get("offset", 0)), to_int(body.get("count"))
    if type_ not in (*FILE_TYPES, "news"):
        raise APIFault(40004)
    if offset is None or offset < 0 or count is None or not 1 <= count <= 20:
        raise APIFault(40097)
    items: list[JSONDict]
    if type_ == "news":
        items = [
            {
                "media_id": pub["article_id"],
                "content": {"news_item": pub["news_item"]},
                "update_time": pub["update_time"],
            }
            for pub in ctx.data.publications.values()
            if "article_id" in pub and not pub.get("deleted")
        ]
    else:
        items = [
            {
                "media_id": media_id,
                "name": item["media"].filename,
                "update_time": item["media"].created_at,
                "url": f"http://mmbiz.qpic.cn/sandbox/{media_id[:16]}/0",
            }
            for media_id, item in ctx.data.materials.items()
            if item["media"].type == type_
        ]
    page = items[offset : offset + count]
    return {"total_count": len(items), "item_count": len(page), "item": page}


@routes.endpoint("/cgi-bin/material/get_materialcount")
def material_count(ctx: Context) -> Answer:
    counts = dict.fromkeys(("voice_count", "video_count", "image_count", "news_count"), 0)
    for item in ctx.data.materials.values():
        counts[item["media"].type + "_count"] = counts.get(item["media"].type + "_count", 0) + 1
    counts.pop("thumb_count", None)
    counts["news_count"] = sum(
        1 for pub in ctx.data.publications.values() if not pub.get("deleted")
    )
    return counts


@routes.endpoint("/cgi-bin/media/uploadimg", methods=("POST",))
def uploadimg(ctx: Context) -> Answer:
    """An image for article HTML: jpg/png under 1 MB; answers its URL."""
    media = uploaded_media(ctx, "image")
    if media.content_type not in UPLOADIMG_TYPES:
        raise APIFault(40113)
    if len(media.data) > UPLOADIMG_LIMIT:
        raise APIFault(40006)
    ctx.state.media[media.media_id] = media
    return {"url": f"http://mmbiz.qpic.cn/sandbox_uploadimg/{media.media_id[:16]}/0"}


# -- drafts and publishing -----------------------------------------------------------------


def _articles(ctx: Context, articles: t.Any) -> list[JSONDict]:
    if not isinstance(articles, list) or not articles:
        raise APIFault(44003, "empty news data")
    if len(articles) > MAX_ARTICLES:
        raise APIFault(45008)
    checked = []
    for article in articles:
        if not isinstance(article, dict):
            raise APIFault(47001)
        if not to_text(article.get("title")) or not to_text(article.get("content")):
            raise APIFault(40097, "article needs title and content")
        cover = ctx.data.materials.get(to_text(article.get("thumb_media_id")))
        if cover is None or cover["media"].type not in ("image", "thumb"):
            raise APIFault(40007, "invalid thumb_media_id")
        checked.append({**article, "url": f"http://mp.weixin.qq.com/s/{secrets.token_urlsafe(9)}"})
    return checked


@routes.endpoint("/cgi-bin/draft/add", methods=("POST",))
def draft_add(ctx: Context) -> Answer:
    media_id = secrets.token_urlsafe(32)
    news = _articles(ctx, ctx.json().get("articles"))
    ctx.data.drafts[media_id] = {"news_item": news, "update_time": int(ctx.state.clock())}
    return {"media_id": media_id}


def _draft(ctx: Context) -> tuple[str, JSONDict]:
    media_id = to_text(ctx.json().get("media_id"))
    draft = ctx.data.drafts.get(media_id)
    if draft is None:
        raise APIFault(40007)
    return media_id, draft


@routes.endpoint("/cgi-bin/draft/get", methods=("POST",))
def draft_get(ctx: Context) -> Answer:
    return {"news_item": _draft(ctx)[1]["news_item"]}


@routes.endpoint("/cgi-bin/draft/delete", methods=("POST",))
def draft_delete(ctx: Context) -> Answer:
    del ctx.data.drafts[_draft(ctx)[0]]
    return ok()


@routes.endpoint("/cgi-bin/draft/batchget", methods=("POST",))
def draft_batchget(ctx: Context) -> Answer:
    body = ctx.json()
    offset, count = to_int(body.get("offset", 0)), to_int(body.get("count"))
    if offset is None or offset < 0 or count is None or not 1 <= count <= 20:
        raise APIFault(40097)
    bare = body.get("no_content") == 1
    items = []
    for media_id, draft in ctx.data.drafts.items():
        news = [
            {k: v for k, v in item.items() if not (bare and k == "content")}
            for item in draft["news_item"]
        ]
        items.append(
            {
                "media_id": media_id,
                "content": {"news_item": news},
                "update_time": draft["update_time"],
            }
        )
    page = items[offset : offset + count]
    return {"total_count": len(items), "item_count": len(page), "item": page}


@routes.endpoint("/cgi-bin/freepublish/submit", methods=("POST",))
def publish_submit(ctx: Context) -> Answer:
    """Publish a draft (it leaves the drafts); done at once in the sandbox."""
    media_id, draft = _draft(ctx)
    del ctx.data.drafts[media_id]
    publish_id = str(ctx.state.next_id())
    article_id = secrets.token_urlsafe(24)
    ctx.data.publications[publish_id] = {
        "article_id": article_id,
        "news_item": draft["news_item"],
        "update_time": int(ctx.state.clock()),
    }
    ctx.record_sent(
        "freepublish",
        {"publish_id": publish_id, "article_id": article_id, "news_item": draft["news_item"]},
    )
    return ok(publish_id=publish_id, msg_data_id=ctx.state.next_id())


@routes.endpoint("/cgi-bin/freepublish/get", methods=("POST",))
def publish_get(ctx: Context) -> Answer:
    publish_id = to_text(ctx.json().get("publish_id"))
    pub = ctx.data.publications.get(publish_id)
    if pub is None:
        raise APIFault(40007, "invalid publish_id")
    items = [{"idx": i + 1, "article_url": a["url"]} for i, a in enumerate(pub["news_item"])]
    return {
        "publish_id": publish_id,
        "publish_status": 6 if pub.get("deleted") else 0,
        "article_id": pub["article_id"],
        "article_detail": {"count": len(items), "item": items},
        "fail_idx": [],
    }


@routes.endpoint("/cgi-bin/freepublish/delete", methods=("POST",))
def publish_delete(ctx: Context) -> Answer:
    body = ctx.json()
    article_id = to_text(body.get("article_id"))
    index = to_int(body.get("index", 0))
    for pub in ctx.data.publications.values():
        if pub["article_id"] == article_id and not pub.get("deleted"):
            if index is None or not 0 <= index <= len(pub["news_item"]):
                raise APIFault(40097, "invalid index")
            if index == 0 or len(pub["news_item"]) == 1:
                pub["deleted"] = True
            else:
                pub["news_item"] = [a for i, a in enumerate(pub["news_item"]) if i != index - 1]
            return ok()
    raise APIFault(40007, "invalid article_id")
