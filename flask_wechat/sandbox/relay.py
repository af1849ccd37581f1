"""A fake 7moor customer-service platform over real HTTP on loopback.

It plays the platform's side of :mod:`flask_wechat.relay`: it receives forwarded
user messages at ``/Icallback`` and checks their signatures as the platform does,
serves files for agent replies, and posts agent messages to an app's relay
callback::

    from flask_wechat.sandbox import RelayPlatform

    with RelayPlatform("relay-token") as platform:
        app.config["WECHAT_RELAY_URL"] = platform.receive_url
        ...
        assert platform.accepted[0]["signature_ok"]
        platform.reply("http://127.0.0.1:5000/wechat/relay", open_id, "text", "您好")
"""

from __future__ import annotations

import collections
import copy
import json
import threading
import time
import typing as t

import requests
from werkzeug.wrappers import Request, Response

from ..crypto import make_nonce, sign
from .loopback import LoopbackServer

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

#: Fields the platform requires in a forwarded message (seed, 二、接受消息).
REQUIRED_FIELDS = (
    "app_id",
    "open_id",
    "nick_name",
    "msgType",
    "content",
    "timestamp",
    "nonce",
    "msg_signature",
)


class RelayPlatform(LoopbackServer):
    """A fake 7moor platform: a WSGI app served on ``127.0.0.1`` in a daemon thread.

    :param token: the token of the platform's 配置说明 (``WECHAT_RELAY_TOKEN``).

    Every POST to ``/Icallback`` is recorded in :attr:`received` as the JSON
    received plus ``signature_ok`` (checked as the platform checks it) and
    ``status`` (what the platform answered): 200, 400 for a body without the
    required fields, 403 for a bad signature, or an injected :meth:`fail` status.
    """

    def __init__(self, token: str, *, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.token = token
        self._lock = threading.Lock()
        self._received: list[dict[str, t.Any]] = []
        self._failures: collections.deque[int] = collections.deque()
        self._files: dict[str, tuple[bytes, str]] = {}
        self._redirects: dict[str, tuple[str, int]] = {}
        self._downloads: collections.Counter[str] = collections.Counter()

    # -- lifecycle -----------------------------------------------------------------

    label = "the relay platform"

    def wsgi_app(self) -> WSGIApplication:
        return self._wsgi

    @property
    def receive_url(self) -> str:
        """Where user messages are forwarded to (``WECHAT_RELAY_URL``)."""
        return self.url + "/Icallback"

    # -- what happened ---------------------------------------------------------------

    @property
    def received(self) -> list[dict[str, t.Any]]:
        """Every forward that arrived, in order (copies), with ``signature_ok`` and
        ``status``."""
        with self._lock:
            return copy.deepcopy(self._received)

    @property
    def accepted(self) -> list[dict[str, t.Any]]:
        """The forwards the platform answered with 200."""
        return [r for r in self.received if r["status"] == 200]

    def downloads(self, name: str) -> int:
        """How often the file ``name`` was fetched."""
        with self._lock:
            return self._downloads[name]

    def fail(self, times: int = 1, status: int = 500) -> None:
        """Answer the next ``times`` forwards with HTTP ``status``."""
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._failures.extend([status] * times)

    def add_file(self, name: str, data: bytes, content_type: str) -> str:
        """Serve ``data`` at ``/files/<name>``; returns the file's URL."""
        if not name or "/" in name:
            raise ValueError("a file name without slashes, please")
        with self._lock:
            self._files[name] = (bytes(data), content_type)
        return f"{self.url}/files/{name}"

    def add_redirect(self, name: str, location: str, status: int = 302) -> str:
        """Answer ``/files/<name>`` with a redirect to ``location``; the file's URL."""
        if not name or "/" in name:
            raise ValueError("a file name without slashes, please")
        with self._lock:
            self._redirects[name] = (location, status)
        return f"{self.url}/files/{name}"

    def reset(self) -> None:
        """Forget forwards, pending failures, files and download counts."""
        with self._lock:
            self._received.clear()
            self._failures.clear()
            self._files.clear()
            self._redirects.clear()
            self._downloads.clear()

    # -- the agent's side ----------------------------------------------------------------

    def signature(self, timestamp: str, nonce: str, open_id: str) -> str:
        """The ``msg_signature`` the platform computes."""
        return sign(self.token, timestamp, nonce, open_id)

    def signed(
        self,
        open_id: str,
        msg_type: str,
        content: str | None = None,
        *,
        timestamp: int | None = None,
        nonce: str | None = None,
        signature: str | None = None,
    ) -> dict[str, t.Any]:
        """An agent message as the platform sends it: timestamp in milliseconds,
        signed unless ``signature`` is given."""
        ts = int(time.time() * 1000) if timestamp is None else timestamp
        nonce = nonce or make_nonce(12)
        body: dict[str, t.Any] = {"open_id": open_id, "msgType": msg_type}
        if content is not None:
            body["content"] = content
        body["timestamp"] = ts
        body["nonce"] = nonce
        body["msg_signature"] = signature or self.signature(str(ts), nonce, open_id)
        return body

    def post(self, callback_url: str, body: t.Any) -> requests.Response:
        """POST ``body`` (JSON-encoded unless ``bytes``) to ``callback_url``."""
        data = (
            body
            if isinstance(body, bytes)
            else json.dumps(body, ensure_ascii=False).encode("utf-8")
        )
        return requests.post(
            callback_url,
            data=data,
            headers={"Content-Type": "application/json; charset=utf-8"},
            timeout=10,
        )

    def reply(
        self,
        callback_url: str,
        open_id: str,
        msg_type: str,
        content: str | None = None,
        *,
        signature: str | None = None,
        timestamp: int | None = None,
    ) -> requests.Response:
        """Send an agent message to an app's relay callback, as the platform does."""
        body = self.signed(open_id, msg_type, content, timestamp=timestamp, signature=signature)
        return self.post(callback_url, body)

    # -- the platform's HTTP side ------------------------------------------------------------

    def _wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        if request.path == "/Icallback" and request.method == "POST":
            response = self._receive(request)
        elif request.path.startswith("/files/") and request.method == "GET":
            response = self._file(request.path.removeprefix("/files/"))
        else:
            response = Response("not found", 404, mimetype="text/plain")
        return response(environ, start_response)

    def _receive(self, request: Request) -> Response:
        try:
            data = json.loads(request.get_data().decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            data = None
        if not isinstance(data, dict):
            record: dict[str, t.Any] = {"signature_ok": False, "status": 400}
            with self._lock:
                self._received.append(record)
            return _answer(400, "body is not a JSON object")
        signature_ok = self._check(data)
        with self._lock:
            if self._failures:
                status = self._failures.popleft()
            elif not signature_ok:
                status = 403
            elif any(name not in data for name in REQUIRED_FIELDS):
                status = 400
            else:
                status = 200
            self._received.append({**data, "signature_ok": signature_ok, "status": status})
        return _answer(status, "ok" if status == 200 else "refused")

    def _check(self, data: dict[str, t.Any]) -> bool:
        parts = [data.get(name) for name in ("timestamp", "nonce", "open_id")]
        given = data.get("msg_signature")
        if any(p is None or isinstance(p, (dict, list)) for p in parts) or not isinstance(
            given, str
        ):
            return False
        return self.signature(*(str(p) for p in parts)) == given

    def _file(self, name: str) -> Response:
        with self._lock:
            redirect = self._redirects.get(name)
            if redirect is not None:
                self._downloads[name] += 1
                return Response("", redirect[1], headers={"Location": redirect[0]})
            found = self._files.get(name)
            if found is not None:
                self._downloads[name] += 1
        if found is None:
            return Response("not found", 404, mimetype="text/plain")
        data, content_type = found
        return Response(data, 200, content_type=content_type)

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "stopped"
        return f"<RelayPlatform {where}>"


def _answer(status: int, message: str) -> Response:
    body = json.dumps({"code": 200 if status == 200 else status, "message": message})
    return Response(body, status, mimetype="application/json")
