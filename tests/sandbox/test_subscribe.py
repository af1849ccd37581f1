"""The sandbox's subscribe message endpoints, over raw HTTP."""

from __future__ import annotations

import typing as t

import pytest

from flask_wechat.sandbox import SANDBOX_APP_ID, SANDBOX_OPENID

from .conftest import errcode

if t.TYPE_CHECKING:
    from flask_wechat.sandbox import Sandbox

    from .conftest import Api

SEND = "/cgi-bin/message/subscribe/send"


def _body(template_id: str, **data: str) -> dict[str, t.Any]:
    values = {key: {"value": value} for key, value in data.items()}
    return {"touser": SANDBOX_OPENID, "template_id": template_id, "data": values}


def test_wrong_method(api: Api) -> None:
    assert errcode(api.get(SEND)) == 43002
    assert errcode(api.post("/wxaapi/newtmpl/gettemplate", {})) == 43001


def test_acceptances_count(api: Api, sandbox: Sandbox) -> None:
    template_id = sandbox.add_subscribe_template(["thing1"])
    sandbox.accept_subscription(SANDBOX_OPENID, template_id, times=2)
    assert errcode(api.post(SEND, _body(template_id, thing1="a"))) == 0
    assert errcode(api.post(SEND, _body(template_id, thing1="b"))) == 0
    assert errcode(api.post(SEND, _body(template_id, thing1="c"))) == 43101
    assert [entry["data"]["thing1"]["value"] for entry in sandbox.sent] == ["a", "b"]
    assert {entry["app_id"] for entry in sandbox.sent} == {SANDBOX_APP_ID}


def test_templates_are_per_app(api: Api, sandbox: Sandbox) -> None:
    other = sandbox.register("wxother0000000001", "other-secret", kind="miniprogram")
    template_id = sandbox.add_subscribe_template(["thing1"], app_id=other.app_id)
    with pytest.raises(KeyError):
        sandbox.accept_subscription(SANDBOX_OPENID, template_id)
    assert errcode(api.post(SEND, _body(template_id, thing1="a"))) == 40037


@pytest.mark.parametrize(
    ("rule", "good", "bad"),
    [
        ("thing", "二十个字以内", "x" * 21),
        ("number", "12.5", "12a"),
        ("letter", "abc", "ab1"),
        ("amount", "39.80元", "三十元"),
        ("phone_number", "+86 138-0013-8000", "call me"),
        ("phrase", "已发货", "一二三四五六"),
        ("time", "2026-12-01 10:00", "tomorrow"),
    ],
)
def test_keyword_rules(api: Api, sandbox: Sandbox, rule: str, good: str, bad: str) -> None:
    template_id = sandbox.add_subscribe_template({"k1": rule})
    sandbox.accept_subscription(SANDBOX_OPENID, template_id)
    assert errcode(api.post(SEND, _body(template_id, k1=bad))) == 47003
    assert errcode(api.post(SEND, _body(template_id, k1=good))) == 0


def test_send_checks(api: Api, sandbox: Sandbox) -> None:
    template_id = sandbox.add_subscribe_template(["thing1"])
    sandbox.accept_subscription(SANDBOX_OPENID, template_id)
    body = _body(template_id, thing1="a")
    assert errcode(api.post(SEND, {**body, "touser": ""})) == 40003
    assert errcode(api.post(SEND, {**body, "miniprogram_state": "beta"})) == 47003
    assert errcode(api.post(SEND, {**body, "lang": "fr_FR"})) == 47003
    assert errcode(api.post(SEND, {**body, "data": []})) == 47003
    assert errcode(api.post(SEND, body, work=True)) == 48001
    assert sandbox.sent == []


def test_library_paging(api: Api) -> None:
    answer = api.get("/wxaapi/newtmpl/getpubtemplatetitles", ids="307,411", start=1, limit=1)
    assert answer["count"] == 2
    assert len(answer["data"]) == 1
    assert errcode(api.get("/wxaapi/newtmpl/getpubtemplatetitles", ids="307", start=0)) == 47003
    assert errcode(api.get("/wxaapi/newtmpl/getpubtemplatekeywords", tid="1")) == 200011
