"""What every sandbox endpoint shares: the route tables, the request context,
and WeChat-shaped JSON answers.

Every request is recorded, may be delayed or answered with an injected fault
(see :class:`~..state.SandboxState`), then reaches its endpoint. Endpoints other
than the credential and login ones need a valid ``access_token`` query
parameter. Answers are JSON with WeChat's own quirks: ``Content-Type:
application/json`` without a charset, UTF-8 text without ``\\u`` escapes, and
HTTP 200 for errors too.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
import typing as t

from flask import Response, current_app, g, request

from ..state import APIFault, AppData, Registration, SandboxState

JSONDict = dict[str, t.Any]
Answer = JSONDict | Response
Handler = t.Callable[["Context"], Answer]
H = t.TypeVar("H", bound=Handler)

#: Who may call an endpoint: nobody needs a token ("none"), a non-WeCom app
#: ("mp"), a WeCom app ("work") or any registered app ("any").
Auth = t.Literal["none", "mp", "work", "any"]


@dataclasses.dataclass
class Route:
    """One endpoint: its URL rule, HTTP methods, who may call it, and the handler."""

    rule: str
    methods: tuple[str, ...]
    auth: Auth
    handler: Handler


class RouteTable:
    """The endpoints of one API domain, in the order they are declared.

    Each domain module has one (``routes``); :func:`~.create_app` serves the
    tables it is given, so nothing is registered by importing a module.
    """

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def endpoint(
        self, rule: str, *, methods: tuple[str, ...] = ("GET",), auth: Auth = "mp"
    ) -> t.Callable[[H], H]:
        """Declare the decorated handler as the sandbox's answer to ``rule``."""

        def decorate(handler: H) -> H:
            self._routes.append(Route(rule, methods, auth, handler))
            return handler

        return decorate

    def __iter__(self) -> t.Iterator[Route]:
        return iter(self._routes)


@dataclasses.dataclass
class Context:
    """What an endpoint gets: the state, the caller's app and the request data."""

    state: SandboxState
    registration: Registration | None
    args: dict[str, str]
    body: t.Any
    body_problem: int | None

    @property
    def app(self) -> Registration:
        """The calling app (endpoints that require an access_token)."""
        assert self.registration is not None
        return self.registration

    @property
    def data(self) -> AppData:
        """The calling app's own followers and menus."""
        return self.state.apps[self.app.key]

    def followers(self) -> list[str]:
        """Openids of the calling app's current followers, in the order they came."""
        return [openid for openid, info in self.data.users.items() if info.get("subscribe")]

    def record_sent(self, kind: str, body: JSONDict) -> None:
        """Remember an accepted message as sent by the calling app."""
        self.state.record_sent(kind, body, self.app)

    def json(self) -> JSONDict:
        """The JSON object posted, or the fault WeChat answers for a bad body."""
        if self.body_problem is not None:
            raise APIFault(self.body_problem)
        if not isinstance(self.body, dict):
            raise APIFault(47001)
        return self.body


# -- serving -----------------------------------------------------------------------


def make_view(state: SandboxState, route: Route) -> t.Callable[..., Response]:
    """The Flask view of ``route``: checks the caller's access_token and answers
    the handler's result (or fault) as WeChat does."""

    def view(**kwargs: str) -> Response:
        try:
            registration = None
            if route.auth != "none":
                token = state.authenticate(request.args.get("access_token", ""))
                registration = state.registrations[token.app_key]
                is_work = registration.kind == "work"
                if (route.auth == "work" and not is_work) or (route.auth == "mp" and is_work):
                    raise APIFault(48001)
            context = Context(
                state,
                registration,
                {**request.args.to_dict(), **kwargs},
                g.sandbox_body,
                g.sandbox_body_problem,
            )
            with state.lock:
                answer = route.handler(context)
        except APIFault as fault:
            return error_answer(fault)
        return answer if isinstance(answer, Response) else json_answer(answer)

    view.__name__ = "sandbox_" + re.sub(r"\W", "_", route.rule)
    return view


def read_body() -> tuple[t.Any, int | None]:
    """The JSON body (None for GET and forms) and the errcode if it is unusable."""
    if request.method not in ("POST", "PUT"):
        return None, None
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return None, None
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None, 44002
    try:
        return json.loads(raw.decode("utf-8")), None
    except (UnicodeDecodeError, ValueError):
        return None, 47001


def json_answer(payload: JSONDict, status: int = 200) -> Response:
    # Like WeChat: real UTF-8, and no charset parameter on the content type.
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(body, status=status, content_type="application/json")


#: Where the sandbox's Flask app keeps its state (for :func:`error_answer`).
STATE_KEY = "flask_wechat_sandbox"


def error_answer(fault: APIFault, status: int = 200) -> Response:
    """WeChat's error answer: ``errmsg`` ends with a rid, and the call is kept
    under it for ``/cgi-bin/openapi/rid/get``."""
    state: SandboxState | None = current_app.extensions.get(STATE_KEY)
    if state is None or fault.verbatim:
        return json_answer({"errcode": fault.errcode, "errmsg": fault.errmsg}, status)
    rid = state.new_rid()
    payload = {"errcode": fault.errcode, "errmsg": f"{fault.errmsg} rid: {rid}"}
    answer = json_answer(payload, status)
    started = g.get("sandbox_started", time.monotonic())
    call = {
        "invoke_time": int(state.clock()),
        "cost_in_ms": int((time.monotonic() - started) * 1000),
        "request_url": _masked_query(request.args.to_dict()),
        "request_body": _body_text(),
        "response_body": answer.get_data(as_text=True),
        "client_ip": request.remote_addr or "",
    }
    state.remember_rid(rid, request.args.to_dict(), g.get("sandbox_body"), call)
    return answer


def _body_text() -> str:
    """The request's body as text, at most 4 KiB; none for a GET (an older werkzeug
    would wait for a body a GET never sends)."""
    if request.method not in ("POST", "PUT") or request.mimetype == "multipart/form-data":
        return ""
    return request.get_data(cache=True)[:4096].decode("utf-8", "replace")


def _masked_query(args: dict[str, str]) -> str:
    """The query string as WeChat's rid lookup shows it: credentials cut short."""
    hidden = ("access_token", "secret", "corpsecret", "code", "js_code")
    return "&".join(
        f"{name}={value[:6] + 'xxxx' if name in hidden else value}" for name, value in args.items()
    )


def ok(**extra: t.Any) -> JSONDict:
    """A success answer of the kind that carries ``errcode`` 0."""
    return {"errcode": 0, "errmsg": "ok", **extra}


def to_int(value: t.Any) -> int | None:
    """``value`` as an int if WeChat would take it as one (123 or "123")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def to_text(value: t.Any) -> str:
    return value if isinstance(value, str) else ""


def page_of(ctx: Context, openids: list[str], next_openid: str) -> JSONDict:
    """One page of ``openids`` after ``next_openid``, the way WeChat pages: the
    last openid of a page is the next cursor, and the page after the end has
    ``count`` 0, no ``data`` and an empty ``next_openid``."""
    start = 0
    if next_openid:
        try:
            start = openids.index(next_openid) + 1
        except ValueError:
            raise APIFault(40003) from None
    page = openids[start : start + max(1, ctx.state.page_size)]
    answer: JSONDict = {"count": len(page)}
    if page:
        answer["data"] = {"openid": page}
    answer["next_openid"] = page[-1] if page else ""
    return answer
