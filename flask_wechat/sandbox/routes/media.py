"""Temporary media (临时素材): uploads checked like WeChat, downloads."""

from __future__ import annotations

import re
import secrets
from urllib.parse import quote

from flask import Response, request

from ..state import APIFault, Media
from .base import Answer, Context, JSONDict, RouteTable

routes = RouteTable()


#: What each media type accepts: extension -> content type (none listed: any
#: file), and the size limit.
MEDIA_RULES: dict[str, tuple[dict[str, str], int]] = {
    "image": (
        {
            "jpg": "image/jpeg",
            "jpeg": "image/jpeg",
            "png": "image/png",
            "gif": "image/gif",
            "bmp": "image/bmp",
        },
        10 * 1024 * 1024,
    ),
    "voice": ({"amr": "audio/amr", "mp3": "audio/mpeg"}, 2 * 1024 * 1024),
    "video": ({"mp4": "video/mp4"}, 10 * 1024 * 1024),
    "thumb": ({"jpg": "image/jpeg", "jpeg": "image/jpeg"}, 64 * 1024),
    "file": ({}, 20 * 1024 * 1024),
}
#: The media types each platform takes: WeCom has ``file`` and no ``thumb``.
MEDIA_TYPES = {
    "mp": frozenset({"image", "voice", "video", "thumb"}),
    "miniprogram": frozenset({"image", "voice", "video", "thumb"}),
    "work": frozenset({"image", "voice", "video", "file"}),
}


def _clean_filename(name: str) -> str:
    """The file name without directories, quotes or control characters."""
    base = re.split(r"[/\\]", name)[-1]
    return "".join(ch for ch in base if ch.isprintable() and ch not in '"').strip()


def uploaded_media(ctx: Context, type_: str) -> Media:
    """The multipart field ``media`` checked against WeChat's rules for ``type_``."""
    upload = request.files.get("media")
    if upload is None:
        raise APIFault(41005)
    data = upload.read()
    if not data:
        raise APIFault(40113)
    filename = _clean_filename(upload.filename or "")
    extensions, limit = MEDIA_RULES[type_]
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    content_type = extensions.get(ext)
    if not extensions:  # any file: as declared by the part
        content_type = (upload.mimetype or "").lower() or "application/octet-stream"
        filename = filename or "media"
    elif content_type is None:
        # no usable extension: trust the part's content type if it is allowed
        declared = (upload.mimetype or "").lower()
        if declared not in extensions.values():
            raise APIFault(40113)
        content_type = declared
        ext = next(e for e, ct in extensions.items() if ct == declared)
        filename = f"{filename or 'media'}.{ext}"
    if len(data) > limit:
        raise APIFault(40006)
    return Media(
        secrets.token_urlsafe(48),
        type_,
        data,
        filename,
        content_type,
        int(ctx.state.clock()),
    )


@routes.endpoint("/cgi-bin/media/upload", methods=("POST",), auth="any")
def media_upload(ctx: Context) -> Answer:
    """Upload temporary media (multipart field ``media``)."""
    type_ = ctx.args.get("type", "")
    if type_ not in MEDIA_TYPES[ctx.app.kind]:
        raise APIFault(40004)
    media = uploaded_media(ctx, type_)
    ctx.state.media[media.media_id] = media
    answer: JSONDict = {"type": type_, "media_id": media.media_id}
    if type_ == "thumb":
        answer["thumb_media_id"] = media.media_id
    answer["created_at"] = media.created_at
    return answer


def _download(media: Media) -> Response:
    # RFC 6266: a plain ASCII name for old clients, the UTF-8 name in filename*.
    disposition = f'attachment; filename="{media.filename}"'
    if not media.filename.isascii():
        ext = media.filename.rsplit(".", 1)[-1] if "." in media.filename else "bin"
        disposition = (
            f"attachment; filename=\"media.{ext}\"; filename*=UTF-8''{quote(media.filename)}"
        )
    response = Response(media.data, status=200, content_type=media.content_type)
    response.headers["Content-Disposition"] = disposition
    return response


@routes.endpoint("/cgi-bin/media/get", auth="any")
def media_get(ctx: Context) -> Answer:
    """Download temporary media; an Official Account's video comes as a
    ``video_url`` (as on WeChat), anything else as the bytes."""
    media = ctx.state.media.get(ctx.args.get("media_id", ""))
    if media is None:
        raise APIFault(40007)
    if media.type == "video" and ctx.app.kind != "work":
        return {"video_url": f"{request.host_url}sandbox/video/{media.media_id}"}
    return _download(media)


@routes.endpoint("/sandbox/video/<media_id>", auth="none")
def video_download(ctx: Context) -> Answer:
    """Where ``video_url`` points."""
    media = ctx.state.media.get(ctx.args.get("media_id", ""))
    if media is None:
        raise APIFault(40007)
    return _download(media)
