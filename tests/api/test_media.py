"""Temporary media against the sandbox: uploads in every form, streamed downloads."""

from __future__ import annotations

import io
import pathlib
import typing as t

import pytest

from flask_wechat.errors import APIError

if t.TYPE_CHECKING:
    from flask_wechat.api import Client
    from flask_wechat.sandbox import Sandbox

    from .conftest import ClientFactory

PICTURE = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 512  # 128 KiB, several chunks


@pytest.mark.parametrize("form", ["bytes", "path", "file"])
def test_upload_and_download(
    client: Client, sandbox: Sandbox, tmp_path: pathlib.Path, form: str
) -> None:
    source = tmp_path / "photo.jpg"
    source.write_bytes(PICTURE)
    file: t.Any = {"bytes": PICTURE, "path": source, "file": io.BytesIO(PICTURE)}[form]
    result = client.media.upload("image", file, filename="photo.jpg")
    assert result["type"] == "image"
    media_id = result["media_id"]

    with client.media.download(media_id) as media:
        assert media.content_type.startswith("image/")
        assert media.filename
        chunks = list(media.iter_content(4096))
    assert len(chunks) > 1
    assert b"".join(chunks) == PICTURE


def test_upload_from_path_uses_its_name(
    client: Client, sandbox: Sandbox, tmp_path: pathlib.Path
) -> None:
    source = tmp_path / "voice.amr"
    source.write_bytes(b"#!AMR\n" + b"\0" * 100)
    media_id = client.media.upload("voice", source)["media_id"]
    with client.media.download(media_id) as media:
        assert media.filename is not None
        assert media.filename.endswith(".amr")


def test_upload_file_object_keeps_name(
    client: Client, sandbox: Sandbox, tmp_path: pathlib.Path
) -> None:
    source = tmp_path / "clip.jpg"
    source.write_bytes(PICTURE)
    with source.open("rb") as handle:
        media_id = client.media.upload("image", handle)["media_id"]
    with client.media.download(media_id) as media:
        assert media.read() == PICTURE


def test_save_streams_to_disk(client: Client, sandbox: Sandbox, tmp_path: pathlib.Path) -> None:
    media_id = client.media.upload("image", PICTURE)["media_id"]
    target = tmp_path / "saved.jpg"
    with client.media.download(media_id) as media:
        written = media.save(target)
    assert written == target
    assert target.read_bytes() == PICTURE
    assert [p.name for p in tmp_path.iterdir()] == ["saved.jpg"]  # no temporary left


def test_save_into_directory(client: Client, sandbox: Sandbox, tmp_path: pathlib.Path) -> None:
    media_id = client.media.upload("image", PICTURE, filename="cat.jpg")["media_id"]
    with client.media.download(media_id) as media:
        written = media.save(tmp_path)
    assert written.parent == tmp_path
    assert written.read_bytes() == PICTURE


def test_download_unknown_media(client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(APIError) as info:
        client.media.download("no-such-media")
    assert info.value.errcode == 40007


def test_upload_refuses_text_file(client: Client, tmp_path: pathlib.Path) -> None:
    source = tmp_path / "note.txt"
    source.write_text("hello")
    with source.open() as handle, pytest.raises(TypeError, match="binary"):
        client.media.upload("file", t.cast(t.BinaryIO, handle))


def test_video_follows_video_url(client: Client, sandbox: Sandbox) -> None:
    video = b"\0\0\0\x18ftypmp42" + b"\1" * 50_000
    media_id = client.media.upload("video", video, filename="clip.mp4")["media_id"]
    with client.media.download(media_id) as media:
        assert media.content_type == "video/mp4"
        assert media.read() == video
    # the Official Account gets a video_url first, then the bytes from there
    assert sandbox.count("/cgi-bin/media/get") == 1
    assert sandbox.count(f"/sandbox/video/{media_id}") == 1


def test_work_downloads_video_directly(make_client: ClientFactory, sandbox: Sandbox) -> None:
    client = make_client(**sandbox.flask_config("work"))
    video = b"\0\0\0\x18ftypmp42" + b"\2" * 1000
    media_id = client.media.upload("video", video, filename="clip.mp4")["media_id"]
    with client.media.download(media_id) as media:
        assert media.read() == video
    assert sandbox.count(f"/sandbox/video/{media_id}") == 0


def test_failed_save_leaves_nothing(
    client: Client, sandbox: Sandbox, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    media_id = client.media.upload("image", PICTURE)["media_id"]
    target = tmp_path / "broken.jpg"
    with client.media.download(media_id) as media:

        def broken(chunk_size: int = 0) -> t.Iterator[bytes]:
            yield PICTURE[:100]
            raise OSError("connection reset")

        monkeypatch.setattr(media, "iter_content", broken)
        with pytest.raises(OSError, match="reset"):
            media.save(target)
    assert list(tmp_path.iterdir()) == []
