"""Handler registration and lookup: which function answers a message."""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import re
import typing as t
import warnings

from flask import Response

from .errors import WeChatWarning
from .messages import EVENT_TYPES, MESSAGE_TYPES
from .replies import Reply

if t.TYPE_CHECKING:
    from .messages import Message

HandlerFunc = t.Callable[["Message"], t.Any]

#: What a handler may return: a reply, a ``str`` (a text reply), a Flask
#: ``Response`` (sent as is) or ``None`` (``success``, nothing sent).
HandlerResult = t.Union[Reply, str, Response, None]  # noqa: UP007 - a runtime alias

#: A handler as :meth:`flask_wechat.WeChat.on` accepts it (``async def`` too).
TypedHandler = t.Callable[["Message"], t.Union[HandlerResult, t.Awaitable[HandlerResult]]]  # noqa: UP007

KNOWN_NAMES = frozenset(MESSAGE_TYPES + EVENT_TYPES)


def one_edit_apart(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by one insertion, deletion, substitution or
    swap of neighbours (``"txet"``/``"text"``, which difflib rates only 0.75)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) == 1:
            return True
        i = diff[0]
        return len(diff) == 2 and diff[1] == i + 1 and a[i] == b[i + 1] and a[i + 1] == b[i]
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def check_name(name: str, stacklevel: int = 3) -> None:
    """Warn (:class:`~flask_wechat.errors.WeChatWarning`) when ``name`` is not a
    known type but close to one: ``"txet"``, ``"subscibe"``. Unknown names are
    fine otherwise: WeChat adds types."""
    if name in KNOWN_NAMES:
        return
    close = [known for known in KNOWN_NAMES if one_edit_apart(name, known)]
    close = close or difflib.get_close_matches(name, KNOWN_NAMES, n=1, cutoff=0.8)
    if close:
        warnings.warn(
            f"no WeChat message or event type is called {name!r}; did you mean {close[0]!r}?",
            WeChatWarning,
            stacklevel=stacklevel,
        )


@dataclasses.dataclass(frozen=True)
class Handler:
    """A registered handler and the filters a message must pass to reach it."""

    func: HandlerFunc
    name: str | None = None
    key: str | None = None
    match: re.Pattern[str] | None = None
    account: str | None = None
    agent_id: int | None = None
    #: ``async def``: awaited to completion (found once, at registration).
    is_async: bool = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_async", inspect.iscoroutinefunction(self.func))

    def accepts(self, message: Message) -> bool:
        """Whether every filter of this handler matches ``message``."""
        if self.account is not None and message.account != self.account:
            return False
        if self.key is not None and message.raw.get("EventKey") != self.key:
            return False
        if self.agent_id is not None:
            agent = message.raw.get("AgentID")
            if agent is None or str(agent) != str(self.agent_id):
                return False
        if self.match is not None:
            # Messages match on Content; events on EventKey.
            subject = message.raw.get("EventKey" if message.is_event else "Content")
            if not isinstance(subject, str) or self.match.search(subject) is None:
                return False
        return True


class Registry:
    """Handlers in registration order, indexed by type; defaults come last."""

    def __init__(self) -> None:
        self._by_name: dict[str, list[Handler]] = {}
        self._defaults: list[Handler] = []

    def add(self, handler: Handler) -> None:
        """Register ``handler``; typed handlers are tried before default ones."""
        if handler.name is None:
            self._defaults.append(handler)
        else:
            self._by_name.setdefault(handler.name, []).append(handler)

    def find(self, message: Message) -> Handler | None:
        """The first handler whose filters accept ``message``, else ``None``."""
        for name in message.dispatch_names:
            for handler in self._by_name.get(name, ()):
                if handler.accepts(message):
                    return handler
        for handler in self._defaults:
            if handler.accepts(message):
                return handler
        return None

    def __len__(self) -> int:
        return len(self._defaults) + sum(map(len, self._by_name.values()))


def compile_match(match: str | re.Pattern[str] | None) -> re.Pattern[str] | None:
    """Compile a ``match=`` filter once, at registration."""
    if match is None or isinstance(match, re.Pattern):
        return match
    return re.compile(match)
