"""Subscribe messages (Mini Program send, Official Account bizsend, templates)
against the sandbox."""

from __future__ import annotations

import typing as t

import pytest

from flask_wechat.errors import APIError, InvalidArgument, SubscriptionRefused
from flask_wechat.sandbox import SANDBOX_APP_ID, SANDBOX_APP_SECRET, SANDBOX_OPENID

from .conftest import posted

if t.TYPE_CHECKING:
    from flask_wechat.api import Client
    from flask_wechat.sandbox import Sandbox

    from .conftest import ClientFactory


@pytest.fixture
def mini_client(make_client: ClientFactory) -> Client:
    return make_client(
        WECHAT_KIND="miniprogram",
        WECHAT_APP_ID=SANDBOX_APP_ID,
        WECHAT_APP_SECRET=SANDBOX_APP_SECRET,
    )


def test_send_wraps_values_and_uses_one_acceptance(mini_client: Client, sandbox: Sandbox) -> None:
    template_id = sandbox.add_subscribe_template(["thing1", "time2", "number3"])
    sandbox.accept_subscription(SANDBOX_OPENID, template_id)
    data: dict[str, str | int] = {"thing1": "订单已发货", "time2": "2026-12-01 10:00", "number3": 3}
    result = mini_client.miniprogram.send_subscribe_message(
        SANDBOX_OPENID, template_id, data, page="pages/order?id=1", miniprogram_state="trial"
    )
    assert result["errcode"] == 0
    (body,) = posted(sandbox, "/cgi-bin/message/subscribe/send")
    assert body == {
        "touser": SANDBOX_OPENID,
        "template_id": template_id,
        "data": {
            "thing1": {"value": "订单已发货"},
            "time2": {"value": "2026-12-01 10:00"},
            "number3": {"value": "3"},
        },
        "page": "pages/order?id=1",
        "miniprogram_state": "trial",
    }
    (sent,) = sandbox.sent
    assert sent["kind"] == "subscribe"
    assert sent["app_id"] == SANDBOX_APP_ID
    with pytest.raises(SubscriptionRefused) as info:
        mini_client.miniprogram.send_subscribe_message(SANDBOX_OPENID, template_id, data)
    assert info.value.errcode == 43101
    assert len(sandbox.sent) == 1


def test_send_without_acceptance_is_refused(mini_client: Client, sandbox: Sandbox) -> None:
    template_id = sandbox.add_subscribe_template(["thing1"])
    with pytest.raises(SubscriptionRefused):
        mini_client.miniprogram.send_subscribe_message(SANDBOX_OPENID, template_id, {"thing1": "x"})
    assert sandbox.sent == []


@pytest.mark.parametrize(
    "data",
    [
        {"thing1": "这段文字超过了二十个字符的长度限制所以会被微信拒绝"},
        {"thing1": "ok", "number2": "12a"},
        {"thing1": ""},
        {},
    ],
)
def test_values_must_fit_their_keyword(
    mini_client: Client, sandbox: Sandbox, data: dict[str, str]
) -> None:
    template_id = sandbox.add_subscribe_template({"thing1": "thing", "number2": "number"})
    sandbox.accept_subscription(SANDBOX_OPENID, template_id)
    full = {"thing1": "ok", "number2": "12", **data} if data else {}
    with pytest.raises(InvalidArgument) as info:
        mini_client.miniprogram.send_subscribe_message(SANDBOX_OPENID, template_id, full)
    assert info.value.errcode == 47003
    assert sandbox.sent == []


def test_unknown_template(mini_client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(APIError) as info:
        mini_client.miniprogram.send_subscribe_message(SANDBOX_OPENID, "nope", {"thing1": "x"})
    assert info.value.errcode == 40037


def test_template_management_and_bizsend(client: Client, sandbox: Sandbox) -> None:
    categories = client.subscribe.get_category()
    assert categories
    titles = client.subscribe.get_pub_template_titles([c["id"] for c in categories], limit=10)
    assert titles["count"] >= 1
    tid = titles["data"][0]["tid"]
    keywords = client.subscribe.get_pub_template_keywords(tid)
    kids = [item["kid"] for item in keywords[:2]]
    template_id = client.subscribe.add_template(tid, kids, scene_desc="发货提醒")
    assert posted(sandbox, "/wxaapi/newtmpl/addtemplate")[0] == {
        "tid": str(tid),
        "kidList": kids,
        "sceneDesc": "发货提醒",
    }
    (listed,) = client.subscribe.list_templates()
    assert listed["priTmplId"] == template_id
    names = [f"{item['rule']}{item['kid']}" for item in keywords[:2]]
    assert all("{{" + name + ".DATA}}" in listed["content"] for name in names)

    sandbox.accept_subscription(SANDBOX_OPENID, template_id)
    examples = {name: item["example"] for name, item in zip(names, keywords, strict=False)}
    client.subscribe.send(
        SANDBOX_OPENID,
        template_id,
        examples,
        miniprogram={"appid": "wxmini", "pagepath": "pages/index"},
    )
    (sent,) = sandbox.sent
    assert sent["kind"] == "bizsend"
    assert sent["data"] == {name: {"value": value} for name, value in examples.items()}
    with pytest.raises(SubscriptionRefused):
        client.subscribe.send(SANDBOX_OPENID, template_id, examples)

    client.subscribe.delete_template(template_id)
    assert client.subscribe.list_templates() == []
    with pytest.raises(APIError) as info:
        client.subscribe.delete_template(template_id)
    assert info.value.errcode == 40037


def test_add_template_refuses_bad_keywords(client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(APIError) as info:
        client.subscribe.add_template(1001, [1])
    assert info.value.errcode == 200014
    with pytest.raises(APIError) as info:
        client.subscribe.add_template(424242, [1, 2])
    assert info.value.errcode == 200011
