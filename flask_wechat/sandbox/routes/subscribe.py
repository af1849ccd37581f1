"""Subscribe messages (订阅消息): the public template library, each app's
templates, and the sends of Mini Programs (``subscribe/send``) and Official
Accounts (``subscribe/bizsend``).

A send needs a template of the app, a value for every keyword that fits the
keyword's rule (checked where cheap: ``thing`` at most 20 characters,
``number`` digits, ...: else 47003), and an unused acceptance of the template
by the user (:meth:`~..state.SandboxState.accept_subscription`; else 43101).
"""

from __future__ import annotations

import re
import secrets
import typing as t

from ..state import APIFault, subscribe_template
from .base import Answer, Context, JSONDict, RouteTable, ok, to_int, to_text

routes = RouteTable()

#: The categories of the public library the sandbox offers.
CATEGORIES = ({"id": 307, "name": "电商平台"}, {"id": 411, "name": "生活服务"})

#: The public library: tid -> (title, categoryId, [(kid, name, rule, example)]).
LIBRARY: dict[int, tuple[str, int, list[tuple[int, str, str, str]]]] = {
    1001: (
        "订单发货通知",
        307,
        [
            (1, "商品名称", "thing", "沙盒商品"),
            (2, "订单号", "character_string", "SB20261201"),
            (3, "发货时间", "time", "2026-12-01 10:00"),
            (4, "物流状态", "phrase", "已发货"),
            (5, "订单金额", "amount", "39.80元"),
        ],
    ),
    1002: (
        "预约成功提醒",
        411,
        [
            (1, "预约项目", "thing", "体检"),
            (2, "预约时间", "time", "2026-12-01 10:00"),
            (3, "联系电话", "phone_number", "13800138000"),
            (4, "预约人", "name", "张三"),
            (5, "排队号", "number", "12"),
        ],
    ),
}

#: How many templates an app may have.
MAX_TEMPLATES = 50

_RULES: dict[str, t.Callable[[str], bool]] = {
    "thing": lambda v: len(v) <= 20,
    "number": lambda v: len(v) <= 32 and re.fullmatch(r"\d+(\.\d+)?", v) is not None,
    "letter": lambda v: len(v) <= 32 and v.isascii() and v.isalpha(),
    "symbol": lambda v: len(v) <= 5 and not any(c.isalnum() for c in v),
    "character_string": lambda v: len(v) <= 32 and v.isascii(),
    "time": lambda v: len(v) <= 32 and re.search(r"\d{1,2}:\d{2}", v) is not None,
    "date": lambda v: len(v) <= 32 and re.search(r"\d", v) is not None,
    "amount": lambda v: re.fullmatch(r"[¥￥$]?\d{1,10}(\.\d{1,2})?元?", v) is not None,
    "phone_number": lambda v: len(v) <= 17 and re.fullmatch(r"[\d+\- ]+", v) is not None,
    "car_number": lambda v: len(v) <= 8,
    "name": lambda v: len(v) <= 20,
    "phrase": lambda v: len(v) <= 5 and not any(c.isdigit() for c in v),
}

MINIPROGRAM_STATES = frozenset({"developer", "trial", "formal"})
LANGS = frozenset({"zh_CN", "en_US", "zh_HK", "zh_TW"})


def value_fits(rule: str, value: str) -> bool:
    """Whether ``value`` is acceptable for a keyword of ``rule``."""
    check = _RULES.get(rule)
    return bool(value) and (check is None or check(value))


# -- the library and the app's templates -----------------------------------------------


@routes.endpoint("/wxaapi/newtmpl/getcategory")
def get_category(ctx: Context) -> Answer:
    """The app's categories."""
    return ok(data=[dict(item) for item in CATEGORIES])


@routes.endpoint("/wxaapi/newtmpl/getpubtemplatetitles")
def get_titles(ctx: Context) -> Answer:
    """Library titles of the categories ``ids`` (comma-separated), paged."""
    ids = {to_int(part) for part in ctx.args.get("ids", "").split(",") if part}
    start, limit = to_int(ctx.args.get("start", "")), to_int(ctx.args.get("limit", ""))
    if not ids or start is None or limit is None or not 1 <= limit <= 30:
        raise APIFault(47003)
    titles = [
        {"tid": tid, "title": title, "type": 2, "categoryId": str(category)}
        for tid, (title, category, _) in LIBRARY.items()
        if category in ids
    ]
    return ok(count=len(titles), data=titles[start : start + limit])


@routes.endpoint("/wxaapi/newtmpl/getpubtemplatekeywords")
def get_keywords(ctx: Context) -> Answer:
    """The keywords of library template ``tid``."""
    entry = LIBRARY.get(to_int(ctx.args.get("tid", "")) or 0)
    if entry is None:
        raise APIFault(200011)
    keywords = [
        {"kid": kid, "name": name, "example": example, "rule": rule}
        for kid, name, rule, example in entry[2]
    ]
    return ok(count=len(keywords), data=keywords)


@routes.endpoint("/wxaapi/newtmpl/addtemplate", methods=("POST",))
def add_template(ctx: Context) -> Answer:
    """Add a library template with 2-5 of its keywords; answers the priTmplId."""
    body = ctx.json()
    entry = LIBRARY.get(to_int(body.get("tid")) or 0)
    if entry is None:
        raise APIFault(200011)
    title, _, keywords = entry
    by_kid = {kid: (rule, kid) for kid, _, rule, _ in keywords}
    kids = body.get("kidList")
    if (
        not isinstance(kids, list)
        or not 2 <= len(kids) <= 5
        or len(set(map(str, kids))) != len(kids)
        or any(to_int(kid) not in by_kid for kid in kids)
    ):
        raise APIFault(200014)
    if len(ctx.data.subscribe_templates) >= MAX_TEMPLATES:
        raise APIFault(200012)
    rules = {f"{by_kid[k][0]}{k}": by_kid[k][0] for k in (t.cast(int, to_int(x)) for x in kids)}
    template_id = secrets.token_urlsafe(32)[:43]
    ctx.data.subscribe_templates[template_id] = subscribe_template(template_id, title, rules, 2)
    return ok(priTmplId=template_id)


@routes.endpoint("/wxaapi/newtmpl/deltemplate", methods=("POST",))
def delete_template(ctx: Context) -> Answer:
    """Remove one of the app's templates."""
    template_id = to_text(ctx.json().get("priTmplId"))
    if ctx.data.subscribe_templates.pop(template_id, None) is None:
        raise APIFault(40037)
    return ok()


@routes.endpoint("/wxaapi/newtmpl/gettemplate")
def list_templates(ctx: Context) -> Answer:
    """The app's templates."""
    listed = []
    for template in ctx.data.subscribe_templates.values():
        listed.append({key: value for key, value in template.items() if key != "keywords"})
    return ok(data=listed)


# -- sends ------------------------------------------------------------------------


@routes.endpoint("/cgi-bin/message/subscribe/send", methods=("POST",))
def send(ctx: Context) -> Answer:
    """A Mini Program subscribe message; accepted ones are recorded in ``sent``
    (kind ``"subscribe"``)."""
    body = ctx.json()
    state = body.get("miniprogram_state")
    if state is not None and state not in MINIPROGRAM_STATES:
        raise APIFault(47003)
    if body.get("lang") is not None and body.get("lang") not in LANGS:
        raise APIFault(47003)
    page = body.get("page")
    if page is not None and not isinstance(page, str):
        raise APIFault(41030)
    _send(ctx, body, "subscribe")
    return ok(msgid=ctx.state.next_id())


@routes.endpoint("/cgi-bin/message/subscribe/bizsend", methods=("POST",))
def bizsend(ctx: Context) -> Answer:
    """An Official Account subscribe notice; recorded in ``sent`` (kind
    ``"bizsend"``)."""
    body = ctx.json()
    miniprogram = body.get("miniprogram")
    if miniprogram is not None and not (
        isinstance(miniprogram, dict) and to_text(miniprogram.get("appid"))
    ):
        raise APIFault(47003)
    _send(ctx, body, "bizsend")
    return ok()


def _send(ctx: Context, body: JSONDict, kind: str) -> None:
    touser = to_text(body.get("touser"))
    if not touser:
        raise APIFault(40003)
    template = ctx.data.subscribe_templates.get(to_text(body.get("template_id")))
    if template is None:
        raise APIFault(40037)
    data = body.get("data")
    if not isinstance(data, dict):
        raise APIFault(47003)
    for name, rule in template["keywords"].items():
        item = data.get(name)
        value = item.get("value") if isinstance(item, dict) else None
        if not isinstance(value, str) or not value_fits(rule, value):
            raise APIFault(47003, f"argument invalid! data.{name}.value invalid")
    key = (touser, template["priTmplId"])
    if ctx.data.subscriptions[key] <= 0:
        raise APIFault(43101)
    ctx.data.subscriptions[key] -= 1
    ctx.record_sent(kind, body)
