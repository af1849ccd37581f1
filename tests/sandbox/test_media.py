"""The sandbox: temporary media uploads and downloads."""

from __future__ import annotations

import typing as t

from flask_wechat.sandbox import (
    Sandbox,
)

from .conftest import JSON, Api, no_rid

# -- media -------------------------------------------------------------------------------


def _upload(
    api: Api, type_: str, name: str, data: bytes, content_type: str, *, work: bool = False
) -> JSON:
    token = api.work_token() if work else api.token()
    response = api.raw(
        "POST",
        "/cgi-bin/media/upload",
        params={"access_token": token, "type": type_},
        files={"media": (name, data, content_type)},
    )
    return t.cast(JSON, response.json())


def test_media_round_trip(api: Api, sandbox: Sandbox) -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    uploaded = _upload(api, "image", "图片.png", data, "image/png")
    assert uploaded["type"] == "image"
    assert isinstance(uploaded["created_at"], int)
    response = api.raw(
        "GET",
        "/cgi-bin/media/get",
        params={"access_token": api.token(), "media_id": uploaded["media_id"]},
    )
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["Content-Type"] == "image/png"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "%E5%9B%BE%E7%89%87.png" in disposition

    plain = _upload(api, "voice", "hello.mp3", b"ID3 voice", "application/octet-stream")
    got = api.raw(
        "GET",
        "/cgi-bin/media/get",
        params={"access_token": api.token(), "media_id": plain["media_id"]},
    )
    assert got.headers["Content-Type"] == "audio/mpeg"
    assert 'filename="hello.mp3"' in got.headers["Content-Disposition"]


def test_video_comes_as_a_url(api: Api) -> None:
    uploaded = _upload(api, "video", "clip.mp4", b"\x00\x00\x00\x18ftypmp42", "video/mp4")
    answer = api.get("/cgi-bin/media/get", media_id=uploaded["media_id"])
    video = api.session.get(answer["video_url"], timeout=5)
    assert video.content == b"\x00\x00\x00\x18ftypmp42"
    assert video.headers["Content-Type"] == "video/mp4"


def test_thumb_has_thumb_media_id(api: Api) -> None:
    uploaded = _upload(api, "thumb", "t.jpg", b"\xff\xd8\xff", "image/jpeg")
    assert uploaded["thumb_media_id"] == uploaded["media_id"]


def test_media_errors(api: Api) -> None:
    assert _upload(api, "image", "empty.png", b"", "image/png")["errcode"] == 40113
    assert _upload(api, "image", "notes.txt", b"text", "text/plain")["errcode"] == 40113
    assert _upload(api, "sticker", "a.png", b"png", "image/png")["errcode"] == 40004
    too_big = b"\xff" * (64 * 1024 + 1)
    assert _upload(api, "thumb", "big.jpg", too_big, "image/jpeg")["errcode"] == 40006
    missing = api.raw(
        "POST",
        "/cgi-bin/media/upload",
        params={"access_token": api.token(), "type": "image"},
        files={"other": ("a.png", b"png", "image/png")},
    ).json()
    assert missing["errcode"] == 41005
    assert no_rid(api.get("/cgi-bin/media/get", media_id="nope")) == {
        "errcode": 40007,
        "errmsg": "invalid media_id",
    }


def test_media_types_per_platform(api: Api, sandbox: Sandbox) -> None:
    pdf = b"%PDF-1.4 sandbox"
    # WeCom: image, voice, video and file; no thumb
    uploaded = _upload(api, "file", "报告.pdf", pdf, "application/pdf", work=True)
    assert uploaded["type"] == "file"
    assert sandbox.media[uploaded["media_id"]].content_type == "application/pdf"
    thumb = _upload(api, "thumb", "t.jpg", b"\xff\xd8\xff", "image/jpeg", work=True)
    assert thumb["errcode"] == 40004
    assert _upload(api, "image", "a.png", b"\x89PNG", "image/png", work=True)["type"] == "image"
    # Official Account: image, voice, video and thumb; no file
    assert _upload(api, "file", "a.pdf", pdf, "application/pdf")["errcode"] == 40004
