"""Access tokens, JS-SDK tickets and WeChat's callback addresses."""

from __future__ import annotations

from ..state import APIFault
from .base import Answer, Context, RouteTable, ok, to_text

routes = RouteTable()


@routes.endpoint("/cgi-bin/token", auth="none")
def token(ctx: Context) -> Answer:
    """Official Account / mini program access_token; retires the previous one."""
    if ctx.args.get("grant_type") != "client_credential":
        raise APIFault(40002)
    app = ctx.state.check_app(ctx.args.get("appid", ""), ctx.args.get("secret", ""), work=False)
    issued = ctx.state.issue_token(app.app_id)
    return {"access_token": issued.value, "expires_in": ctx.state.remaining(issued.expires_at)}


@routes.endpoint("/cgi-bin/stable_token", methods=("POST",), auth="none")
def stable_token(ctx: Context) -> Answer:
    """The stable access_token: the same one until it expires or is force-refreshed."""
    body = ctx.json()
    if body.get("grant_type") != "client_credential":
        raise APIFault(40002)
    force = body.get("force_refresh", False)
    if not isinstance(force, bool):
        raise APIFault(40097)
    app = ctx.state.check_app(to_text(body.get("appid")), to_text(body.get("secret")), work=False)
    issued = ctx.state.issue_token(app.app_id, slot="stable", reuse=not force)
    return {"access_token": issued.value, "expires_in": ctx.state.remaining(issued.expires_at)}


@routes.endpoint("/cgi-bin/gettoken", auth="none")
def work_token(ctx: Context) -> Answer:
    """WeCom access_token: the same one while it is valid."""
    app = ctx.state.check_app(ctx.args.get("corpid", ""), ctx.args.get("corpsecret", ""), work=True)
    issued = ctx.state.issue_token(app.app_id, reuse=True, agent_id=app.agent_id)
    return ok(access_token=issued.value, expires_in=ctx.state.remaining(issued.expires_at))


def _ticket_answer(ctx: Context, type_: str) -> Answer:
    ticket = ctx.state.ticket(ctx.app.app_id, type_)
    return ok(
        ticket=ticket.value,
        expires_in=ctx.state.remaining(ticket.expires_at, ctx.state.ticket_ttl),
    )


@routes.endpoint("/cgi-bin/ticket/getticket")
def getticket(ctx: Context) -> Answer:
    """JS-SDK ``jsapi`` (or ``wx_card``) ticket of an Official Account."""
    type_ = ctx.args.get("type", "")
    if type_ not in ("jsapi", "wx_card"):
        raise APIFault(40097)
    return _ticket_answer(ctx, type_)


@routes.endpoint("/cgi-bin/get_jsapi_ticket", auth="work")
def work_jsapi_ticket(ctx: Context) -> Answer:
    """WeCom corp JS-SDK ticket."""
    return _ticket_answer(ctx, "jsapi")


@routes.endpoint("/cgi-bin/ticket/get", auth="work")
def work_agent_ticket(ctx: Context) -> Answer:
    """WeCom app (``agent_config``) JS-SDK ticket."""
    if ctx.args.get("type") != "agent_config":
        raise APIFault(40097)
    return _ticket_answer(ctx, "agent_config")


@routes.endpoint("/cgi-bin/getcallbackip", auth="any")
@routes.endpoint("/cgi-bin/get_api_domain_ip", auth="any")
def callback_ips(ctx: Context) -> Answer:
    """The addresses "WeChat" calls from: loopback."""
    return {"ip_list": ["127.0.0.1", "::1"]}
