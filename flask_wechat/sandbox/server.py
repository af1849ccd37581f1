"""Run the sandbox as a real HTTP server on loopback, in a daemon thread.

The API client talks to it exactly as it talks to WeChat — over TCP with
``requests`` — so timeouts, retries, concurrency and JSON decoding are
exercised for real, not mocked.
"""

from __future__ import annotations

import threading
import time
import typing as t

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .routes import create_app
from .state import (
    KINDS,
    SANDBOX_APP_ID,
    SANDBOX_APP_SECRET,
    SANDBOX_CORP_ID,
    SANDBOX_CORP_SECRET,
    SandboxState,
)

if t.TYPE_CHECKING:
    from types import TracebackType


class _QuietHandler(WSGIRequestHandler):
    """Logs nothing: request lines carry secrets, codes and access_tokens."""

    protocol_version = "HTTP/1.1"

    def log(self, type: str, message: str, *args: t.Any) -> None:
        return


class Sandbox(SandboxState):
    """A fake WeChat API over real HTTP, for tests and for running without
    credentials.

    ::

        with Sandbox(token_ttl=2) as sandbox:
            requests.get(sandbox.url + "/cgi-bin/token", params={...})
            assert sandbox.token_requests == 1

    Nothing runs until :meth:`start`. The state (followers, faults, recorded
    calls, …) is this object's own; several sandboxes may run at once.
    See :class:`~.state.SandboxState` for the parameters.
    """

    def __init__(
        self,
        token_ttl: float = 7200,
        *,
        overlap: float = 300,
        page_size: int = 10000,
        ticket_ttl: float = 7200,
        code_ttl: float = 300,
        clock: t.Callable[[], float] = time.time,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(
            token_ttl,
            overlap=overlap,
            page_size=page_size,
            ticket_ttl=ticket_ttl,
            code_ttl=code_ttl,
            clock=clock,
        )
        self.host = host
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the server is up."""
        return self._server is not None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, the base URL of the fake API."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        return f"http://{self.host}:{self._server.port}"

    def start(self) -> Sandbox:
        """Bind a free port on loopback and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        self.stopping.clear()
        server = make_server(
            self.host,
            0,
            create_app(self),
            threaded=True,
            request_handler=_QuietHandler,
        )
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"wechat-sandbox-{server.port}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving, wake delayed requests, and close the socket.

        (Werkzeug closes every connection after its answer, so no keep-alive
        connection outlives the server.)"""
        server, thread = self._server, self._thread
        if server is None:
            return
        self.stopping.set()
        server.shutdown()
        if thread is not None:
            thread.join()
        server.server_close()
        self._server = self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- helpers -------------------------------------------------------------------

    def flask_config(self, kind: str = "mp") -> dict[str, str]:
        """``WECHAT_*`` settings pointing a Flask app at this sandbox's
        pre-registered account of ``kind`` (``"mp"``, ``"miniprogram"``, ``"work"``;
        the sandbox serves mini programs with the Official Account's AppID, as it
        does not tell the two apart)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        if kind == "work":
            app_id, secret = SANDBOX_CORP_ID, SANDBOX_CORP_SECRET
        else:
            app_id, secret = SANDBOX_APP_ID, SANDBOX_APP_SECRET
        return {
            "WECHAT_KIND": kind,
            "WECHAT_APP_ID": app_id,
            "WECHAT_APP_SECRET": secret,
            "WECHAT_API_BASE_URL": self.url,
        }

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "stopped"
        return f"<Sandbox {where}>"
