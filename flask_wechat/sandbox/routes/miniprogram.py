"""Mini Programs: login (``wx.login`` codes traded at ``jscode2session``), phone
numbers, codes and links, content security."""

from __future__ import annotations

import re
import secrets
import typing as t

from flask import Response

from ..state import APIFault
from .base import Answer, Context, JSONDict, RouteTable, ok, to_int, to_text
from .qrcode import PNG

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


@routes.endpoint("/wxa/business/getuserphonenumber", methods=("POST",))
def phone_number(ctx: Context) -> Answer:
    """The phone number behind a one-time code of
    :meth:`~..state.SandboxState.phone_code` (40029 unknown, used or another app's)."""
    code = to_text(ctx.json().get("code"))
    if not code:
        raise APIFault(41008)
    issued = ctx.state.phone_codes.get(code)
    if issued is None or issued[0] != ctx.app.key:
        raise APIFault(40029)
    del ctx.state.phone_codes[code]
    _, _, phone = issued
    country, number = phone[1:].split(" ", 1)
    number = number.replace(" ", "")
    info = {
        "phoneNumber": number if country == "86" else f"+{country}{number}",
        "purePhoneNumber": number,
        "countryCode": country,
        "watermark": {"timestamp": int(ctx.state.clock()), "appid": ctx.app.app_id},
    }
    return ok(phone_info=info)


_SCENE_CHARS = re.compile(r"[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}")
ENV_VERSIONS = frozenset({"release", "trial", "develop"})


@routes.endpoint("/wxa/getwxacodeunlimit", methods=("POST",))
def wxacode_unlimit(ctx: Context) -> Answer:
    """A mini program code image for ``scene`` (1-32 visible characters)."""
    body = ctx.json()
    if _SCENE_CHARS.fullmatch(to_text(body.get("scene"))) is None:
        raise APIFault(40097)
    _check_jump(body)
    width = body.get("width", 430)
    if to_int(width) is None or not 280 <= t.cast(int, to_int(width)) <= 1280:
        raise APIFault(40097)
    return Response(PNG, content_type="image/jpeg")


@routes.endpoint("/wxa/generate_urllink", methods=("POST",))
def urllink(ctx: Context) -> Answer:
    """A URL Link to a page of the mini program."""
    body = ctx.json()
    _check_jump(body)
    _check_expiry(body)
    return ok(url_link="https://wxaurl.cn/" + secrets.token_urlsafe(9))


@routes.endpoint("/wxa/generatescheme", methods=("POST",))
def scheme(ctx: Context) -> Answer:
    """A URL Scheme to a page of the mini program."""
    body = ctx.json()
    jump = body.get("jump_wxa", {})
    if not isinstance(jump, dict):
        raise APIFault(40097)
    _check_jump(jump)
    _check_expiry(body)
    return ok(openlink="weixin://dl/business/?t=" + secrets.token_urlsafe(9))


def _check_jump(body: JSONDict) -> None:
    """A page path (no leading slash, WeChat says 40165) and env_version."""
    page = body.get("page", body.get("path"))
    if page is not None and (not isinstance(page, str) or page.startswith("/")):
        raise APIFault(40165)
    query = body.get("query")
    if query is not None and (not isinstance(query, str) or len(query) > 1024):
        raise APIFault(40212)
    if body.get("env_version") is not None and body["env_version"] not in ENV_VERSIONS:
        raise APIFault(40097)


def _check_expiry(body: JSONDict) -> None:
    """``expire_type`` 0 (``expire_time``) or 1 (``expire_interval``, at most 30 days)."""
    kind = body.get("expire_type", 0)
    if kind not in (0, 1):
        raise APIFault(40097)
    if kind == 1:
        interval = to_int(body.get("expire_interval"))
        if interval is None or not 1 <= interval <= 30:
            raise APIFault(40097)


#: Words the sandbox's content check judges risky (there is no real model behind it).
RISKY_WORDS = ("risky", "违规")
SEC_SCENES = frozenset({1, 2, 3, 4})


@routes.endpoint("/wxa/msg_sec_check", methods=("POST",))
def msg_sec_check(ctx: Context) -> Answer:
    """Version 2 text check: ``risky`` for text holding one of :data:`RISKY_WORDS`."""
    body = ctx.json()
    if body.get("version") != 2 or body.get("scene") not in SEC_SCENES:
        raise APIFault(40097)
    if not to_text(body.get("openid")):
        raise APIFault(40003)
    content = to_text(body.get("content"))
    if not content:
        raise APIFault(47001)
    risky = any(word in content for word in RISKY_WORDS)
    result = {"suggest": "risky" if risky else "pass", "label": 20001 if risky else 100}
    detail = [{"strategy": "content_model", "errcode": 0, **result, "prob": 90 if risky else 0}]
    return ok(result=result, detail=detail, trace_id=secrets.token_hex(16))


@routes.endpoint("/wxa/media_check_async", methods=("POST",))
def media_check_async(ctx: Context) -> Answer:
    """Version 2 media check: a ``trace_id``; the result would come as a
    ``wxa_media_check`` event."""
    body = ctx.json()
    if body.get("version") != 2 or body.get("scene") not in SEC_SCENES:
        raise APIFault(40097)
    if body.get("media_type") not in (1, 2):
        raise APIFault(40097)
    if not to_text(body.get("openid")):
        raise APIFault(40003)
    if not to_text(body.get("media_url")).startswith(("http://", "https://")):
        raise APIFault(40097)
    trace_id = secrets.token_hex(16)
    ctx.record_sent("media_check", {**body, "trace_id": trace_id})
    return ok(trace_id=trace_id)
