"""The sandbox's HTTP endpoints: a Flask app that answers like the WeChat API.

Every request is recorded, may be delayed or answered with an injected fault
(see :class:`~.state.SandboxState`), then reaches its endpoint. Endpoints other
than the credential and login ones need a valid ``access_token`` query
parameter. Answers are JSON with WeChat's own quirks: ``Content-Type:
application/json`` without a charset, UTF-8 text without ``\\u`` escapes, and
HTTP 200 for errors too.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import typing as t
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from .state import (
    OAUTH_SCOPES,
    APIFault,
    Media,
    Registration,
    SandboxState,
    Token,
)

JSONDict = dict[str, t.Any]
Answer = JSONDict | Response
Handler = t.Callable[["Context"], Answer]

#: Who may call an endpoint: nobody needs a token ("none"), a non-WeCom app
#: ("mp"), a WeCom app ("work") or any registered app ("any").
Auth = t.Literal["none", "mp", "work", "any"]


@dataclasses.dataclass
class _Route:
    rule: str
    methods: tuple[str, ...]
    auth: Auth
    handler: Handler


_ROUTES: list[_Route] = []


def endpoint(
    rule: str, *, methods: tuple[str, ...] = ("GET",), auth: Auth = "mp"
) -> t.Callable[[Handler], Handler]:
    """Declare ``handler`` as the sandbox's answer to ``rule``."""

    def decorate(handler: Handler) -> Handler:
        _ROUTES.append(_Route(rule, methods, auth, handler))
        return handler

    return decorate


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

    def json(self) -> JSONDict:
        """The JSON object posted, or the fault WeChat answers for a bad body."""
        if self.body_problem is not None:
            raise APIFault(self.body_problem)
        if not isinstance(self.body, dict):
            raise APIFault(47001)
        return self.body


# -- the Flask app -----------------------------------------------------------------


def create_app(state: SandboxState) -> Flask:
    """A Flask app serving the WeChat API out of ``state``."""
    app = Flask("flask_wechat.sandbox")
    app.config["MAX_CONTENT_LENGTH"] = 32 * 1024 * 1024

    @app.before_request
    def arrive() -> Response | None:
        body, problem = _read_body()
        g.sandbox_body = body
        g.sandbox_body_problem = problem
        wait = state.arrive(request.method, request.path, request.args.to_dict(), body)
        fault = state.take_fault(request.path)
        if wait > 0:
            state.stopping.wait(wait)
        if fault is not None:
            error, status = fault
            return _error(error, status)
        return None

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if exc.code == 404:
            return _error(APIFault(40066, "invalid url"), 404)
        if exc.code == 405:
            wanted = "POST" if request.method == "GET" else "GET"
            errcode = 43002 if wanted == "POST" else 43001
            return _error(APIFault(errcode, f"require {wanted} method"), 405)
        if exc.code == 413:
            return _error(APIFault(40006))
        return _error(APIFault(-1), exc.code or 500)

    for route in _ROUTES:
        app.add_url_rule(
            route.rule,
            endpoint=route.rule,
            view_func=_view(state, route),
            methods=list(route.methods),
        )
    return app


def _view(state: SandboxState, route: _Route) -> t.Callable[..., Response]:
    def view(**kwargs: str) -> Response:
        try:
            registration = None
            if route.auth != "none":
                token = state.authenticate(request.args.get("access_token", ""))
                registration = state.registrations[token.app_id]
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
            return _error(fault)
        return answer if isinstance(answer, Response) else _json(answer)

    view.__name__ = "sandbox_" + re.sub(r"\W", "_", route.rule)
    return view


def _read_body() -> tuple[t.Any, int | None]:
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


def _json(payload: JSONDict, status: int = 200) -> Response:
    # Like WeChat: real UTF-8, and no charset parameter on the content type.
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(body, status=status, content_type="application/json")


def _error(fault: APIFault, status: int = 200) -> Response:
    return _json({"errcode": fault.errcode, "errmsg": fault.errmsg}, status)


def ok(**extra: t.Any) -> JSONDict:
    """A success answer of the kind that carries ``errcode`` 0."""
    return {"errcode": 0, "errmsg": "ok", **extra}


def _int(value: t.Any) -> int | None:
    """``value`` as an int if WeChat would take it as one (123 or "123")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _text(value: t.Any) -> str:
    return value if isinstance(value, str) else ""


# -- access tokens and tickets ------------------------------------------------------


@endpoint("/cgi-bin/token", auth="none")
def token(ctx: Context) -> Answer:
    """Official Account / mini program access_token; retires the previous one."""
    if ctx.args.get("grant_type") != "client_credential":
        raise APIFault(40002)
    app = ctx.state.check_app(ctx.args.get("appid", ""), ctx.args.get("secret", ""), work=False)
    issued = ctx.state.issue_token(app.app_id)
    return {"access_token": issued.value, "expires_in": ctx.state.remaining(issued.expires_at)}


@endpoint("/cgi-bin/stable_token", methods=("POST",), auth="none")
def stable_token(ctx: Context) -> Answer:
    """The stable access_token: the same one until it expires or is force-refreshed."""
    body = ctx.json()
    if body.get("grant_type") != "client_credential":
        raise APIFault(40002)
    force = body.get("force_refresh", False)
    if not isinstance(force, bool):
        raise APIFault(40097)
    app = ctx.state.check_app(_text(body.get("appid")), _text(body.get("secret")), work=False)
    issued = ctx.state.issue_token(app.app_id, slot="stable", reuse=not force)
    return {"access_token": issued.value, "expires_in": ctx.state.remaining(issued.expires_at)}


@endpoint("/cgi-bin/gettoken", auth="none")
def work_token(ctx: Context) -> Answer:
    """WeCom access_token: the same one while it is valid."""
    app = ctx.state.check_app(ctx.args.get("corpid", ""), ctx.args.get("corpsecret", ""), work=True)
    issued = ctx.state.issue_token(app.app_id, reuse=True)
    return ok(access_token=issued.value, expires_in=ctx.state.remaining(issued.expires_at))


def _ticket_answer(ctx: Context, type_: str) -> Answer:
    ticket = ctx.state.ticket(ctx.app.app_id, type_)
    return ok(
        ticket=ticket.value,
        expires_in=ctx.state.remaining(ticket.expires_at, ctx.state.ticket_ttl),
    )


@endpoint("/cgi-bin/ticket/getticket")
def getticket(ctx: Context) -> Answer:
    """JS-SDK ``jsapi`` (or ``wx_card``) ticket of an Official Account."""
    type_ = ctx.args.get("type", "")
    if type_ not in ("jsapi", "wx_card"):
        raise APIFault(40097)
    return _ticket_answer(ctx, type_)


@endpoint("/cgi-bin/get_jsapi_ticket", auth="work")
def work_jsapi_ticket(ctx: Context) -> Answer:
    """WeCom corp JS-SDK ticket."""
    return _ticket_answer(ctx, "jsapi")


@endpoint("/cgi-bin/ticket/get", auth="work")
def work_agent_ticket(ctx: Context) -> Answer:
    """WeCom app (``agent_config``) JS-SDK ticket."""
    if ctx.args.get("type") != "agent_config":
        raise APIFault(40097)
    return _ticket_answer(ctx, "agent_config")


@endpoint("/cgi-bin/getcallbackip", auth="any")
@endpoint("/cgi-bin/get_api_domain_ip", auth="any")
def callback_ips(ctx: Context) -> Answer:
    """The addresses "WeChat" calls from: loopback."""
    return {"ip_list": ["127.0.0.1", "::1"]}


# -- customer service -----------------------------------------------------------------

CUSTOM_MSGTYPES = frozenset(
    {
        "text",
        "image",
        "voice",
        "video",
        "music",
        "news",
        "mpnews",
        "mpnewsarticle",
        "msgmenu",
        "wxcard",
        "miniprogrampage",
        "link",
    }
)


@endpoint("/cgi-bin/message/custom/send", methods=("POST",))
def custom_send(ctx: Context) -> Answer:
    """A customer-service message; accepted ones are recorded in ``sent``."""
    body = ctx.json()
    if not _text(body.get("touser")):
        raise APIFault(40003)
    msgtype = body.get("msgtype")
    if msgtype not in CUSTOM_MSGTYPES or not isinstance(body.get(msgtype), dict):
        raise APIFault(40008)
    if msgtype == "text" and not _text(body["text"].get("content")):
        raise APIFault(44004)
    ctx.state.record_sent("custom", body)
    return ok()


@endpoint("/cgi-bin/message/custom/typing", methods=("POST",))
def custom_typing(ctx: Context) -> Answer:
    """The "typing…" indicator."""
    body = ctx.json()
    if not _text(body.get("touser")):
        raise APIFault(40003)
    if body.get("command") not in ("Typing", "CancelTyping"):
        raise APIFault(40097)
    return ok()


_KF_ACCOUNT = re.compile(r"^[A-Za-z0-9_]{1,10}@\S+$")


def _kf_fields(ctx: Context) -> tuple[str, str]:
    body = ctx.body if isinstance(ctx.body, dict) else {}
    if ctx.body_problem is not None and not ctx.args.get("kf_account"):
        raise APIFault(ctx.body_problem)
    account = _text(body.get("kf_account")) or ctx.args.get("kf_account", "")
    return account, _text(body.get("nickname"))


def _check_nickname(nickname: str) -> None:
    if not nickname or len(nickname) > 16:
        raise APIFault(65403)


@endpoint("/customservice/kfaccount/add", methods=("POST",))
def kf_add(ctx: Context) -> Answer:
    """Add a customer-service account ``prefix@wechat_id``."""
    account, nickname = _kf_fields(ctx)
    if not _KF_ACCOUNT.match(account):
        raise APIFault(65404)
    _check_nickname(nickname)
    if account in ctx.state.kf_accounts:
        raise APIFault(65406)
    if len(ctx.state.kf_accounts) >= 100:
        raise APIFault(65405)
    ctx.state.kf_accounts[account] = {
        "kf_account": account,
        "kf_nick": nickname,
        "kf_id": str(ctx.state.new_kf_id()),
        "kf_headimgurl": "",
    }
    return ok()


@endpoint("/customservice/kfaccount/update", methods=("POST",))
def kf_update(ctx: Context) -> Answer:
    """Rename a customer-service account."""
    account, nickname = _kf_fields(ctx)
    if account not in ctx.state.kf_accounts:
        raise APIFault(65401)
    _check_nickname(nickname)
    ctx.state.kf_accounts[account]["kf_nick"] = nickname
    return ok()


@endpoint("/customservice/kfaccount/del", methods=("GET", "POST"))
def kf_delete(ctx: Context) -> Answer:
    """Delete a customer-service account (JSON body or ``?kf_account=``)."""
    account, _ = _kf_fields(ctx)
    if ctx.state.kf_accounts.pop(account, None) is None:
        raise APIFault(65401)
    return ok()


@endpoint("/cgi-bin/customservice/getkflist")
def kf_list(ctx: Context) -> Answer:
    """All customer-service accounts."""
    return {"kf_list": [dict(kf) for kf in ctx.state.kf_accounts.values()]}


@endpoint("/customservice/kfaccount/uploadheadimg", methods=("POST",))
def kf_headimg(ctx: Context) -> Answer:
    """Set an account's avatar from the multipart field ``media`` (JPEG only)."""
    account = ctx.args.get("kf_account", "")
    kf = ctx.state.kf_accounts.get(account)
    if kf is None:
        raise APIFault(65401)
    media = _uploaded_media(ctx, "image")
    if media.content_type != "image/jpeg":
        raise APIFault(40113)
    kf["kf_headimgurl"] = f"http://mmbiz.qpic.cn/mmbiz/sandbox{kf['kf_id']}/0"
    return ok()


# -- templates ----------------------------------------------------------------------------

_INDUSTRIES = {
    "1": ("IT科技", "互联网/电子商务"),
    "2": ("IT科技", "IT软件与服务"),
    "3": ("IT科技", "IT硬件与设备"),
    "4": ("IT科技", "电子技术"),
    "5": ("IT科技", "通信与运营商"),
    "6": ("IT科技", "网络游戏"),
    "7": ("金融业", "银行"),
    "8": ("金融业", "基金理财信托"),
    "9": ("金融业", "保险"),
}


def _industry(industry_id: str) -> JSONDict:
    first, second = _INDUSTRIES.get(industry_id, ("其它", "其它"))
    return {"first_class": first, "second_class": second}


@endpoint("/cgi-bin/template/api_set_industry", methods=("POST",))
def set_industry(ctx: Context) -> Answer:
    """Set the two industries (ids 1-41)."""
    body = ctx.json()
    ids = [_int(body.get("industry_id1")), _int(body.get("industry_id2"))]
    if any(i is None or not 1 <= i <= 41 for i in ids):
        raise APIFault(40102)
    ctx.state.industry = (str(ids[0]), str(ids[1]))
    return ok()


@endpoint("/cgi-bin/template/get_industry")
def get_industry(ctx: Context) -> Answer:
    """The two industries set."""
    primary, secondary = ctx.state.industry
    return {"primary_industry": _industry(primary), "secondary_industry": _industry(secondary)}


@endpoint("/cgi-bin/template/api_add_template", methods=("POST",))
def add_template(ctx: Context) -> Answer:
    """Add a template from the library by its short id; answers the template_id."""
    body = ctx.json()
    short = _text(body.get("template_id_short"))
    if not short:
        raise APIFault(40037)
    if len(ctx.state.templates) >= 25:
        raise APIFault(45026)
    template_id = secrets.token_urlsafe(32)[:43]
    primary, secondary = ctx.state.industry
    ctx.state.templates[template_id] = {
        "template_id": template_id,
        "title": f"沙盒模板 {short}",
        "primary_industry": _industry(primary)["first_class"],
        "deputy_industry": _industry(secondary)["second_class"],
        "content": "{{first.DATA}}\n内容：{{keyword1.DATA}}\n{{remark.DATA}}",
        "example": "您好\n内容：示例\n谢谢",
    }
    return ok(template_id=template_id)


@endpoint("/cgi-bin/template/get_all_private_template")
def list_templates(ctx: Context) -> Answer:
    """The account's templates."""
    return {"template_list": [dict(tpl) for tpl in ctx.state.templates.values()]}


@endpoint("/cgi-bin/template/del_private_template", methods=("POST",))
def delete_template(ctx: Context) -> Answer:
    """Delete a template."""
    template_id = _text(ctx.json().get("template_id"))
    if ctx.state.templates.pop(template_id, None) is None:
        raise APIFault(40037)
    return ok()


@endpoint("/cgi-bin/message/template/send", methods=("POST",))
def template_send(ctx: Context) -> Answer:
    """A template message; accepted ones are recorded in ``sent``."""
    body = ctx.json()
    touser = _text(body.get("touser"))
    if not touser:
        raise APIFault(40003)
    if _text(body.get("template_id")) not in ctx.state.templates:
        raise APIFault(40037)
    user = ctx.state.users.get(touser)
    if user is not None and not user.get("subscribe"):
        raise APIFault(43004)
    if not isinstance(body.get("data", {}), dict):
        raise APIFault(47001)
    miniprogram = body.get("miniprogram")
    if miniprogram is not None and not (
        isinstance(miniprogram, dict) and _text(miniprogram.get("appid"))
    ):
        raise APIFault(40097)
    ctx.state.record_sent("template", body)
    return ok(msgid=ctx.state.next_id())


# -- menus --------------------------------------------------------------------------------

_KEY_TYPES = frozenset(
    {
        "click",
        "scancode_push",
        "scancode_waitmsg",
        "pic_sysphoto",
        "pic_photo_or_album",
        "pic_weixin",
        "location_select",
    }
)
_BUTTON_TYPES = _KEY_TYPES | {
    "view",
    "miniprogram",
    "media_id",
    "view_limited",
    "article_id",
    "article_view_limited",
}

# errcodes for (type, name, key, url) problems of a top-level / a sub button
_TOP_CODES = (40017, 40018, 40019, 40020)
_SUB_CODES = (40024, 40025, 40026, 40027)


def _check_button(button: t.Any, codes: tuple[int, int, int, int], max_name: int) -> None:
    type_code, name_code, key_code, url_code = codes
    if not isinstance(button, dict):
        raise APIFault(47001)
    name = _text(button.get("name"))
    if not name or len(name.encode("utf-8")) > max_name:
        raise APIFault(name_code)
    if button.get("sub_button"):
        return
    type_ = button.get("type")
    if type_ not in _BUTTON_TYPES:
        raise APIFault(type_code)
    if type_ in _KEY_TYPES:
        key = _text(button.get("key"))
        if not key or len(key.encode("utf-8")) > 128:
            raise APIFault(key_code)
    if type_ in ("view", "miniprogram"):
        url = _text(button.get("url"))
        if not url or len(url.encode("utf-8")) > 1024:
            raise APIFault(url_code)
    if type_ == "miniprogram" and not (
        _text(button.get("appid")) and _text(button.get("pagepath"))
    ):
        raise APIFault(40097)
    if type_ in ("media_id", "view_limited") and not _text(button.get("media_id")):
        raise APIFault(40007)
    if type_ in ("article_id", "article_view_limited") and not _text(button.get("article_id")):
        raise APIFault(40097)


def _check_buttons(buttons: t.Any) -> list[JSONDict]:
    """Validate a menu like WeChat: 1-3 top buttons, each 1-5 sub buttons."""
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise APIFault(40016)
    for button in buttons:
        _check_button(button, _TOP_CODES, 16)
        subs = button.get("sub_button") or []
        if not isinstance(subs, list):
            raise APIFault(47001)
        if len(subs) > 5:
            raise APIFault(40023)
        for sub in subs:
            _check_button(sub, _SUB_CODES, 60)
            if sub.get("sub_button"):
                raise APIFault(40022)
    return t.cast(list[JSONDict], buttons)


def _as_served(buttons: list[JSONDict]) -> list[JSONDict]:
    """Buttons as ``menu/get`` shows them: every button with a ``sub_button`` list."""
    return [
        {**button, "sub_button": _as_served(button.get("sub_button") or [])} for button in buttons
    ]


@endpoint("/cgi-bin/menu/create", methods=("POST",), auth="any")
def menu_create(ctx: Context) -> Answer:
    """Create (replace) the default menu."""
    body = ctx.json()
    buttons = _check_buttons(body.get("button"))
    ctx.state.menu = json.loads(json.dumps({"button": buttons}))
    ctx.state.menu_id = ctx.state.next_id()
    return ok()


@endpoint("/cgi-bin/menu/get", auth="any")
def menu_get(ctx: Context) -> Answer:
    """The default menu and the conditional menus, or 46003."""
    menu = ctx.state.menu
    if menu is None:
        raise APIFault(46003)
    return {
        "menu": {"button": _as_served(menu["button"]), "menuid": ctx.state.menu_id},
        "conditionalmenu": [
            {
                "button": _as_served(cond["button"]),
                "matchrule": cond["matchrule"],
                "menuid": cond["menuid"],
            }
            for cond in ctx.state.conditional_menus
        ],
    }


@endpoint("/cgi-bin/menu/delete", auth="any")
def menu_delete(ctx: Context) -> Answer:
    """Delete the default menu and every conditional menu."""
    ctx.state.menu = None
    ctx.state.conditional_menus.clear()
    return ok()


_MATCH_KEYS = (
    "tag_id",
    "group_id",
    "sex",
    "country",
    "province",
    "city",
    "client_platform_type",
    "language",
)


@endpoint("/cgi-bin/menu/addconditional", methods=("POST",))
def menu_add_conditional(ctx: Context) -> Answer:
    """Add a conditional menu; needs a default menu first."""
    body = ctx.json()
    if ctx.state.menu is None:
        raise APIFault(65303)
    buttons = _check_buttons(body.get("button"))
    rule = body.get("matchrule")
    if not isinstance(rule, dict) or not any(rule.get(key) for key in _MATCH_KEYS):
        raise APIFault(65304)
    menuid = ctx.state.next_id()
    ctx.state.conditional_menus.append(
        json.loads(json.dumps({"button": buttons, "matchrule": rule, "menuid": menuid}))
    )
    return {"menuid": str(menuid)}


@endpoint("/cgi-bin/menu/delconditional", methods=("POST",))
def menu_del_conditional(ctx: Context) -> Answer:
    """Delete one conditional menu by ``menuid``."""
    menuid = _int(ctx.json().get("menuid"))
    for cond in ctx.state.conditional_menus:
        if cond["menuid"] == menuid:
            ctx.state.conditional_menus.remove(cond)
            return ok()
    raise APIFault(65301)


def _rule_matches(rule: JSONDict, user: JSONDict) -> bool:
    for key, wanted in rule.items():
        if wanted in ("", None) or key == "client_platform_type":
            continue  # the platform of a user is not known here
        if key in ("tag_id", "group_id"):
            if str(wanted) not in {str(tag) for tag in user.get("tagid_list", [])}:
                return False
        elif str(user.get(key, "")) != str(wanted):
            return False
    return True


@endpoint("/cgi-bin/menu/trymatch", methods=("POST",))
def menu_trymatch(ctx: Context) -> Answer:
    """The menu ``user_id`` would see: the newest matching conditional menu, else
    the default one."""
    user = ctx.state.users.get(_text(ctx.json().get("user_id")))
    if user is None:
        raise APIFault(65302)
    if ctx.state.menu is None:
        raise APIFault(46003)
    for cond in reversed(ctx.state.conditional_menus):
        if _rule_matches(cond["matchrule"], user):
            return {"button": _as_served(cond["button"])}
    return {"button": _as_served(ctx.state.menu["button"])}


# -- tags -----------------------------------------------------------------------------------


def _tag_body(ctx: Context) -> JSONDict:
    tag = ctx.json().get("tag")
    if not isinstance(tag, dict):
        raise APIFault(47001)
    return tag


def _check_tag_name(ctx: Context, name: t.Any, tag_id: int | None = None) -> str:
    if not isinstance(name, str) or not name or len(name) > 30:
        raise APIFault(45157)
    if any(other == name and i != tag_id for i, other in ctx.state.tags.items()):
        raise APIFault(45157)
    return name


def _user_tag(ctx: Context, value: t.Any) -> int:
    tag_id = _int(value)
    if tag_id is None or tag_id not in ctx.state.tags:
        raise APIFault(45159)
    return tag_id


def _editable_tag(ctx: Context, value: t.Any) -> int:
    tag_id = _user_tag(ctx, value)
    if tag_id < 100:
        raise APIFault(45058)
    return tag_id


@endpoint("/cgi-bin/tags/create", methods=("POST",))
def tags_create(ctx: Context) -> Answer:
    """Create a tag (ids from 100, at most 100 tags, names unique and ≤ 30 chars)."""
    name = _check_tag_name(ctx, _tag_body(ctx).get("name"))
    if sum(1 for tag_id in ctx.state.tags if tag_id >= 100) >= 100:
        raise APIFault(45056)
    tag_id = ctx.state.new_tag_id()
    ctx.state.tags[tag_id] = name
    return {"tag": {"id": tag_id, "name": name}}


@endpoint("/cgi-bin/tags/get")
def tags_get(ctx: Context) -> Answer:
    """Every tag with its number of followers."""
    counts: dict[int, int] = {}
    for user in ctx.state.users.values():
        for tag_id in user.get("tagid_list", []):
            counts[tag_id] = counts.get(tag_id, 0) + 1
    return {
        "tags": [
            {"id": tag_id, "name": name, "count": counts.get(tag_id, 0)}
            for tag_id, name in sorted(ctx.state.tags.items())
        ]
    }


@endpoint("/cgi-bin/tags/update", methods=("POST",))
def tags_update(ctx: Context) -> Answer:
    """Rename a tag."""
    tag = _tag_body(ctx)
    tag_id = _editable_tag(ctx, tag.get("id"))
    ctx.state.tags[tag_id] = _check_tag_name(ctx, tag.get("name"), tag_id)
    return ok()


@endpoint("/cgi-bin/tags/delete", methods=("POST",))
def tags_delete(ctx: Context) -> Answer:
    """Delete a tag and take it off every follower."""
    tag_id = _editable_tag(ctx, _tag_body(ctx).get("id"))
    del ctx.state.tags[tag_id]
    for user in ctx.state.users.values():
        if tag_id in user.get("tagid_list", []):
            user["tagid_list"] = [i for i in user["tagid_list"] if i != tag_id]
    return ok()


def _page(ctx: Context, openids: list[str], next_openid: str) -> JSONDict:
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


@endpoint("/cgi-bin/user/tag/get", methods=("POST",))
def tag_members(ctx: Context) -> Answer:
    """Followers with a tag, paged by ``next_openid``."""
    body = ctx.json()
    tag_id = _user_tag(ctx, body.get("tagid"))
    openids = [
        openid
        for openid in ctx.state.followers()
        if tag_id in ctx.state.users[openid].get("tagid_list", [])
    ]
    return _page(ctx, openids, _text(body.get("next_openid")))


def _batch(ctx: Context) -> tuple[list[JSONDict], int]:
    body = ctx.json()
    openids = body.get("openid_list")
    if not isinstance(openids, list) or not 1 <= len(openids) <= 50:
        raise APIFault(40032)
    tag_id = _user_tag(ctx, body.get("tagid"))
    users = []
    for openid in openids:
        user = ctx.state.users.get(openid) if isinstance(openid, str) else None
        if user is None:
            raise APIFault(40003)
        users.append(user)
    return users, tag_id


@endpoint("/cgi-bin/tags/members/batchtagging", methods=("POST",))
def tags_batch_tag(ctx: Context) -> Answer:
    """Tag up to 50 followers (each may carry at most 20 tags)."""
    users, tag_id = _batch(ctx)
    for user in users:
        tags = user.setdefault("tagid_list", [])
        if tag_id not in tags and len(tags) >= 20:
            raise APIFault(45059)
    for user in users:
        if tag_id not in user["tagid_list"]:
            user["tagid_list"].append(tag_id)
    return ok()


@endpoint("/cgi-bin/tags/members/batchuntagging", methods=("POST",))
def tags_batch_untag(ctx: Context) -> Answer:
    """Untag up to 50 followers."""
    users, tag_id = _batch(ctx)
    for user in users:
        user["tagid_list"] = [i for i in user.get("tagid_list", []) if i != tag_id]
    return ok()


@endpoint("/cgi-bin/tags/getidlist", methods=("POST",))
def tags_of_user(ctx: Context) -> Answer:
    """The tags of one follower."""
    user = ctx.state.users.get(_text(ctx.json().get("openid")))
    if user is None:
        raise APIFault(40003)
    return {"tagid_list": list(user.get("tagid_list", []))}


# -- users ----------------------------------------------------------------------------------


def _user_info(ctx: Context, openid: str) -> JSONDict:
    if not openid:
        raise APIFault(41009)
    user = ctx.state.users.get(openid)
    if user is None:
        raise APIFault(40003)
    if not user.get("subscribe"):
        # WeChat tells nothing but the openid (and unionid) about non-followers.
        gone: JSONDict = {"subscribe": 0, "openid": openid, "tagid_list": []}
        if user.get("unionid"):
            gone["unionid"] = user["unionid"]
        return gone
    return json.loads(json.dumps(user))  # type: ignore[no-any-return]


@endpoint("/cgi-bin/user/info")
def user_info(ctx: Context) -> Answer:
    """One follower's info."""
    return _user_info(ctx, ctx.args.get("openid", ""))


@endpoint("/cgi-bin/user/info/batchget", methods=("POST",))
def user_info_batch(ctx: Context) -> Answer:
    """Up to 100 followers' info."""
    wanted = ctx.json().get("user_list")
    if not isinstance(wanted, list) or not 1 <= len(wanted) <= 100:
        raise APIFault(40032)
    infos = []
    for item in wanted:
        if not isinstance(item, dict):
            raise APIFault(47001)
        infos.append(_user_info(ctx, _text(item.get("openid"))))
    return {"user_info_list": infos}


@endpoint("/cgi-bin/user/get")
def user_list(ctx: Context) -> Answer:
    """The followers' openids, ``page_size`` at a time."""
    openids = ctx.state.followers()
    return {"total": len(openids), **_page(ctx, openids, ctx.args.get("next_openid", ""))}


@endpoint("/cgi-bin/user/info/updateremark", methods=("POST",))
def user_remark(ctx: Context) -> Answer:
    """Set a follower's remark (≤ 30 characters)."""
    body = ctx.json()
    user = ctx.state.users.get(_text(body.get("openid")))
    if user is None:
        raise APIFault(40003)
    remark = body.get("remark")
    if not isinstance(remark, str) or len(remark) > 30:
        raise APIFault(40097)
    user["remark"] = remark
    return ok()


# -- media ----------------------------------------------------------------------------------

#: What each media type accepts: extension -> content type, and the size limit.
MEDIA_RULES: dict[str, tuple[dict[str, str], int]] = {
    "image": (
        {
            "jpg": "image/jpeg",
            "jpeg": "image/jpeg",
            "png": "image/png",
            "gif": "image/gif",
            "bmp": "image/bmp",
        },
        10 * 1024 * 1024,
    ),
    "voice": ({"amr": "audio/amr", "mp3": "audio/mpeg"}, 2 * 1024 * 1024),
    "video": ({"mp4": "video/mp4"}, 10 * 1024 * 1024),
    "thumb": ({"jpg": "image/jpeg", "jpeg": "image/jpeg"}, 64 * 1024),
}


def _clean_filename(name: str) -> str:
    """The file name without directories, quotes or control characters."""
    base = re.split(r"[/\\]", name)[-1]
    return "".join(ch for ch in base if ch.isprintable() and ch not in '"').strip()


def _uploaded_media(ctx: Context, type_: str) -> Media:
    """The multipart field ``media`` checked against WeChat's rules for ``type_``."""
    upload = request.files.get("media")
    if upload is None:
        raise APIFault(41005)
    data = upload.read()
    if not data:
        raise APIFault(40113)
    filename = _clean_filename(upload.filename or "")
    extensions, limit = MEDIA_RULES[type_]
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    content_type = extensions.get(ext)
    if content_type is None:
        # no usable extension: trust the part's content type if it is allowed
        declared = (upload.mimetype or "").lower()
        if declared not in extensions.values():
            raise APIFault(40113)
        content_type = declared
        ext = next(e for e, ct in extensions.items() if ct == declared)
        filename = f"{filename or 'media'}.{ext}"
    if len(data) > limit:
        raise APIFault(40006)
    return Media(
        secrets.token_urlsafe(48),
        type_,
        data,
        filename,
        content_type,
        int(ctx.state.clock()),
    )


@endpoint("/cgi-bin/media/upload", methods=("POST",), auth="any")
def media_upload(ctx: Context) -> Answer:
    """Upload temporary media (multipart field ``media``)."""
    type_ = ctx.args.get("type", "")
    if type_ not in MEDIA_RULES:
        raise APIFault(40004)
    media = _uploaded_media(ctx, type_)
    ctx.state.media[media.media_id] = media
    answer: JSONDict = {"type": type_, "media_id": media.media_id}
    if type_ == "thumb":
        answer["thumb_media_id"] = media.media_id
    answer["created_at"] = media.created_at
    return answer


def _download(media: Media) -> Response:
    # RFC 6266: a plain ASCII name for old clients, the UTF-8 name in filename*.
    disposition = f'attachment; filename="{media.filename}"'
    if not media.filename.isascii():
        ext = media.filename.rsplit(".", 1)[-1] if "." in media.filename else "bin"
        disposition = (
            f"attachment; filename=\"media.{ext}\"; filename*=UTF-8''{quote(media.filename)}"
        )
    response = Response(media.data, status=200, content_type=media.content_type)
    response.headers["Content-Disposition"] = disposition
    return response


@endpoint("/cgi-bin/media/get", auth="any")
def media_get(ctx: Context) -> Answer:
    """Download temporary media; an Official Account's video comes as a
    ``video_url`` (as on WeChat), anything else as the bytes."""
    media = ctx.state.media.get(ctx.args.get("media_id", ""))
    if media is None:
        raise APIFault(40007)
    if media.type == "video" and ctx.app.kind != "work":
        return {"video_url": f"{request.host_url}sandbox/video/{media.media_id}"}
    return _download(media)


@endpoint("/sandbox/video/<media_id>", auth="none")
def video_download(ctx: Context) -> Answer:
    """Where ``video_url`` points."""
    media = ctx.state.media.get(ctx.args.get("media_id", ""))
    if media is None:
        raise APIFault(40007)
    return _download(media)


# -- web OAuth and mini program login --------------------------------------------------------


@endpoint("/connect/oauth2/authorize", auth="none")
def oauth_authorize(ctx: Context) -> Answer:
    """The authorize page, as if the user had agreed: a 302 back to
    ``redirect_uri`` with a fresh ``code`` and the ``state``."""
    app_id = ctx.args.get("appid", "")
    registration = ctx.state.registrations.get(app_id)
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


def _oauth_answer(ctx: Context, issued: Token, refresh_token: str) -> JSONDict:
    answer: JSONDict = {
        "access_token": issued.value,
        "expires_in": ctx.state.remaining(issued.expires_at),
        "refresh_token": refresh_token,
        "openid": issued.openid,
        "scope": issued.scope,
    }
    unionid = ctx.state.users.get(issued.openid, {}).get("unionid")
    if unionid:
        answer["unionid"] = unionid
    return answer


@endpoint("/sns/oauth2/access_token", auth="none")
def oauth_access_token(ctx: Context) -> Answer:
    """Trade a web OAuth code (once) for the user's access_token and openid."""
    if ctx.args.get("grant_type") != "authorization_code":
        raise APIFault(40002)
    app = ctx.state.check_app(ctx.args.get("appid", ""), ctx.args.get("secret", ""), work=False)
    code = ctx.state.use_code(ctx.args.get("code", ""), app.app_id)
    issued = ctx.state.issue_oauth_token(app.app_id, code.openid, code.scope)
    refresh = ctx.state.issue_refresh_token(app.app_id, code.openid, code.scope)
    return _oauth_answer(ctx, issued, refresh.value)


@endpoint("/sns/oauth2/refresh_token", auth="none")
def oauth_refresh(ctx: Context) -> Answer:
    """A new web OAuth access_token from the (30-day) refresh_token."""
    app_id = ctx.args.get("appid", "")
    registration = ctx.state.registrations.get(app_id)
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


@endpoint("/sns/userinfo", auth="none")
def oauth_userinfo(ctx: Context) -> Answer:
    """The user's profile; needs the ``snsapi_userinfo`` scope (else 48001)."""
    issued = _oauth_user(ctx)
    if issued.scope != "snsapi_userinfo":
        raise APIFault(48001)
    user = ctx.state.users.get(issued.openid, {})
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


@endpoint("/sns/auth", auth="none")
def oauth_check(ctx: Context) -> Answer:
    """Whether a web OAuth access_token is (still) valid for ``openid``."""
    _oauth_user(ctx)
    return ok()


@endpoint("/sns/jscode2session", auth="none")
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
    unionid = ctx.state.users.get(code.openid, {}).get("unionid")
    if unionid:
        answer["unionid"] = unionid
    return answer


# -- WeCom ----------------------------------------------------------------------------------


@endpoint("/cgi-bin/user/getuserinfo", auth="work")
def work_userinfo(ctx: Context) -> Answer:
    """WeCom OAuth: the member's ``UserId`` for a one-time code."""
    code = ctx.state.use_code(ctx.args.get("code", ""), ctx.app.app_id)
    return ok(UserId=code.openid, DeviceId="")


@endpoint("/cgi-bin/auth/getuserinfo", auth="work")
def work_auth_userinfo(ctx: Context) -> Answer:
    """WeCom OAuth (newer path): ``userid`` for a one-time code."""
    code = ctx.state.use_code(ctx.args.get("code", ""), ctx.app.app_id)
    answer = ok(userid=code.openid)
    if code.scope == "snsapi_privateinfo":
        answer.update(user_ticket=secrets.token_urlsafe(32), expires_in=1800)
    return answer


WORK_MSGTYPES = frozenset(
    {
        "text",
        "image",
        "voice",
        "video",
        "file",
        "textcard",
        "news",
        "mpnews",
        "markdown",
        "miniprogram_notice",
        "template_card",
    }
)


@endpoint("/cgi-bin/message/send", methods=("POST",), auth="work")
def work_send(ctx: Context) -> Answer:
    """A WeCom app message; accepted ones are recorded in ``sent``."""
    body = ctx.json()
    if body.get("agentid") in (None, ""):
        raise APIFault(41011)
    if _int(body.get("agentid")) is None:
        raise APIFault(40056)
    msgtype = body.get("msgtype")
    if msgtype not in WORK_MSGTYPES or not isinstance(body.get(msgtype), dict):
        raise APIFault(40008)
    if not any(_text(body.get(key)) for key in ("touser", "toparty", "totag")):
        raise APIFault(81013)
    if msgtype in ("text", "markdown") and not _text(body[msgtype].get("content")):
        raise APIFault(44004)
    ctx.state.record_sent("work", body)
    return ok(invaliduser="", invalidparty="", invalidtag="", msgid=str(ctx.state.next_id()))
