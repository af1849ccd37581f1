"""Web OAuth (网页授权): the authorize page, codes, user tokens and userinfo."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Response

from ..state import OAUTH_SCOPES, APIFault, Token
from .base import Answer, Context, JSONDict, RouteTable, ok

routes = RouteTable()


@routes.endpoint("/connect/oauth2/authorize", auth="none")
def oauth_authorize(ctx: Context) -> Answer:
    """The authorize page, as if the user had agreed: a 302 back to
    ``redirect_uri`` with a fresh ``code`` and the ``state``."""
    app_id = ctx.args.get("appid", "")
    registration = ctx.state.find_app(app_id)
    if registration is None:
        raise APIFault(40013)
    redirect_uri = ctx.args.get("redirect_uri", "")
    target = urlsplit(redirect_uri)
    if target.scheme not in ("http", "https") or not target.netloc:
        raise APIFault(10003, "redirect_uri 参数错误")
    if ctx.args.get("response_type") != "code":
        raise APIFault(40097)
    scope = ctx.args.get("scope", "")
    if scope not in OAUTH_SCOPES:
        raise APIFault(10005, "scope 参数错误或没有 scope 权限")
    user = ctx.state.work_user if registration.kind == "work" else ctx.state.oauth_user
    code = ctx.state.oauth_code(user, scope, app_id)
    query = [*parse_qsl(target.query, keep_blank_values=True)]
    query += [("code", code), ("state", ctx.args.get("state", ""))]
    location = urlunsplit(target._replace(query=urlencode(query)))
    return Response(status=302, headers={"Location": location})


def _user(ctx: Context, issued: Token) -> JSONDict:
    """What the app that ``issued`` belongs to knows of its user ({} if nothing)."""
    data = ctx.state.apps.get(issued.app_key)
    return data.users.get(issued.openid, {}) if data is not None else {}


def _oauth_answer(ctx: Context, issued: Token, refresh_token: str) -> JSONDict:
    answer: JSONDict = {
        "access_token": issued.value,
        "expires_in": ctx.state.remaining(issued.expires_at),
        "refresh_token": refresh_token,
        "openid": issued.openid,
        "scope": issued.scope,
    }
    unionid = _user(ctx, issued).get("unionid")
    if unionid:
        answer["unionid"] = unionid
    return answer


@routes.endpoint("/sns/oauth2/access_token", auth="none")
def oauth_access_token(ctx: Context) -> Answer:
    """Trade a web OAuth code (once) for the user's access_token and openid."""
    if ctx.args.get("grant_type") != "authorization_code":
        raise APIFault(40002)
    app = ctx.state.check_app(ctx.args.get("appid", ""), ctx.args.get("secret", ""), work=False)
    code = ctx.state.use_code(ctx.args.get("code", ""), app.app_id)
    issued = ctx.state.issue_oauth_token(app.app_id, code.openid, code.scope)
    refresh = ctx.state.issue_refresh_token(app.app_id, code.openid, code.scope)
    return _oauth_answer(ctx, issued, refresh.value)


@routes.endpoint("/sns/oauth2/refresh_token", auth="none")
def oauth_refresh(ctx: Context) -> Answer:
    """A new web OAuth access_token from the (30-day) refresh_token."""
    app_id = ctx.args.get("appid", "")
    registration = ctx.state.find_app(app_id)
    if registration is None or registration.kind == "work":
        raise APIFault(40013)
    if ctx.args.get("grant_type") != "refresh_token":
        raise APIFault(40002)
    value = ctx.args.get("refresh_token", "")
    if not value:
        raise APIFault(41003)
    refresh = ctx.state.refresh_tokens.get(value)
    if refresh is None or refresh.app_id != app_id:
        raise APIFault(40030)
    if ctx.state.clock() >= refresh.expires_at:
        raise APIFault(42002)
    issued = ctx.state.issue_oauth_token(app_id, refresh.openid, refresh.scope)
    return _oauth_answer(ctx, issued, refresh.value)


def _oauth_user(ctx: Context) -> Token:
    issued = ctx.state.authenticate(ctx.args.get("access_token", ""), oauth=True)
    openid = ctx.args.get("openid", "")
    if not openid:
        raise APIFault(41009)
    if openid != issued.openid:
        raise APIFault(40003)
    return issued


@routes.endpoint("/sns/userinfo", auth="none")
def oauth_userinfo(ctx: Context) -> Answer:
    """The user's profile; needs the ``snsapi_userinfo`` scope (else 48001)."""
    issued = _oauth_user(ctx)
    if issued.scope != "snsapi_userinfo":
        raise APIFault(48001)
    user = _user(ctx, issued)
    answer: JSONDict = {
        "openid": issued.openid,
        "nickname": user.get("nickname", "微信用户"),
        "sex": user.get("sex", 0),
        "province": user.get("province", ""),
        "city": user.get("city", ""),
        "country": user.get("country", ""),
        "headimgurl": user.get("headimgurl", ""),
        "privilege": [],
    }
    if user.get("unionid"):
        answer["unionid"] = user["unionid"]
    return answer


@routes.endpoint("/sns/auth", auth="none")
def oauth_check(ctx: Context) -> Answer:
    """Whether a web OAuth access_token is (still) valid for ``openid``."""
    _oauth_user(ctx)
    return ok()
