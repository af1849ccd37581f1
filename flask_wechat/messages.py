"""The inbound message model: one :class:`Message` for every message and event type."""

from __future__ import annotations

import functools
import typing as t

from .errors import MalformedBody

if t.TYPE_CHECKING:
    from .parsing import Fields

#: WeChat's ``LOCATION`` *event* (periodic location report) would clash with the
#: ``location`` *message* (a location the user sent), so it is dispatched as this.
LOCATION_EVENT = "location_event"

MESSAGE_TYPES = (
    "text",
    "image",
    "voice",
    "video",
    "shortvideo",
    "location",
    "link",
    "file",
    "miniprogrampage",
)
"""Message types WeChat documents; any other ``MsgType`` still reaches handlers."""

EVENT_TYPES = (
    "subscribe",
    "unsubscribe",
    "scan",
    LOCATION_EVENT,
    "click",
    "view",
    "view_miniprogram",
    "scancode_push",
    "scancode_waitmsg",
    "pic_sysphoto",
    "pic_photo_or_album",
    "pic_weixin",
    "location_select",
    "templatesendjobfinish",
    "masssendjobfinish",
    "user_enter_tempsession",
    "enter_agent",
    "change_contact",
    "batch_job_result",
    "kf_create_session",
    "kf_close_session",
    "kf_switch_session",
)
"""Event types WeChat documents (lower-case); any other ``Event`` still reaches handlers."""

# Fields some message or event type documents: reading one that this message
# lacks gives ``None`` instead of AttributeError (``message.content`` on an image).
_DOCUMENTED_FIELDS = frozenset(
    {
        "content", "pic_url", "media_id", "format", "recognition", "thumb_media_id",
        "location_x", "location_y", "scale", "label", "title", "description", "url",
        "event_key", "ticket", "latitude", "longitude", "precision", "menu_id",
        "scan_code_info", "scan_type", "scan_result", "send_pics_info", "count",
        "pic_list", "send_location_info", "poiname", "status", "msg_id", "agent_id",
        "change_type", "user_id", "app_id", "page_path", "thumb_url", "session_from",
        "file_key", "file_md5", "file_total_len", "total_count", "filter_count",
        "sent_count", "error_count", "batch_job", "job_id", "job_type", "err_code",
        "err_msg", "kf_account", "encrypt", "scene",
    }
)  # fmt: skip


@functools.lru_cache(maxsize=512)
def snake_case(name: str) -> str:
    """``FromUserName`` → ``from_user_name``, ``HQMusicUrl`` → ``hq_music_url``,
    ``Location_X`` → ``location_x``, ``MsgID`` → ``msg_id``."""
    out: list[str] = []
    for i, char in enumerate(name):
        if char.isupper() and i:
            prev = name[i - 1]
            nxt = name[i + 1] if i + 1 < len(name) else ""
            if prev.islower() or prev.isdigit() or (prev.isupper() and nxt.islower()):
                out.append("_")
        out.append(char.lower())
    return "".join(out).replace("__", "_")


def _as_int(value: t.Any, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise MalformedBody(f"{field} is not a number")
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise MalformedBody(f"{field} is not a number") from None


class Message:
    """A verified, decrypted message or event from WeChat.

    Every field WeChat sent is an attribute in snake_case (``message.event_key``,
    ``message.scan_result`` from inside ``ScanCodeInfo``, ...) and, with WeChat's
    own names and nesting, in :attr:`raw`.

    Nested collections have one shape whatever their count (see
    :mod:`flask_wechat.parsing`): ``pic_list``, ``result_list`` and other
    ``<item>`` containers are lists; elements WeChat documents as repeatable
    (``List``, ``item`` beside other fields (``article_detail``), ``ApprovalNode``, ``NotifyNode``,
    ``Item``, ``SpRecord``, ``Details``, ``MemChangeList/Item``…) are lists even
    when single; other nested elements are dicts.

    A field whose snake_case name is one of the message's own attributes
    (``source``, ``id``, ``type``, ``event``, ``target``, ``account``, ``raw``)
    is read with :meth:`field` (``message.field("source")``).
    """

    __slots__ = (
        "_index",
        "account",
        "create_time",
        "event",
        "id",
        "raw",
        "relayed",
        "source",
        "target",
        "type",
    )

    def __init__(self, raw: Fields, account: str = "default") -> None:
        msg_type = raw.get("MsgType")
        if not isinstance(msg_type, str) or not msg_type:
            raise MalformedBody("message has no MsgType")
        source = raw.get("FromUserName")
        if source is not None and not isinstance(source, str):
            raise MalformedBody("FromUserName is not text")
        #: every field, with WeChat's names; nested elements are dicts/lists.
        self.raw = raw
        #: the name of the account the message was sent to.
        self.account = account
        #: ``"text"``, ``"image"``, ..., ``"event"``, ``"device_event"``….
        self.type = msg_type.lower()
        event = raw.get("Event")
        #: the lower-cased ``Event`` (events, and types such as ``device_event``
        #: that carry one), else ``None``.
        self.event = event.lower() if isinstance(event, str) and event else None
        #: the sender: the user's OpenID (WeCom: UserID); ``None`` for messages
        #: WeChat sends without one (WeCom 微信客服 ``kf_msg_or_event``, some
        #: ``sys`` events).
        self.source: str | None = source or None
        #: ``ToUserName``: the account's original ID (WeCom: CorpID).
        self.target = str(raw.get("ToUserName") or "")
        #: ``CreateTime`` in seconds.
        self.create_time = _as_int(raw.get("CreateTime"), "CreateTime") or 0
        msg_id = raw.get("MsgId", raw.get("MsgID"))
        #: ``MsgId`` (or ``MsgID``) as ``int``, or ``None`` (most events have none).
        self.id = _as_int(msg_id, "MsgId")
        #: whether the message was forwarded to the customer-service relay.
        self.relayed = False
        self._index: dict[str, t.Any] | None = None

    @property
    def dispatch_name(self) -> str:
        """What handlers and signals know this message by: the type, or the
        lower-cased event (``LOCATION`` → ``location_event``)."""
        return self.dispatch_names[0]

    @property
    def dispatch_names(self) -> tuple[str, ...]:
        """Every name a handler may be registered under, most specific first: an
        event's name; for other types carrying an ``Event`` (``device_event``),
        the event's name and then the type."""
        event = self.event
        if event is None:
            return (self.type,)
        name = LOCATION_EVENT if event == "location" else event
        if self.type == "event":
            return (name,)
        return (name, self.type)

    @property
    def is_event(self) -> bool:
        """Whether this is an event (``MsgType`` ``event``) rather than a message."""
        return self.type == "event"

    @property
    def qr_scene(self) -> str | None:
        """The scene of the parametric QR code behind a ``subscribe`` (without
        ``qrscene_``) or ``scan`` event; ``None`` for any other event or key."""
        key = self.raw.get("EventKey")
        if not isinstance(key, str) or not key:
            return None
        if self.event == "subscribe":
            return key[len("qrscene_") :] if key.startswith("qrscene_") else None
        if self.event == "scan" and self.raw.get("Ticket"):
            return key
        return None

    def field(self, name: str, default: t.Any = None) -> t.Any:
        """The field called ``name`` in snake_case, as an attribute would give it,
        or ``default``. For the fields whose names the message's own attributes
        take (an invoice event's ``Source`` is ``message.field("source")``, a WeCom
        tag event's ``Id`` is ``message.field("id")``; likewise ``type``,
        ``event``, ``target``, ``account``, ``raw``)."""
        index = self._index
        if index is None:
            index = self._index = self._build_index()
        return index.get(name, default)

    def __getattr__(self, name: str) -> t.Any:
        index = self._index
        if index is None:
            index = self._index = self._build_index()
        try:
            return index[name]
        except KeyError:
            if name in _DOCUMENTED_FIELDS:
                return None
            raise AttributeError(
                f"{type(self).__name__} of type {self.dispatch_name!r} has no field {name!r}"
            ) from None

    def _build_index(self) -> dict[str, t.Any]:
        index: dict[str, t.Any] = {}
        for value in self.raw.values():
            if isinstance(value, dict):
                for inner, inner_value in value.items():
                    index.setdefault(snake_case(inner), inner_value)
        for key, value in self.raw.items():
            index[snake_case(key)] = value
        return index

    def __reduce__(self) -> tuple[t.Any, ...]:
        return (type(self), (self.raw, self.account))

    def __repr__(self) -> str:
        return (
            f"<Message {self.dispatch_name} from {self.source!r} id={self.id}"
            f" account={self.account!r}>"
        )
