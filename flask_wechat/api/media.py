"""Temporary media (临时素材): upload a file for a ``media_id``, download one by id.

WeChat keeps temporary media for three days. Uploads are multipart with the file
in the field ``media``; WeChat infers the type from the filename's extension, so
every upload carries a filename with one.
"""

from __future__ import annotations

import contextlib
import email.message
import mimetypes
import os
import pathlib
import tempfile
import typing as t

from ..errors import TransportError
from .base import APIModule

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from types import TracebackType

    import requests

    from .base import JSON

#: A file to upload: a filesystem path, the bytes themselves, or a binary file object.
FileInput: t.TypeAlias = "str | os.PathLike[str] | bytes | bytearray | t.BinaryIO"

#: A filename to use when the caller gives bytes without one.
_DEFAULT_NAMES = {
    "image": "image.jpg",
    "thumb": "thumb.jpg",
    "voice": "voice.amr",
    "video": "video.mp4",
    "file": "file.bin",
}

_CHUNK = 64 * 1024


def read_upload(
    file: FileInput,
    filename: str | None = None,
    content_type: str | None = None,
    *,
    default_name: str = "media.bin",
) -> tuple[str, bytes, str]:
    """``(filename, content, content_type)`` for a multipart upload of ``file``.

    The content is read into memory so that a retried request sends it again
    (a file object would be exhausted); WeChat caps media at a few MiB anyway.
    """
    if isinstance(file, (bytes, bytearray)):
        content = bytes(file)
        name = filename or default_name
    elif isinstance(file, (str, os.PathLike)):
        path = pathlib.Path(file)
        content = path.read_bytes()
        name = filename or path.name
    else:
        content = file.read()
        if not isinstance(content, bytes):
            raise TypeError("upload a binary file object (opened with 'rb'), a path, or bytes")
        given = getattr(file, "name", None)
        name = filename or (os.path.basename(given) if isinstance(given, str) else default_name)
    kind = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return name, content, kind


class MediaDownload:
    """A streamed media download; use it as a context manager so the connection
    is released::

        with client.media.download(media_id) as media:
            media.save("/tmp/photo.jpg")
    """

    def __init__(self, response: requests.Response, media_id: str) -> None:
        self.response = response
        self.media_id = media_id

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` WeChat answered (e.g. ``image/jpeg``)."""
        return self.response.headers.get("Content-Type", "application/octet-stream")

    @property
    def filename(self) -> str | None:
        """The filename from ``Content-Disposition``, without any directory part."""
        header = self.response.headers.get("Content-Disposition")
        if not header:
            return None
        parsed = email.message.Message()
        parsed["Content-Disposition"] = header
        name = parsed.get_filename()
        if not name:
            return None
        # The name comes from the network: never let it climb out of a directory.
        name = name.replace("\\", "/").rsplit("/", 1)[-1]
        return name if name not in ("", ".", "..") else None

    @property
    def content_length(self) -> int | None:
        """The announced size in bytes, if WeChat sent ``Content-Length``."""
        value = self.response.headers.get("Content-Length")
        return int(value) if value and value.isdigit() else None

    def iter_content(self, chunk_size: int = _CHUNK) -> Iterator[bytes]:
        """The body in chunks, as it arrives."""
        return t.cast("Iterator[bytes]", self.response.iter_content(chunk_size))

    def read(self) -> bytes:
        """The whole body in memory (prefer :meth:`save` for large media)."""
        return b"".join(self.iter_content())

    def save(self, path: str | os.PathLike[str]) -> pathlib.Path:
        """Stream the body to ``path`` (or into ``path`` if it is a directory,
        under :attr:`filename`); returns the file written.

        The data goes to a temporary file beside the target first, so a broken
        download never leaves a truncated file under the final name.
        """
        target = pathlib.Path(path)
        if target.is_dir():
            target = target / (self.filename or self.media_id)
        fd, temp = tempfile.mkstemp(prefix=".download-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in self.iter_content():
                    out.write(chunk)
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        finally:
            self.close()
        return target

    def close(self) -> None:
        """Release the connection."""
        self.response.close()

    def __enter__(self) -> MediaDownload:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class MediaAPI(APIModule):
    """Temporary media: ``/cgi-bin/media/upload`` and ``/cgi-bin/media/get``."""

    def upload(
        self,
        media_type: str,
        file: FileInput,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> JSON:
        """Upload ``file`` as temporary media of ``media_type`` (``image``,
        ``voice``, ``video``, ``thumb``; WeCom also ``file``).

        :returns: WeChat's answer: ``type``, ``media_id``, ``created_at``
            (``thumb_media_id`` for thumbs).
        """
        name, content, kind = read_upload(
            file,
            filename,
            content_type,
            default_name=_DEFAULT_NAMES.get(media_type, "media.bin"),
        )
        return t.cast(
            "JSON",
            self.client.request(
                "POST",
                "/cgi-bin/media/upload",
                params={"type": media_type},
                files={"media": (name, content, kind)},
            ),
        )

    def download(self, media_id: str) -> MediaDownload:
        """Start downloading temporary media; the body is streamed, not buffered.

        Video media is answered with a JSON ``video_url`` instead of the bytes;
        that URL is followed, so the result is the video either way.

        :raises APIError: e.g. 40007 for an unknown or expired ``media_id``.
        """
        result = self.client.request(
            "GET", "/cgi-bin/media/get", params={"media_id": media_id}, stream=True
        )
        if isinstance(result, dict) and result.get("video_url"):
            result = self.client.request("GET", str(result["video_url"]), token=False, stream=True)
        if isinstance(result, dict):
            raise TransportError(
                f"WeChat answered JSON instead of the media {media_id!r}", may_have_arrived=True
            )
        return MediaDownload(result, media_id)
