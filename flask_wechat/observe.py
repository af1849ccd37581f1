"""Reports of the package's own work: the ``api_called`` and ``callback_handled``
signals, and the units of work an instrumentation wraps in spans.

Always on and nearly free when nobody listens: with no signal receiver and no
:class:`Tracer` installed, a report costs a check or two of what is connected.

* :func:`callback` surrounds one callback request; the pipeline says how it
  ended with :func:`decided` (a rejection with :func:`rejected`), and
  ``callback_handled`` is sent once, at the end;
* :func:`api_call` surrounds one HTTP request to the WeChat API and sends
  ``api_called`` when it ends;
* :func:`unit` surrounds a handler, a credential fetch or a task;
* :func:`trace_carrier` is the trace context a task carries in its data, so the
  work a worker does later links back to the callback that asked for it.

A :class:`Tracer` (:mod:`flask_wechat.contrib.otel` installs one) sees each unit
start and end. What a unit holds are names and numbers that describe the work —
account names, message types, API paths, errcodes, WeChat's request ids — never
a message's content, a user's id or a credential.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
import typing as t

from flask import current_app

from . import signals

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from flask import Flask

    from .messages import Message

#: What a unit's attributes hold: names and numbers, ``None`` for "not known".
Value = str | int | float | None

#: How a callback request ended (``callback_handled``'s ``outcome=``).
CallbackOutcome = t.Literal["reply", "success", "late", "duplicate", "rejected"]


class Unit:
    """One unit of work being reported: what it is (``"callback"``, ``"handler"``,
    ``"api"``, ``"token"``, ``"task"``), the app it ran for and its attributes so far."""

    __slots__ = ("app", "attributes", "link", "started", "what")

    def __init__(
        self,
        app: Flask | None,
        what: str,
        attributes: dict[str, Value],
        link: Mapping[str, str] | None = None,
    ) -> None:
        self.app = app
        self.what = what
        self.attributes = attributes
        #: the trace context of the work this one follows from (a task's callback).
        self.link = link
        self.started = time.perf_counter()

    def set(self, **attributes: Value) -> None:
        """Add what became known while the work ran (an errcode, an outcome)."""
        self.attributes.update(attributes)

    @property
    def duration(self) -> float:
        """Seconds since the unit started."""
        return time.perf_counter() - self.started


class _Unwatched(Unit):
    """The unit handed out when nobody watches: remembers nothing."""

    def set(self, **attributes: Value) -> None:
        pass


class Tracer(t.Protocol):
    """What an instrumentation installs with :func:`install`."""

    def span(self, unit: Unit) -> t.ContextManager[object]:
        """Surround ``unit``: entered when it starts, left when it ends (its
        attributes then complete)."""

    def carrier(self) -> dict[str, str]:
        """The current trace context as plain strings (W3C ``traceparent``…),
        or an empty dict."""


_tracers: tuple[Tracer, ...] = ()
_UNWATCHED = _Unwatched(None, "", {})
#: What every report hands out when nobody watches: an inert unit, always the same.
UNWATCHED: t.ContextManager[Unit] = contextlib.nullcontext(_UNWATCHED)
_callback: contextvars.ContextVar[Unit | None] = contextvars.ContextVar(
    "flask_wechat_callback", default=None
)


def install(tracer: Tracer) -> None:
    """Have ``tracer`` see every unit of work from now on."""
    global _tracers  # noqa: PLW0603 - replaced whole, so readers need no lock
    _tracers = (*_tracers, tracer)


def uninstall(tracer: Tracer) -> None:
    """Stop showing units to ``tracer``."""
    global _tracers  # noqa: PLW0603
    _tracers = tuple(installed for installed in _tracers if installed is not tracer)


@contextlib.contextmanager
def _traced(unit: Unit) -> Iterator[Unit]:
    with contextlib.ExitStack() as stack:
        for tracer in _tracers:
            stack.enter_context(tracer.span(unit))
        yield unit


def unit(
    app: Flask | None, what: str, *, link: Mapping[str, str] | None = None, **attributes: Value
) -> t.ContextManager[Unit]:
    """Surround a unit of work (``what``: ``"token"``, ``"task"``…) with the
    installed tracers' spans."""
    if not _tracers:
        return UNWATCHED
    return _traced(Unit(app, what, attributes, link))


# -- callbacks ------------------------------------------------------------------


def callback(account: str) -> t.ContextManager[Unit]:
    """Surround one callback request to ``account``; ``callback_handled`` is sent
    when it ends, with the outcome given to :func:`decided` or :func:`rejected`."""
    if not (_tracers or signals.callback_handled.receivers):
        return UNWATCHED
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return _watched_callback(Unit(app, "callback", {"account": account}))


@contextlib.contextmanager
def _watched_callback(unit: Unit) -> Iterator[Unit]:
    reset = _callback.set(unit)
    try:
        with _traced(unit):
            yield unit
    finally:
        _callback.reset(reset)
    outcome = unit.attributes.get("outcome")
    if outcome is not None and signals.callback_handled.receivers:
        signals.callback_handled.send(
            unit.app,
            account=unit.attributes["account"],
            name=unit.attributes.get("name"),
            outcome=outcome,
            duration=unit.duration,
        )


def decided(outcome: CallbackOutcome, message: Message) -> None:
    """Tell the current callback how ``message`` ended (``"late"``: its reply goes
    out through the API, though the callback itself answers ``success``)."""
    unit = _callback.get()
    if unit is None:
        return
    unit.set(outcome=outcome, **_described(message))


def settled(outcome: CallbackOutcome, name: str | None) -> None:
    """Tell the current callback how a request that carried no message ended (a
    third-party platform's push: ``name`` is its ``InfoType``)."""
    unit = _callback.get()
    if unit is not None:
        unit.set(outcome=outcome, name=name)


def _described(message: Message) -> dict[str, Value]:
    """What a report tells of a message: its dispatch name, type and event."""
    return {"name": message.dispatch_name, "msg_type": message.type, "event": message.event}


def handler(app: Flask, message: Message) -> t.ContextManager[Unit]:
    """Surround the run of ``message``'s handler."""
    if not _tracers:
        return UNWATCHED
    return _traced(Unit(app, "handler", {"account": message.account, **_described(message)}))


def rejected() -> None:
    """Tell the current callback (if any) that its request was refused."""
    unit = _callback.get()
    if unit is not None:
        unit.set(outcome="rejected")


# -- API calls ------------------------------------------------------------------


def api_call(
    app: t.Callable[[], Flask | None], account: str, path: str, attempt: int
) -> t.ContextManager[Unit]:
    """Surround one HTTP request to the WeChat API; ``api_called`` is sent when it
    ends, with the ``errcode`` and ``rid`` the caller :meth:`~Unit.set` (``None``
    when no answer came). ``app`` is asked for the app only when someone watches."""
    if not (_tracers or signals.api_called.receivers):
        return UNWATCHED
    attributes: dict[str, Value] = {"account": account, "path": path, "attempt": attempt}
    return _watched_api_call(Unit(app(), "api", attributes))


@contextlib.contextmanager
def _watched_api_call(unit: Unit) -> Iterator[Unit]:
    try:
        with _traced(unit):
            yield unit
    finally:
        if unit.app is not None and signals.api_called.receivers:
            attributes = unit.attributes
            signals.api_called.send(
                unit.app,
                account=attributes["account"],
                path=attributes["path"],
                errcode=attributes.get("errcode"),
                rid=attributes.get("rid"),
                duration=unit.duration,
                attempt=attributes["attempt"],
            )


# -- tasks ------------------------------------------------------------------------


def trace_carrier() -> dict[str, str]:
    """The current trace context for a task's data (empty when nobody traces)."""
    for tracer in _tracers:
        carrier = tracer.carrier()
        if carrier:
            return carrier
    return {}
