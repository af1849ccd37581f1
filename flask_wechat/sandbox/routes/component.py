"""The third-party platform's (开放平台) endpoints and its 授权页.

Component endpoints take ``component_access_token`` (not ``access_token``) and
``component_appid`` in the JSON body; see :mod:`..component` for the rules.
"""

from __future__ import annotations

import typing as t
import urllib.parse

from flask import Response

from ..state import APIFault
from .base import Answer, Context, RouteTable, to_int, to_text

if t.TYPE_CHECKING:
    from ..component import FakeComponent

routes = RouteTable()

_COMPONENT = "/cgi-bin/component/"
_LIST_PAGE = 500


def _component(ctx: Context, body: t.Mapping[str, t.Any]) -> FakeComponent:
    found = ctx.state.components.get(to_text(body.get("component_appid")))
    if found is None:
        raise APIFault(40013)
    return found


def _authenticated(ctx: Context) -> tuple[FakeComponent, dict[str, t.Any]]:
    body = ctx.json()
    component = _component(ctx, body)
    problem = component.token_problem(ctx.args.get("component_access_token", ""))
    if problem is not None:
        raise APIFault(problem)
    return component, body


def _authorizer(component: FakeComponent, body: t.Mapping[str, t.Any]) -> t.Any:
    grant = component.authorizers.get(to_text(body.get("authorizer_appid")))
    if grant is None:
        raise APIFault(61003, "component is not authorized by this account")
    return grant


def _func_info(permissions: t.Iterable[int]) -> list[dict[str, t.Any]]:
    return [{"funcscope_category": {"id": p}} for p in permissions]


@routes.endpoint(_COMPONENT + "api_component_token", methods=("POST",), auth="none")
def component_token(ctx: Context) -> Answer:
    """A component_access_token, for the latest pushed ticket only."""
    body = ctx.json()
    component = _component(ctx, body)
    if to_text(body.get("component_appsecret")) != component.secret:
        raise APIFault(40125)
    ticket = to_text(body.get("component_verify_ticket"))
    if not ticket or ticket not in component.tickets:
        raise APIFault(61006, "component ticket is invalid")
    value, ttl = component.issue_token()
    return {
        "component_access_token": value,
        "expires_in": ctx.state.remaining(ttl + ctx.state.clock()),
    }


@routes.endpoint(_COMPONENT + "api_create_preauthcode", methods=("POST",), auth="none")
def create_preauthcode(ctx: Context) -> Answer:
    """A pre_auth_code for one visit of the 授权页."""
    component, _ = _authenticated(ctx)
    value, expires_in = component.new_pre_auth_code()
    return {"pre_auth_code": value, "expires_in": expires_in}


@routes.endpoint(_COMPONENT + "api_query_auth", methods=("POST",), auth="none")
def query_auth(ctx: Context) -> Answer:
    """Trade an authorization code (once) for the authorizer's tokens."""
    component, body = _authenticated(ctx)
    code = component.auth_codes.get(to_text(body.get("authorization_code")))
    if code is None or code.used or ctx.state.clock() >= code.expires_at:
        raise APIFault(61010, "authorization code is invalid, expired or used")
    code.used = True
    grant = component.authorizers.get(code.app_id)
    if grant is None:
        raise APIFault(61003, "component is not authorized by this account")
    issued = ctx.state.issue_token(grant.app_id)
    return {
        "authorization_info": {
            "authorizer_appid": grant.app_id,
            "authorizer_access_token": issued.value,
            "expires_in": ctx.state.remaining(issued.expires_at),
            "authorizer_refresh_token": grant.refresh_token,
            "func_info": _func_info(grant.permissions),
        }
    }


@routes.endpoint(_COMPONENT + "api_authorizer_token", methods=("POST",), auth="none")
def authorizer_token(ctx: Context) -> Answer:
    """A new authorizer_access_token; the refresh token rotates (the old one: 61023)."""
    component, body = _authenticated(ctx)
    refresh_token = to_text(body.get("authorizer_refresh_token"))
    grant = _authorizer(component, body)
    if refresh_token != grant.refresh_token:
        raise APIFault(61023, "refresh_token is invalid")
    component.rotate_refresh_token(grant.app_id)
    counts = component.authorizer_token_requests
    counts[grant.app_id] = counts.get(grant.app_id, 0) + 1
    issued = ctx.state.issue_token(grant.app_id)
    return {
        "authorizer_access_token": issued.value,
        "expires_in": ctx.state.remaining(issued.expires_at),
        "authorizer_refresh_token": grant.refresh_token,
    }


@routes.endpoint(_COMPONENT + "api_get_authorizer_info", methods=("POST",), auth="none")
def authorizer_info(ctx: Context) -> Answer:
    """The authorizer's profile and grant (with its current refresh token)."""
    component, body = _authenticated(ctx)
    grant = _authorizer(component, body)
    info: dict[str, t.Any] = {
        "nick_name": grant.nick_name,
        "user_name": "gh_" + grant.app_id[-12:],
        "service_type_info": {"id": 2},
        "verify_type_info": {"id": 0},
    }
    if grant.kind == "miniprogram":
        info["MiniProgramInfo"] = {"network": {}, "categories": [], "visit_status": 0}
    return {
        "authorizer_info": info,
        "authorization_info": {
            "authorizer_appid": grant.app_id,
            "authorizer_refresh_token": grant.refresh_token,
            "func_info": _func_info(grant.permissions),
        },
    }


@routes.endpoint(_COMPONENT + "api_get_authorizer_list", methods=("POST",), auth="none")
def authorizer_list(ctx: Context) -> Answer:
    """One page (at most 500) of the current authorizers."""
    component, body = _authenticated(ctx)
    offset, count = to_int(body.get("offset")), to_int(body.get("count"))
    if offset is None or count is None or offset < 0 or not 0 < count <= _LIST_PAGE:
        raise APIFault(40097)
    grants = list(component.authorizers.values())
    return {
        "total_count": len(grants),
        "list": [
            {
                "authorizer_appid": grant.app_id,
                "refresh_token": grant.refresh_token,
                "auth_time": grant.auth_time,
            }
            for grant in grants[offset : offset + count]
        ],
    }


@routes.endpoint("/cgi-bin/componentloginpage", auth="none")
@routes.endpoint("/wxaopen/safe/bindcomponent", auth="none")
def login_page(ctx: Context) -> Answer:
    """The 授权页: the sandbox's admin agrees at once (a fresh account, or the
    ``authorizer_appid`` given) and is sent back with the ``auth_code``."""
    component = ctx.state.components.get(ctx.args.get("component_appid", ""))
    redirect_uri = ctx.args.get("redirect_uri", "")
    if component is None or not redirect_uri.startswith(("http://", "https://")):
        return Response("bad component_appid or redirect_uri", 400, mimetype="text/plain")
    kind = "miniprogram" if ctx.args.get("auth_type") == "2" else "mp"
    try:
        code = component.authorize(
            ctx.args.get("pre_auth_code", ""), ctx.args.get("authorizer_appid") or None, kind=kind
        )
    except ValueError as exc:
        return Response(str(exc), 400, mimetype="text/plain")
    joiner = "&" if "?" in redirect_uri else "?"
    query = urllib.parse.urlencode({"auth_code": code, "expires_in": 3600})
    return Response(status=302, headers={"Location": redirect_uri + joiner + query})
