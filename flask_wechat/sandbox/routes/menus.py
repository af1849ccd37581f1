"""Custom menus (自定义菜单) and conditional menus (个性化菜单)."""

from __future__ import annotations

import json
import typing as t

from ..state import APIFault, AppData
from .base import Answer, Context, JSONDict, RouteTable, ok, to_int, to_text

routes = RouteTable()


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
    name = to_text(button.get("name"))
    if not name or len(name.encode("utf-8")) > max_name:
        raise APIFault(name_code)
    if button.get("sub_button"):
        return
    type_ = button.get("type")
    if type_ not in _BUTTON_TYPES:
        raise APIFault(type_code)
    if type_ in _KEY_TYPES:
        key = to_text(button.get("key"))
        if not key or len(key.encode("utf-8")) > 128:
            raise APIFault(key_code)
    if type_ in ("view", "miniprogram"):
        url = to_text(button.get("url"))
        if not url or len(url.encode("utf-8")) > 1024:
            raise APIFault(url_code)
    if type_ == "miniprogram" and not (
        to_text(button.get("appid")) and to_text(button.get("pagepath"))
    ):
        raise APIFault(40097)
    if type_ in ("media_id", "view_limited") and not to_text(button.get("media_id")):
        raise APIFault(40007)
    if type_ in ("article_id", "article_view_limited") and not to_text(button.get("article_id")):
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


def _menus_of(ctx: Context) -> AppData:
    """The calling app's menus. A WeCom app's menu belongs to one app of the corp,
    named by the ``agentid`` query parameter (41011 without it, 40056 for one
    that is not the calling app's: an app's Secret manages its own menu only)."""
    if ctx.app.agent_id is None:
        return ctx.data
    agentid = ctx.args.get("agentid", "")
    if not agentid:
        raise APIFault(41011)
    if to_int(agentid) != ctx.app.agent_id:
        raise APIFault(40056)
    return ctx.data


@routes.endpoint("/cgi-bin/menu/create", methods=("POST",), auth="any")
def menu_create(ctx: Context) -> Answer:
    """Create (replace) the default menu."""
    data = _menus_of(ctx)
    body = ctx.json()
    buttons = _check_buttons(body.get("button"))
    data.menu = json.loads(json.dumps({"button": buttons}))
    data.menu_id = ctx.state.next_id()
    return ok()


@routes.endpoint("/cgi-bin/menu/get", auth="any")
def menu_get(ctx: Context) -> Answer:
    """The default menu and the conditional menus, or 46003."""
    data = _menus_of(ctx)
    menu = data.menu
    if menu is None:
        raise APIFault(46003)
    return {
        "menu": {"button": _as_served(menu["button"]), "menuid": data.menu_id},
        "conditionalmenu": [
            {
                "button": _as_served(cond["button"]),
                "matchrule": cond["matchrule"],
                "menuid": cond["menuid"],
            }
            for cond in data.conditional_menus
        ],
    }


@routes.endpoint("/cgi-bin/menu/delete", auth="any")
def menu_delete(ctx: Context) -> Answer:
    """Delete the default menu and every conditional menu."""
    data = _menus_of(ctx)
    data.menu = None
    data.conditional_menus.clear()
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


@routes.endpoint("/cgi-bin/menu/addconditional", methods=("POST",))
def menu_add_conditional(ctx: Context) -> Answer:
    """Add a conditional menu; needs a default menu first."""
    data = ctx.data
    body = ctx.json()
    if data.menu is None:
        raise APIFault(65303)
    buttons = _check_buttons(body.get("button"))
    rule = body.get("matchrule")
    if not isinstance(rule, dict) or not any(rule.get(key) for key in _MATCH_KEYS):
        raise APIFault(65304)
    menuid = ctx.state.next_id()
    data.conditional_menus.append(
        json.loads(json.dumps({"button": buttons, "matchrule": rule, "menuid": menuid}))
    )
    return {"menuid": str(menuid)}


@routes.endpoint("/cgi-bin/menu/delconditional", methods=("POST",))
def menu_del_conditional(ctx: Context) -> Answer:
    """Delete one conditional menu by ``menuid``."""
    data = ctx.data
    menuid = to_int(ctx.json().get("menuid"))
    for cond in data.conditional_menus:
        if cond["menuid"] == menuid:
            data.conditional_menus.remove(cond)
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


@routes.endpoint("/cgi-bin/menu/trymatch", methods=("POST",))
def menu_trymatch(ctx: Context) -> Answer:
    """The menu ``user_id`` would see: the newest matching conditional menu, else
    the default one."""
    data = ctx.data
    user = data.users.get(to_text(ctx.json().get("user_id")))
    if user is None:
        raise APIFault(65302)
    if data.menu is None:
        raise APIFault(46003)
    for cond in reversed(data.conditional_menus):
        if _rule_matches(cond["matchrule"], user):
            return {"button": _as_served(cond["button"])}
    return {"button": _as_served(data.menu["button"])}
