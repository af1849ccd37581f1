"""The inbound message model: one :class:`Message` for every message and event type."""

from __future__ import annotations

import functools
import types
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

#: The ``MsgType`` values that are events and dispatch by their ``Event``.
EVENT_MSG_TYPES = frozenset({"event", "device_event"})


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
    if type(value) is str and value.isascii() and value.isdigit():  # as WeChat sends it
        return int(value)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise MalformedBody(f"{field} is not a number")
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise MalformedBody(f"{field} is not a number") from None


V = t.TypeVar("V")


class Field(t.Generic[V]):
    """A documented WeChat field as a typed, read-only attribute of :class:`Message`.

    Reading it gives the field's value (searched at the top level, then one level
    down: ``scan_result`` inside ``ScanCodeInfo``) or ``None`` when the message
    does not carry it. WeChat sends these as text; a JSON push's numbers are
    given as text too, so that the type holds whatever the format.
    """

    def __init__(self, text: bool = True) -> None:
        self.text = text
        self.name = ""
        self.wechat_name = ""

    def __set_name__(self, owner: type[t.Any], name: str) -> None:
        self.name = name
        # The usual spelling (content → Content, event_key → EventKey), read straight
        # from the top level before the snake_case index of every field is built.
        camel = "".join(part.capitalize() for part in name.split("_"))
        self.wechat_name = camel if snake_case(camel) == name else ""

    @t.overload
    def __get__(self, obj: None, owner: type[t.Any] | None = None) -> Field[V]: ...
    @t.overload
    def __get__(self, obj: Message, owner: type[t.Any] | None = None) -> V: ...
    def __get__(self, obj: Message | None, owner: type[t.Any] | None = None) -> t.Any:
        if obj is None:
            return self
        value = obj.raw.get(self.wechat_name) if self.wechat_name else None
        if value is None:
            value = obj.field(self.name)
        if self.text and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        return value

    def __set__(self, obj: Message, value: t.NoReturn) -> t.NoReturn:  # read-only
        raise AttributeError(f"Message.{self.name} is read-only")


Text = Field[str | None]
Nested = Field[t.Any]


class Message:
    """A verified, decrypted message or event from WeChat.

    The common fields are typed attributes (:attr:`type`, :attr:`event`,
    :attr:`source`, :attr:`target`, :attr:`create_time`, :attr:`id`,
    :attr:`account`, :attr:`raw`); every field some message or event type
    documents is a typed read-only attribute in snake_case (``message.content``,
    ``message.event_key``, ``message.scan_result`` from inside ``ScanCodeInfo``),
    ``None`` when this message lacks it. A type checker rejects a misspelt one
    (``message.contnet``).

    Any other field — one only some platform sends, or one WeChat adds later — is
    reachable without giving up type checking: ``message.field("snake_name")``
    (``None`` when absent), ``message["WeChatName"]`` / ``message.get("WeChatName")``
    with WeChat's own names, or :attr:`raw`. At run time such fields are also
    attributes (``message.brand_new_field``), for code that is not type-checked.

    Nested collections have one shape whatever their count (see
    :mod:`flask_wechat.parsing`): ``pic_list``, ``result_list`` and other
    ``<item>`` containers are lists; elements WeChat documents as repeatable
    (``List``, ``item`` beside other fields (``article_detail``), ``ApprovalNode``,
    ``NotifyNode``, ``Item``, ``SpRecord``, ``Details``, ``MemChangeList/Item``…) are
    lists even when single; other nested elements are dicts.

    A field whose snake_case name is one of the message's own attributes
    (``source``, ``id``, ``type``, ``event``, ``target``, ``account``, ``raw``)
    is read with :meth:`field` (``message.field("source")``).
    """

    # Documented fields (text unless noted).
    content: Text = Field()
    pic_url: Text = Field()
    media_id: Text = Field()
    format: Text = Field()
    recognition: Text = Field()
    thumb_media_id: Text = Field()
    location_x: Text = Field()
    location_y: Text = Field()
    scale: Text = Field()
    label: Text = Field()
    title: Text = Field()
    description: Text = Field()
    url: Text = Field()
    event_key: Text = Field()
    ticket: Text = Field()
    latitude: Text = Field()
    longitude: Text = Field()
    precision: Text = Field()
    menu_id: Text = Field()
    scan_type: Text = Field()
    scan_result: Text = Field()
    count: Text = Field()
    poiname: Text = Field()
    status: Text = Field()
    msg_id: Text = Field()
    agent_id: Text = Field()
    change_type: Text = Field()
    user_id: Text = Field()
    app_id: Text = Field()
    page_path: Text = Field()
    thumb_url: Text = Field()
    session_from: Text = Field()
    file_key: Text = Field()
    file_md5: Text = Field()
    file_total_len: Text = Field()
    total_count: Text = Field()
    filter_count: Text = Field()
    sent_count: Text = Field()
    error_count: Text = Field()
    job_id: Text = Field()
    job_type: Text = Field()
    err_code: Text = Field()
    err_msg: Text = Field()
    kf_account: Text = Field()
    encrypt: Text = Field()
    scene: Text = Field()
    #: nested elements: a dict (or list) as parsed.
    scan_code_info: Nested = Field(text=False)
    send_pics_info: Nested = Field(text=False)
    pic_list: Nested = Field(text=False)
    send_location_info: Nested = Field(text=False)
    batch_job: Nested = Field(text=False)

    type: str
    event: str | None
    source: str | None
    target: str
    create_time: int
    id: int | None
    account: str
    relayed: bool

    __slots__ = (
        "_index",
        "_raw",
        "account",
        "create_time",
        "event",
        "id",
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
        self._raw: t.Mapping[str, t.Any] = types.MappingProxyType(raw)
        #: the name of the account the message was sent to.
        self.account = account
        #: ``"text"``, ``"image"``, ..., ``"event"``, ``"device_event"``….
        self.type = msg_type.lower()
        # A message's type is its MsgType: only the types that are events carry one
        # (a text with a stray Event field is still a text, as WeChat means it).
        event = raw.get("Event") if self.type in EVENT_MSG_TYPES else None
        #: the lower-cased ``Event`` of an event (``MsgType`` ``event`` or
        #: ``device_event``), else ``None``.
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
    def raw(self) -> t.Mapping[str, t.Any]:
        """Every field, with WeChat's names (read-only); nested elements are dicts/lists."""
        return self._raw

    def field(self, name: str, default: t.Any = None) -> t.Any:
        """The field ``name`` in snake_case (``"scan_result"``, ``"brand_new_field"``),
        searched at the top level and then one level down; ``default`` when absent.

        Also the way to the fields whose names the message's own attributes take:
        an invoice event's ``Source`` is ``message.field("source")``, a WeCom tag
        event's ``Id`` is ``message.field("id")`` (likewise ``type``, ``event``,
        ``target``, ``account``, ``raw``)."""
        index = self._index
        if index is None:
            index = self._index = self._build_index()
        return index.get(name, default)

    def __getitem__(self, name: str) -> t.Any:
        """The field with WeChat's own name (``message["Content"]``); KeyError if absent."""
        return self._raw[name]

    def get(self, name: str, default: t.Any = None) -> t.Any:
        """The field with WeChat's own name, or ``default``."""
        return self._raw.get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self._raw

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

    if not t.TYPE_CHECKING:  # hidden from type checkers: a misspelt field must fail there

        def __getattr__(self, name: str) -> t.Any:
            if name.startswith("_"):
                raise AttributeError(name)
            index = self._index
            if index is None:
                index = self._index = self._build_index()
            try:
                return index[name]
            except KeyError:
                raise AttributeError(
                    f"{type(self).__name__} of type {self.dispatch_name!r} has no field"
                    f" {name!r}; message.field({name!r}) gives None for absent fields"
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
        return (type(self), (dict(self._raw), self.account))

    def __repr__(self) -> str:
        return (
            f"<Message {self.dispatch_name} from {self.source!r} id={self.id}"
            f" account={self.account!r}>"
        )
