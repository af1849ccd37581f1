"""What WeCom callbacks refuse beyond the shared rules, the events only WeCom sends,
the agent_id filter, and encrypted passive replies."""

from __future__ import annotations

import typing as t
import xml.etree.ElementTree as ET

import pytest

from flask_wechat import (
    Message,
    signals,
)
from flask_wechat.sandbox import SANDBOX_CORP_ID
from flask_wechat.testing import Recorder, WeChatTestClient

from ...helpers import stringify
from .conftest import AGENT_ID, USER, Work, answering

Fields = dict[str, t.Any]

OTHER_AGENT_ID = 1000099


def assert_encrypted_reply_to(work: Work, response: t.Any, user: str = USER) -> Fields:
    """The answer is an encrypted passive reply to ``user`` from the corp; its fields."""
    assert response.status_code == 200
    assert response.mimetype in ("application/xml", "text/xml")
    envelope = ET.fromstring(response.get_data())
    assert sorted(child.tag for child in envelope) == sorted(
        ["Encrypt", "MsgSignature", "TimeStamp", "Nonce"]
    )
    reply, encrypted = work.client.decode_reply(response)  # checks MsgSignature too
    assert encrypted is True
    assert reply is not None
    assert reply["ToUserName"] == user
    assert reply["FromUserName"] == SANDBOX_CORP_ID
    assert reply["CreateTime"].isdigit()
    return reply


# == events only WeCom sends ================================================================


CONTACT_CHANGES: list[tuple[str, Fields, Fields]] = [
    # (ChangeType, fields besides ChangeType, attributes the handler reads)
    (
        "create_user",
        {
            "UserID": "lisi",
            "Name": "李四",
            "Department": "1,2,3",
            "MainDepartment": "1",
            "IsLeaderInDept": "1,0,0",
            "Position": "产品经理",
            "Mobile": "13800000000",
            "Gender": "1",
            "Email": "lisi@example.com",
            "Status": "1",
            "Alias": "lisi-alias",
        },
        {
            "user_id": "lisi",
            "department": "1,2,3",
            "main_department": "1",
            "is_leader_in_dept": "1,0,0",
            "position": "产品经理",
            "mobile": "13800000000",
            "status": "1",
        },
    ),
    (
        "update_user",
        {"UserID": "lisi", "NewUserID": "lisi2", "Position": "总监"},
        {"user_id": "lisi", "new_user_id": "lisi2", "position": "总监"},
    ),
    ("delete_user", {"UserID": "lisi"}, {"user_id": "lisi"}),
    (
        "create_party",
        {"Id": "2", "Name": "研发部", "ParentId": "1", "Order": "1"},
        {"parent_id": "1", "order": "1"},
    ),
    ("update_party", {"Id": "2", "Name": "研发中心", "ParentId": "1"}, {"parent_id": "1"}),
    ("delete_party", {"Id": "2"}, {}),
    (
        "update_tag",
        {
            "TagId": "1",
            "AddUserItems": "zhangsan,lisi",
            "DelUserItems": "wangwu",
            "AddPartyItems": "1,2",
            "DelPartyItems": "3",
        },
        {
            "tag_id": "1",
            "add_user_items": "zhangsan,lisi",
            "del_user_items": "wangwu",
            "add_party_items": "1,2",
            "del_party_items": "3",
        },
    ),
]


@pytest.mark.parametrize(
    ("change_type", "fields", "attributes"),
    CONTACT_CHANGES,
    ids=[case[0] for case in CONTACT_CHANGES],
)
def test_change_contact(work: Work, change_type: str, fields: Fields, attributes: Fields) -> None:
    seen: list[Message] = []

    @work.wechat.on("change_contact")
    def contact(message: Message) -> None:
        seen.append(message)

    typed = Recorder()
    sent = work.client.event_message("change_contact", ChangeType=change_type, **fields)
    with signals.change_contact.connected_to(typed, work.app):
        result = work.client.send(sent)

    assert (result.status_code, result.text) == (200, "success")
    [message] = seen
    assert message.dispatch_name == "change_contact"
    assert message.event == "change_contact"
    assert message.change_type == change_type
    for attribute, value in attributes.items():
        assert getattr(message, attribute) == value, attribute
    # Every field is kept with WeCom's own names (``Name`` and ``Id`` too).
    assert message.raw == stringify(sent)
    assert [call["message"].change_type for call in typed.calls] == [change_type]


# == the agent_id filter ==================================================================


def test_a_handler_for_another_agent_is_skipped(work: Work) -> None:
    ran: list[str] = []

    @work.wechat.on("text", agent_id=OTHER_AGENT_ID)
    def other_agent(message: Message) -> str:
        ran.append("other")
        return "from the other agent's handler"

    @work.wechat.on("text", agent_id=AGENT_ID)
    def this_agent(message: Message) -> str:
        ran.append("this")
        return "from this agent's handler"

    result = work.client.text("which agent?")
    assert result.content == "from this agent's handler"
    assert ran == ["this"]


def test_agent_id_filter_follows_the_message_s_agent(work: Work) -> None:
    work.wechat.on("text", agent_id=OTHER_AGENT_ID)(lambda message: "other agent")
    work.wechat.on("text")(lambda message: "any agent")
    to_other = work.client.message("text", Content="hi", AgentID=OTHER_AGENT_ID)
    assert work.client.send(to_other).content == "other agent"
    assert work.client.text("hi").content == "any agent"


def test_agent_id_filter_on_events_and_the_default_handler(work: Work) -> None:
    seen: list[str] = []
    work.wechat.on("enter_agent", agent_id=OTHER_AGENT_ID)(answering(seen, "wrong agent"))
    work.wechat.on(agent_id=AGENT_ID)(answering(seen, "welcome"))
    result = work.client.event("enter_agent", EventKey="")
    assert result.content == "welcome"
    assert seen == ["welcome"]


def test_no_handler_for_this_agent_answers_success(work: Work) -> None:
    work.wechat.on("text", agent_id=OTHER_AGENT_ID)(lambda message: "not for you")
    result = work.client.text("anyone?")
    assert (result.status_code, result.text) == (200, "success")


# == replies ==============================================================================


def test_a_reply_to_another_user_goes_to_that_user(work: Work) -> None:
    work.wechat.on("text")(lambda message: f"hello {message.source}")
    other = WeChatTestClient(work.app, user="WangWu")
    result = other.text("hi")
    reply = assert_encrypted_reply_to(work, result.response, user="WangWu")
    assert reply["Content"] == "hello WangWu"
