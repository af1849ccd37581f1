"""Run the sandbox as a real HTTP server on loopback, in a daemon thread.

The API client talks to it exactly as it talks to WeChat — over TCP with
``requests`` — so timeouts, retries, concurrency and JSON decoding are
exercised for real, not mocked.
"""

from __future__ import annotations

import time
import typing as t

from .loopback import LoopbackServer
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
    from _typeshed.wsgi import WSGIApplication


class Sandbox(SandboxState, LoopbackServer):
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
        LoopbackServer.__init__(self, host)

    # -- lifecycle ---------------------------------------------------------------

    label = "the sandbox"

    def wsgi_app(self) -> WSGIApplication:
        return create_app(self)

    def start(self) -> Sandbox:
        """Bind a free port on loopback and serve in a daemon thread."""
        self.stopping.clear()
        return super().start()

    def before_stop(self) -> None:
        self.stopping.set()  # wake requests sleeping in an injected delay

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
