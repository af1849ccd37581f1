"""The HTTP edge of every callback: reading the request, answering it.

Small and shared: the callbacks of every platform and the relay read bodies,
check timestamps and refuse requests through these functions, so a rejection
looks the same everywhere (a short plain-text reason, a 4xx, one
``request_rejected`` signal).
"""

from __future__ import annotations

import logging
import time
import typing as t

from flask import Response, request

from . import signals
from .errors import BodyTooLarge, MalformedBody, StaleRequest
from .parsing import MAX_BODY_SIZE

if t.TYPE_CHECKING:
    from flask import Flask
    from werkzeug.datastructures import MultiDict

    from .errors import RejectedRequest

logger = logging.getLogger("flask_wechat")


class Answer(t.NamedTuple):
    """A callback's answer, as sent and as remembered for WeChat's retries."""

    body: bytes
    mimetype: str = "text/plain"
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()

    def to_data(self) -> list[t.Any]:
        """A JSON-compatible form, for the shared store."""
        return [self.body.decode("latin-1"), self.mimetype, self.status, list(self.headers)]

    @classmethod
    def from_data(cls, data: t.Any) -> Answer | None:
        """The answer stored by :meth:`to_data`, or ``None`` for anything else."""
        if not isinstance(data, list) or len(data) != 4:
            return None
        body, mimetype, status, headers = data
        return cls(
            str(body).encode("latin-1"), str(mimetype), int(status), tuple(map(tuple, headers))
        )

    def to_response(self) -> Response:
        """The Flask response carrying this answer."""
        return Response(self.body, self.status, list(self.headers), mimetype=self.mimetype)

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


SUCCESS = Answer(b"success")
"""What WeChat takes as "received, no reply" (an empty body works too)."""


def read_body() -> bytes:
    """The request body, refusing anything over 1 MiB without reading it all."""
    length = request.content_length
    if length is not None and length > MAX_BODY_SIZE:
        raise BodyTooLarge("body too large")
    body = request.stream.read(MAX_BODY_SIZE + 1)
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


def query_value(args: MultiDict[str, str], name: str) -> str:
    """A query parameter, ``""`` when absent."""
    return args.get(name, "")


def reject(app: Flask, account: str, exc: RejectedRequest, what: str = "callback") -> Response:
    """Answer a refused request with its short reason; tell ``request_rejected``."""
    logger.info("rejected a %s for %r: %s", what, account, exc.reason)
    if signals.request_rejected.receivers:
        signals.request_rejected.send(app, reason=exc.reason, account=account)
    return Response(exc.reason, exc.status, mimetype="text/plain")
