"""Reply objects a handler returns, and their two wire forms.

Every reply renders as a passive-reply XML body (:meth:`Reply.to_xml`) and as a
customer-service API message (:meth:`Reply.to_customer_service`), used where the
platform has no passive reply (Mini Programs) or the handler ran past the
5-second deadline.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import pathlib
import time
import typing as t

from .parsing import cdata, to_xml

MAX_ARTICLES = 8
"""A passive news reply carries at most 8 articles (WeChat drops the rest)."""


class Reply:
    """Base class of the reply objects."""

    #: the ``MsgType`` of the passive reply.
    msg_type: t.ClassVar[str] = ""

    def fields(self) -> dict[str, t.Any]:
        """The type-specific fields of the passive reply XML."""
        raise NotImplementedError

    def to_dict(
        self, to_user: str, from_user: str, create_time: int | None = None
    ) -> dict[str, t.Any]:
        """The passive reply's fields, addressed to ``to_user`` from ``from_user``."""
        envelope: dict[str, t.Any] = {
            "ToUserName": to_user,
            "FromUserName": from_user,
            "CreateTime": int(time.time()) if create_time is None else create_time,
            "MsgType": self.msg_type,
        }
        envelope.update(self.fields())
        return envelope

    def to_xml(self, to_user: str, from_user: str, create_time: int | None = None) -> str:
        """Render the passive reply addressed to ``to_user`` from ``from_user``."""
        return to_xml(self.to_dict(to_user, from_user, create_time))

    def to_customer_service(self, open_id: str) -> dict[str, t.Any]:
        """The body of ``/cgi-bin/message/custom/send`` carrying this reply."""
        raise TypeError(f"{type(self).__name__} cannot be sent as a customer-service message")

    def to_data(self) -> dict[str, t.Any]:
        """A JSON-compatible form (for task queues); :func:`reply_from_data` reads it."""
        data: dict[str, t.Any] = {"type": self.msg_type}
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            data[field.name] = getattr(self, field.name)
        return data


@dataclasses.dataclass(frozen=True)
class TextReply(Reply):
    """A text reply; any text survives, ``]]>``, emoji and control characters too."""

    content: str
    msg_type: t.ClassVar[str] = "text"

    def fields(self) -> dict[str, t.Any]:
        return {"Content": self.content}

    def to_xml(self, to_user: str, from_user: str, create_time: int | None = None) -> str:
        # The reply sent most often, written out directly (same XML as the generic path).
        created = int(time.time()) if create_time is None else create_time
        return (
            f"<xml><ToUserName>{cdata(to_user)}</ToUserName>"
            f"<FromUserName>{cdata(from_user)}</FromUserName>"
            f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content>{cdata(self.content)}</Content></xml>"
        )

    def to_customer_service(self, open_id: str) -> dict[str, t.Any]:
        return {"touser": open_id, "msgtype": "text", "text": {"content": self.content}}


@dataclasses.dataclass(frozen=True)
class ImageReply(Reply):
    """An image, by the ``media_id`` of uploaded media, or a local ``file`` (a path
    or the bytes) that is uploaded as temporary media before it is sent."""

    media_id: str | None = None
    file: str | os.PathLike[str] | bytes | None = dataclasses.field(default=None, repr=False)
    #: the name to upload ``file`` under (default: the path's name, or ``image.jpg``).
    filename: str | None = None
    msg_type: t.ClassVar[str] = "image"

    def __post_init__(self) -> None:
        if (self.media_id is None) == (self.file is None):
            raise ValueError("an ImageReply takes either a media_id or a file")

    def fields(self) -> dict[str, t.Any]:
        return {"Image": {"MediaId": self._uploaded()}}

    def to_customer_service(self, open_id: str) -> dict[str, t.Any]:
        return {"touser": open_id, "msgtype": "image", "image": {"media_id": self._uploaded()}}

    def _uploaded(self) -> str:
        if self.media_id is None:
            raise ValueError("upload the ImageReply's file first (client.media.upload)")
        return self.media_id

    def file_content(self) -> tuple[bytes, str]:
        """The local file's bytes and a filename to upload it under."""
        if isinstance(self.file, bytes):
            return self.file, self.filename or "image.jpg"
        if self.file is None:
            raise ValueError("this ImageReply has no local file")
        path = pathlib.Path(self.file)
        return path.read_bytes(), self.filename or path.name

    def to_data(self) -> dict[str, t.Any]:
        data: dict[str, t.Any] = {"type": self.msg_type, "media_id": self.media_id}
        if self.file is not None:  # read now: the worker may run on another machine
            content, name = self.file_content()
            data["file"] = base64.b64encode(content).decode()
            data["filename"] = name
        return data


@dataclasses.dataclass(frozen=True)
class VoiceReply(Reply):
    """A voice message, by the ``media_id`` of uploaded media."""

    media_id: str
    msg_type: t.ClassVar[str] = "voice"

    def fields(self) -> dict[str, t.Any]:
        return {"Voice": {"MediaId": self.media_id}}

    def to_customer_service(self, open_id: str) -> dict[str, t.Any]:
        return {"touser": open_id, "msgtype": "voice", "voice": {"media_id": self.media_id}}


@dataclasses.dataclass(frozen=True)
class VideoReply(Reply):
    """A video, by ``media_id``, with an optional title and description."""

    media_id: str
    title: str | None = None
    description: str | None = None
    msg_type: t.ClassVar[str] = "video"

    def fields(self) -> dict[str, t.Any]:
        return {
            "Video": {
                "MediaId": self.media_id,
                "Title": self.title,
                "Description": self.description,
            }
        }

    def to_customer_service(self, open_id: str) -> dict[str, t.Any]:
        video = {"media_id": self.media_id, "title": self.title, "description": self.description}
        return {
            "touser": open_id,
            "msgtype": "video",
            "video": {k: v for k, v in video.items() if v is not None},
        }


@dataclasses.dataclass(frozen=True)
class MusicReply(Reply):
    """A music card; WeChat requires the thumbnail's ``thumb_media_id``."""

    title: str | None
    description: str | None
    music_url: str | None
    hq_music_url: str | None
    thumb_media_id: str
    msg_type: t.ClassVar[str] = "music"

    def fields(self) -> dict[str, t.Any]:
        return {
            "Music": {
                "Title": self.title,
                "Description": self.description,
                "MusicUrl": self.music_url,
                "HQMusicUrl": self.hq_music_url,
                "ThumbMediaId": self.thumb_media_id,
            }
        }

    def to_customer_service(self, open_id: str) -> dict[str, t.Any]:
        music = {
            "title": self.title,
            "description": self.description,
            "musicurl": self.music_url,
            "hqmusicurl": self.hq_music_url,
            "thumb_media_id": self.thumb_media_id,
        }
        return {
            "touser": open_id,
            "msgtype": "music",
            "music": {k: v for k, v in music.items() if v is not None},
        }


@dataclasses.dataclass(frozen=True)
class Article:
    """One article of a :class:`NewsReply`."""

    title: str
    description: str | None = None
    pic_url: str | None = None
    url: str | None = None


@dataclasses.dataclass(frozen=True)
class NewsReply(Reply):
    """Articles (图文消息); at most :data:`MAX_ARTICLES`, at least one."""

    articles: t.Sequence[Article]
    msg_type: t.ClassVar[str] = "news"

    def __post_init__(self) -> None:
        if not 1 <= len(self.articles) <= MAX_ARTICLES:
            raise ValueError(f"a news reply carries 1 to {MAX_ARTICLES} articles")
        object.__setattr__(self, "articles", tuple(self.articles))

    def fields(self) -> dict[str, t.Any]:
        return {
            "ArticleCount": len(self.articles),
            "Articles": [
                {
                    "Title": article.title,
                    "Description": article.description,
                    "PicUrl": article.pic_url,
                    "Url": article.url,
                }
                for article in self.articles
            ],
        }

    def to_data(self) -> dict[str, t.Any]:
        return {"type": self.msg_type, "articles": [dataclasses.asdict(a) for a in self.articles]}

    def to_customer_service(self, open_id: str) -> dict[str, t.Any]:
        # WeChat now sends exactly one article per customer-service news message
        # (45008 otherwise); refuse rather than cut the others silently.
        if len(self.articles) != 1:
            raise ValueError(
                "a customer-service news message carries exactly one article; "
                f"this NewsReply has {len(self.articles)}"
            )
        articles = [
            {
                k: v
                for k, v in {
                    "title": article.title,
                    "description": article.description,
                    "url": article.url,
                    "picurl": article.pic_url,
                }.items()
                if v is not None
            }
            for article in self.articles[:1]
        ]
        return {"touser": open_id, "msgtype": "news", "news": {"articles": articles}}


@dataclasses.dataclass(frozen=True)
class TransferCustomerServiceReply(Reply):
    """Hand the conversation to human customer service (optionally one ``kf_account``)."""

    kf_account: str | None = None
    msg_type: t.ClassVar[str] = "transfer_customer_service"

    def fields(self) -> dict[str, t.Any]:
        if self.kf_account is None:
            return {}
        return {"TransInfo": {"KfAccount": self.kf_account}}


_CLASSES: tuple[type[Reply], ...] = (
    TextReply,
    ImageReply,
    VoiceReply,
    VideoReply,
    MusicReply,
    NewsReply,
    TransferCustomerServiceReply,
)
_TYPES: dict[str, type[Reply]] = {cls.msg_type: cls for cls in _CLASSES}


def reply_from_data(data: t.Mapping[str, t.Any]) -> Reply:
    """The reply that :meth:`Reply.to_data` wrote."""
    fields = dict(data)
    cls = _TYPES.get(str(fields.pop("type", "")))
    if cls is None:
        raise ValueError(f"not a reply: {data!r:.80}")
    if cls is NewsReply:
        return NewsReply([Article(**a) for a in fields["articles"]])
    if cls is ImageReply and fields.get("file") is not None:
        content = base64.b64decode(fields["file"])
        return ImageReply(file=content, filename=fields.get("filename"))
    fields.pop("filename", None)
    fields.pop("file", None)
    return cls(**fields)
