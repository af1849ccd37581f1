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
    SANDBOX_CORP_ID,
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
    See :class:`~.state.SandboxState` for the parameters; ``host`` and ``port``
    say where to listen (port 0: a free one).
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
        port: int = 0,
    ) -> None:
        super().__init__(
            token_ttl,
            overlap=overlap,
            page_size=page_size,
            ticket_ttl=ticket_ttl,
            code_ttl=code_ttl,
            clock=clock,
        )
        LoopbackServer.__init__(self, host, port)

    # -- lifecycle ---------------------------------------------------------------

    label = "the sandbox"

    def wsgi_app(self) -> WSGIApplication:
        return create_app(self)

    def start(self) -> Sandbox:
        """Bind the port (a free one if 0) and serve in a daemon thread."""
        self.stopping.clear()
        return super().start()

    def before_stop(self) -> None:
        self.stopping.set()  # wake requests sleeping in an injected delay

    # -- helpers -------------------------------------------------------------------

    def flask_config(
        self, kind: str = "mp", app_id: str | None = None, *, agent_id: int | None = None
    ) -> dict[str, str]:
        """``WECHAT_*`` settings pointing a Flask app at this sandbox.

        Without ``app_id``: the pre-registered account of ``kind`` (``"mp"``,
        ``"miniprogram"``, ``"work"``; mini programs get the Official Account's
        AppID, which the sandbox then serves as an Official Account). With
        ``app_id``: that app as :meth:`register` registered it, which must be of
        ``kind`` (a WeCom corp's first app unless ``agent_id`` names one). A WeCom
        app's settings carry its ``WECHAT_AGENT_ID``.
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        if app_id is None:
            app_id = SANDBOX_CORP_ID if kind == "work" else SANDBOX_APP_ID
            registration = self.find_app(app_id, agent_id)
        else:
            registration = self.find_app(app_id, agent_id)
            if registration is not None and registration.kind != kind:
                raise ValueError(f"{app_id!r} is registered as {registration.kind!r}, not {kind!r}")
        if registration is None:
            raise KeyError(f"app {app_id!r} is not registered with the sandbox")
        return registration.flask_config(self.url, kind)

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "stopped"
        return f"<Sandbox {where}>"
