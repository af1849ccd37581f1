"""The HTTP edge of every callback: reading the request, answering it.

Small and shared: the callbacks of every platform and the relay read bodies,
check timestamps and refuse requests through these functions, so a rejection
looks the same everywhere (a short plain-text reason, a 4xx, one
``request_rejected`` signal).
"""

from __future__ import annotations

import functools
import logging
import time
import typing as t
from urllib.parse import parse_qsl

from flask import Response, request
from werkzeug.utils import get_content_type

from . import observe, signals
from .errors import BodyTooLarge, MalformedBody, StaleRequest
from .parsing import MAX_BODY_SIZE

if t.TYPE_CHECKING:
    from flask import Flask, Request

    from .errors import RejectedRequest

logger = logging.getLogger("flask_wechat")


class Answer(t.NamedTuple):
    """A callback's answer, as sent and as remembered for WeChat's retries."""

    body: bytes
    mimetype: str = "text/plain"
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()

    def to_data(self) -> tuple[t.Any, ...]:
        """A JSON-compatible form, for the shared store (JSON makes it a list).

        Tuples of strings and numbers only: the in-process store keeps a minute of
        answers, and such tuples are left alone by Python's cyclic garbage collector
        where lists would be scanned on every full collection."""
        headers = tuple(map(tuple, self.headers))
        return (self.body.decode("latin-1"), self.mimetype, self.status, headers)

    @classmethod
    def from_data(cls, data: t.Any) -> Answer | None:
        """The answer stored by :meth:`to_data`, or ``None`` for anything else."""
        if not isinstance(data, (list, tuple)) or len(data) != 4:
            return None
        body, mimetype, status, headers = data
        return cls(
            str(body).encode("latin-1"), str(mimetype), int(status), tuple(map(tuple, headers))
        )

    def to_response(self) -> Response:
        """The Flask response carrying this answer."""
        return Response(
            self.body, self.status, self.headers or None, content_type=_content_type(self.mimetype)
        )

    @classmethod
    def of_response(cls, response: Response) -> Answer:
        """What to remember of a handler's own Response."""
        headers = tuple(
            (k, v)
            for k, v in response.headers.items()
            if k not in ("Content-Type", "Content-Length")
        )
        return cls(
            response.get_data(), response.mimetype or "text/plain", response.status_code, headers
        )


@functools.lru_cache(maxsize=64)
def _content_type(mimetype: str) -> str:
    return get_content_type(mimetype, "utf-8")  # werkzeug's rule for adding a charset


SUCCESS = Answer(b"success")
"""What WeChat takes as "received, no reply" (an empty body works too)."""


def query_args(environ: t.Mapping[str, t.Any]) -> dict[str, str]:
    """The query string as a dict (the first value of each name).

    WeChat's queries are plain ASCII (hex, digits, base64); those are split
    directly, anything with escapes goes through :func:`urllib.parse.parse_qsl`.
    """
    raw = environ.get("QUERY_STRING", "")
    args: dict[str, str] = {}
    if "%" in raw or "+" in raw:
        for name, value in parse_qsl(
            raw, keep_blank_values=True, encoding="utf-8", errors="replace"
        ):
            args.setdefault(name, value)
        return args
    for part in raw.split("&"):
        name, _, value = part.partition("=")
        if name and name not in args:
            args[name] = value
    return args


def current_request() -> Request:
    """The request itself: an attribute read through Flask's ``request`` proxy
    costs eight times one read on the object."""
    return request._get_current_object()  # type: ignore[attr-defined, no-any-return]


def read_body(req: Request) -> bytes:
    """The body of ``req``, refusing anything over 1 MiB without reading it all."""
    declared = req.environ.get("CONTENT_LENGTH", "")
    if declared.isdigit():  # the usual case: read exactly that, straight from the server
        length = int(declared)
        if length > MAX_BODY_SIZE:
            raise BodyTooLarge("body too large")
        body: bytes = req.environ["wsgi.input"].read(length) if length else b""
    else:  # chunked or unknown: werkzeug's stream knows how to end it
        body = req.stream.read(MAX_BODY_SIZE + 1)
    if len(body) > MAX_BODY_SIZE:
        raise BodyTooLarge("body too large")
    if not body:
        raise MalformedBody("empty body")
    return body


def check_timestamp(raw: str, window: float, *, milliseconds_from: int | None = None) -> float:
    """The request's ``timestamp`` in seconds; refused outside the replay window.

    :param milliseconds_from: values above this are milliseconds (the relay).
    """
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 16:
        raise StaleRequest("missing or invalid timestamp", 400)
    value = float(raw)
    if milliseconds_from is not None and value > milliseconds_from:
        value /= 1000
    elif len(raw) > 12:
        raise StaleRequest("missing or invalid timestamp", 400)
    if window and abs(time.time() - value) > window:
        raise StaleRequest("stale timestamp")
    return value


def reject(app: Flask, account: str, exc: RejectedRequest, what: str = "callback") -> Response:
    """Answer a refused request with its short reason; tell ``request_rejected``."""
    logger.info("rejected a %s for %r: %s", what, account, exc.reason)
    observe.rejected()
    if signals.request_rejected.receivers:
        signals.request_rejected.send(app, reason=exc.reason, account=account)
    return Response(exc.reason, exc.status, mimetype="text/plain")
