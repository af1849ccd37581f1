"""Template messages against the sandbox."""

from __future__ import annotations

import typing as t

import pytest

from flask_wechat.errors import APIError, TransportError
from flask_wechat.sandbox import SANDBOX_OPENID

from .conftest import posted

if t.TYPE_CHECKING:
    from flask_wechat.api import Client
    from flask_wechat.sandbox import Sandbox


def test_industry(client: Client, sandbox: Sandbox) -> None:
    client.templates.set_industry(1, 4)
    industry = client.templates.get_industry()
    assert industry["primary_industry"]["first_class"] == "IT科技"
    assert industry["secondary_industry"]["second_class"] == "电子技术"
    assert posted(sandbox, "/cgi-bin/template/api_set_industry") == [
        {"industry_id1": "1", "industry_id2": "4"}
    ]


def test_send_retry_safe_only_with_client_msg_id(client: Client, sandbox: Sandbox) -> None:
    template_id = client.templates.add("TM00015")
    sandbox.fail("/cgi-bin/message/template/send", 0, status=502)
    with pytest.raises(TransportError):
        client.templates.send(SANDBOX_OPENID, template_id, {"first": "x"})
    assert sandbox.sent == []
    sandbox.fail("/cgi-bin/message/template/send", 0, status=502)
    client.templates.send(SANDBOX_OPENID, template_id, {"first": "x"}, client_msg_id="once")
    assert len(sandbox.sent) == 1
    assert sandbox.count("/cgi-bin/message/template/send") == 3


def test_add_list_delete(client: Client, sandbox: Sandbox) -> None:
    template_id = client.templates.add("TM00015")
    other = client.templates.add("AT0002", keyword_names=["购买地点", "购买时间"])
    assert template_id
    assert other != template_id
    listed = [item["template_id"] for item in client.templates.list()]
    assert template_id in listed
    assert other in listed
    client.templates.delete(template_id)
    assert template_id not in [item["template_id"] for item in client.templates.list()]


def test_send_normalizes_data(client: Client, sandbox: Sandbox) -> None:
    template_id = client.templates.add("TM00015")
    msgid = client.templates.send(
        SANDBOX_OPENID,
        template_id,
        {"first": "您好", "amount": {"value": "39.8元", "color": "#173177"}, "count": 3},
        url="https://example.com/order/1",
        miniprogram={"appid": "wxmini", "pagepath": "pages/order?id=1"},
        client_msg_id="order-1",
    )
    assert isinstance(msgid, int)
    assert len(sandbox.sent) == 1
    message = sandbox.sent[0]
    assert message["kind"] == "template"
    assert message["touser"] == SANDBOX_OPENID
    assert message["template_id"] == template_id
    assert message["data"] == {
        "first": {"value": "您好"},
        "amount": {"value": "39.8元", "color": "#173177"},
        "count": {"value": "3"},
    }
    assert message["url"] == "https://example.com/order/1"
    assert message["miniprogram"] == {"appid": "wxmini", "pagepath": "pages/order?id=1"}
    assert message["client_msg_id"] == "order-1"


def test_send_leaves_out_optional_fields(client: Client, sandbox: Sandbox) -> None:
    template_id = client.templates.add("TM00015")
    client.templates.send(SANDBOX_OPENID, template_id, {"first": "x"})
    message = sandbox.sent[0]
    assert "url" not in message
    assert "miniprogram" not in message
    assert "client_msg_id" not in message


def test_send_rejects_keyword_without_value(client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="value"):
        client.templates.send("o-user-1", "TEMPLATE", {"first": {"color": "#000"}})
    assert sandbox.sent == []


def test_send_error(client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(APIError) as info:
        client.templates.send(SANDBOX_OPENID, "no-such-template", {"first": "x"})
    assert info.value.errcode == 40037
    assert sandbox.sent == []
