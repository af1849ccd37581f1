"""Permanent material, article images, drafts and free publishing against the sandbox."""

from __future__ import annotations

import typing as t

import pytest
import requests

from flask_wechat.errors import APIError

from .conftest import posted

if t.TYPE_CHECKING:
    from flask_wechat.api import Client
    from flask_wechat.sandbox import Sandbox

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_add_get_list_count_delete(client: Client, sandbox: Sandbox) -> None:
    image = client.material.add("image", JPEG, "cover.jpg")
    assert image["url"].startswith("http://mmbiz.qpic.cn/")
    assert client.material.get(image["media_id"]) == JPEG
    video = client.material.add(
        "video", b"\x00\x00\x00\x18ftypmp42", "clip.mp4", title="开箱", introduction="第一集"
    )
    (upload,) = [c for c in sandbox.calls if c.path == "/cgi-bin/material/add_material"][1:]
    assert upload.params["type"] == "video"
    described = client.material.get(video["media_id"])
    assert isinstance(described, dict)
    assert (described["title"], described["description"]) == ("开箱", "第一集")
    assert requests.get(described["down_url"], timeout=10).content.startswith(b"\x00\x00\x00\x18")
    counts = client.material.count()
    assert (counts["image_count"], counts["video_count"], counts["voice_count"]) == (1, 1, 0)
    page = client.material.batchget("image")
    assert page["total_count"] == 1
    assert page["item"][0]["media_id"] == image["media_id"]
    assert posted(sandbox, "/cgi-bin/material/batchget_material") == [
        {"type": "image", "offset": 0, "count": 20}
    ]
    client.material.delete(image["media_id"])
    with pytest.raises(APIError) as info:
        client.material.get(image["media_id"])
    assert info.value.errcode == 40007


def test_refusals(client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="title"):
        client.material.add("video", b"x", "clip.mp4")
    with pytest.raises(APIError) as info:
        client.material.add("file", b"x", "a.txt")
    assert info.value.errcode == 40004
    with pytest.raises(APIError) as info:
        client.material.add("thumb", JPEG * 2000, "big.jpg")  # over 64 KB
    assert info.value.errcode == 40006
    with pytest.raises(APIError) as info:
        client.material.batchget("image", count=21)
    assert info.value.errcode == 40097


def test_upload_image(client: Client, sandbox: Sandbox) -> None:
    assert client.material.upload_image(PNG, "inline.png").startswith("http://mmbiz.qpic.cn/")
    with pytest.raises(APIError) as info:
        client.material.upload_image(b"GIF89a", "anim.gif")
    assert info.value.errcode == 40113


def test_draft_publish_delete(client: Client, sandbox: Sandbox) -> None:
    cover = client.material.add("thumb", JPEG, "thumb.jpg")["media_id"]
    article = {"title": "上新", "content": "<p>hi</p>", "thumb_media_id": cover, "author": "店长"}
    draft = client.drafts.add([article])
    assert client.drafts.get(draft)[0]["title"] == "上新"
    listed = client.drafts.batchget(no_content=True)
    assert listed["total_count"] == 1
    assert "content" not in listed["item"][0]["content"]["news_item"][0]
    publish_id = client.freepublish.submit(draft)
    status = client.freepublish.get(publish_id)
    assert status["publish_status"] == 0
    assert status["article_detail"]["count"] == 1
    (sent,) = sandbox.sent
    assert (sent["kind"], sent["article_id"]) == ("freepublish", status["article_id"])
    assert client.drafts.batchget()["total_count"] == 0  # published drafts leave the box
    client.freepublish.delete(status["article_id"])
    assert client.freepublish.get(publish_id)["publish_status"] == 6
    with pytest.raises(APIError):
        client.freepublish.delete(status["article_id"])


def test_draft_needs_a_permanent_cover(client: Client, sandbox: Sandbox) -> None:
    temporary = client.media.upload("thumb", JPEG, "thumb.jpg")["thumb_media_id"]
    with pytest.raises(APIError) as info:
        client.drafts.add([{"title": "t", "content": "c", "thumb_media_id": temporary}])
    assert info.value.errcode == 40007
    with pytest.raises(APIError) as info:
        client.drafts.add([])
    assert info.value.errcode == 44003
    with pytest.raises(APIError) as info:
        client.drafts.delete("nope")
    assert info.value.errcode == 40007
