"""Mini Program login (``wx.login`` codes traded at ``jscode2session``)."""

from __future__ import annotations

from ..state import APIFault
from .base import Answer, Context, JSONDict, RouteTable

routes = RouteTable()


@routes.endpoint("/sns/jscode2session", auth="none")
def jscode2session(ctx: Context) -> Answer:
    """Mini program login: a ``wx.login`` code (once) for openid and session_key."""
    if ctx.args.get("grant_type") != "authorization_code":
        raise APIFault(40002)
    app = ctx.state.check_app(ctx.args.get("appid", ""), ctx.args.get("secret", ""), work=False)
    code = ctx.state.use_code(ctx.args.get("js_code", ""), app.app_id)
    answer: JSONDict = {
        "session_key": ctx.state.new_session_key(code.openid),
        "openid": code.openid,
    }
    unionid = ctx.state.apps[app.key].users.get(code.openid, {}).get("unionid")
    if unionid:
        answer["unionid"] = unionid
    return answer
