"""A WSGI app served on loopback in a daemon thread: what the fakes have in common."""

from __future__ import annotations

import threading
import typing as t

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if t.TYPE_CHECKING:
    from types import TracebackType

    from _typeshed.wsgi import WSGIApplication


class QuietHandler(WSGIRequestHandler):
    """Logs nothing: request lines carry secrets, codes and access_tokens."""

    protocol_version = "HTTP/1.1"

    def log(self, type: str, message: str, *args: t.Any) -> None:
        return


Self = t.TypeVar("Self", bound="LoopbackServer")


class LoopbackServer:
    """Serves :meth:`wsgi_app` on ``port`` of ``host`` (0: a free port) while started."""

    #: what errors call the server ("the sandbox", "the relay platform").
    label = "the server"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def wsgi_app(self) -> WSGIApplication:
        """The application to serve."""
        raise NotImplementedError

    @property
    def running(self) -> bool:
        """Whether the server is up."""
        return self._server is not None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        if self._server is None:
            raise RuntimeError(f"{self.label} is not running; call start() first")
        return f"http://{self.host}:{self._server.port}"

    def start(self: Self) -> Self:
        """Bind the port (a free one if 0) and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError(f"{self.label} is already running")
        server = make_server(
            self.host, self.port, self.wsgi_app(), threaded=True, request_handler=QuietHandler
        )
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-{server.port}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def before_stop(self) -> None:
        """Called before the server shuts down (wake what waits on it)."""

    def stop(self) -> None:
        """Stop serving and close the socket."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self.before_stop()
        server.shutdown()
        if thread is not None:
            thread.join()
        server.server_close()
        self._server = self._thread = None

    def __enter__(self: Self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
