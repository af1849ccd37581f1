"""What WeCom callbacks refuse beyond the shared rules, the events only WeCom sends,
the agent_id filter, and encrypted passive replies."""

from __future__ import annotations

import secrets
import time
import typing as t
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from flask_wechat import (
    Article,
    ImageReply,
    Message,
    NewsReply,
    Reply,
    TextReply,
    VideoReply,
    VoiceReply,
    signals,
)
from flask_wechat.crypto import MessageCrypto, sign
from flask_wechat.parsing import to_xml
from flask_wechat.sandbox import SANDBOX_CORP_ID
from flask_wechat.testing import Recorder, WeChatTestClient

from ...helpers import stringify
from ...rejections import assert_refused
from .conftest import AES_KEY, AGENT_ID, TOKEN, USER, Work, answering

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


# == configuration ======================================================================


class Guarded(t.NamedTuple):
    """A WeCom app whose handlers and signals record everything that reaches them."""

    work: Work
    handled: list[Message]
    received: Recorder
    rejected: Recorder

    @property
    def client(self) -> WeChatTestClient:
        return self.work.client

    def good_post(self) -> tuple[bytes, dict[str, str]]:
        return self.client.encode(self.client.message("text", Content="hello"))

    def assert_rejected(self, response: t.Any, *keywords: str, status: int | None = None) -> str:
        return assert_refused(
            response,
            status,
            keywords,
            app=self.work.app,
            account="default",
            rejected=self.rejected,
            handled=self.handled,
            received=self.received,
        )


@pytest.fixture
def guarded(work: Work) -> Iterator[Guarded]:
    handled: list[Message] = []

    @work.wechat.on()
    @work.wechat.on("text")
    def record(message: Message) -> str:
        handled.append(message)
        return "a handler ran"

    received, rejected = Recorder(), Recorder()
    with (
        signals.message_received.connected_to(received, work.app),
        signals.request_rejected.connected_to(rejected, work.app),
    ):
        yield Guarded(work, handled, received, rejected)


def verify_query(crypto: MessageCrypto, plaintext: str = "echo-me") -> dict[str, str]:
    """A correct WeCom verification query for ``plaintext`` sealed by ``crypto``."""
    ts, nonce = str(int(time.time())), "v" + secrets.token_hex(4)
    echostr = crypto.encrypt_raw(plaintext)
    return {
        "msg_signature": sign(crypto.token, ts, nonce, echostr),
        "timestamp": ts,
        "nonce": nonce,
        "echostr": echostr,
    }


def test_guard_lets_good_requests_through(guarded: Guarded) -> None:
    """The control for every rejection below: the same app with nothing wrong."""
    crypto = guarded.client.crypto
    assert crypto is not None
    get = guarded.work.app.test_client().get("/wechat", query_string=verify_query(crypto))
    assert (get.status_code, get.get_data(as_text=True)) == (200, "echo-me")
    result = guarded.client.text("hello")
    assert result.content == "a handler ran"
    assert [m.content for m in guarded.handled] == ["hello"]
    assert guarded.rejected.calls == []


@pytest.mark.parametrize(
    "tamper", ["zeros", "missing", "other-echostr", "without-echostr", "wrong-token"]
)
def test_get_with_a_bad_msg_signature_is_refused(guarded: Guarded, tamper: str) -> None:
    crypto = guarded.client.crypto
    assert crypto is not None
    query = verify_query(crypto, "do-not-leak")
    ts, nonce = query["timestamp"], query["nonce"]
    if tamper == "zeros":
        query["msg_signature"] = "0" * 40
    elif tamper == "missing":
        del query["msg_signature"]
    elif tamper == "other-echostr":
        query["msg_signature"] = sign(TOKEN, ts, nonce, crypto.encrypt_raw("do-not-leak"))
    elif tamper == "without-echostr":  # an Official Account's signature, not WeCom's
        query["msg_signature"] = sign(TOKEN, ts, nonce)
    else:
        query["msg_signature"] = sign("not-the-token", ts, nonce, query["echostr"])
    response = guarded.work.app.test_client().get("/wechat", query_string=query)
    reason = guarded.assert_rejected(response, "signature", status=403)
    assert "do-not-leak" not in reason


@pytest.mark.parametrize("echostr", [None, ""], ids=["absent", "empty"])
def test_get_without_echostr_is_refused(guarded: Guarded, echostr: str | None) -> None:
    ts, nonce = str(int(time.time())), "nonce"
    query = {"msg_signature": sign(TOKEN, ts, nonce, ""), "timestamp": ts, "nonce": nonce}
    if echostr is not None:
        query["echostr"] = echostr
    response = guarded.work.app.test_client().get("/wechat", query_string=query)
    guarded.assert_rejected(response, "echostr")


def test_get_with_an_echostr_for_another_corp_is_refused(guarded: Guarded) -> None:
    other = MessageCrypto(TOKEN, AES_KEY, "wwANOTHERCORP00001")
    response = guarded.work.app.test_client().get(
        "/wechat", query_string=verify_query(other, "secret-echo")
    )
    reason = guarded.assert_rejected(response, "AppID", "CorpID", status=403)
    assert "secret-echo" not in reason


def test_get_with_a_stale_timestamp_is_refused(guarded: Guarded) -> None:
    crypto = guarded.client.crypto
    assert crypto is not None
    ts, nonce = str(int(time.time()) - 3600), "nonce"
    echostr = crypto.encrypt_raw("too-old")
    query = {
        "msg_signature": sign(TOKEN, ts, nonce, echostr),
        "timestamp": ts,
        "nonce": nonce,
        "echostr": echostr,
    }
    response = guarded.work.app.test_client().get("/wechat", query_string=query)
    guarded.assert_rejected(response, "timestamp", status=403)


def test_post_with_an_official_account_signature_is_refused(guarded: Guarded) -> None:
    """A plaintext-mode ``signature`` instead of ``msg_signature`` (the other tampers are
    in tests/test_callback.py)."""
    body, query = guarded.good_post()
    del query["msg_signature"]
    query["signature"] = sign(TOKEN, query["timestamp"], query["nonce"])
    response = guarded.client.post(body, query)
    guarded.assert_rejected(response, "signature", status=403)


def test_a_plaintext_post_is_refused(guarded: Guarded) -> None:
    """WeCom never sends plaintext; a signed plaintext message must not get through."""
    fields = guarded.client.message("text", Content="unencrypted")
    ts, nonce = str(int(time.time())), "plain-nonce"
    query = {
        "signature": sign(TOKEN, ts, nonce),
        "msg_signature": sign(TOKEN, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
    }
    response = guarded.client.post(to_xml(fields).encode(), query)
    guarded.assert_rejected(response, "Encrypt", "encrypted")


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

REPLY_CASES: list[tuple[str, Reply | str, Fields]] = [
    ("text", TextReply("已收到 ]]> 😀"), {"MsgType": "text", "Content": "已收到 ]]> 😀"}),
    ("str", "a plain string", {"MsgType": "text", "Content": "a plain string"}),
    ("image", ImageReply("wecom-img"), {"MsgType": "image", "Image": {"MediaId": "wecom-img"}}),
    ("voice", VoiceReply("wecom-voc"), {"MsgType": "voice", "Voice": {"MediaId": "wecom-voc"}}),
    (
        "video",
        VideoReply("wecom-vid", title="标题", description="描述"),
        {
            "MsgType": "video",
            "Video": {"MediaId": "wecom-vid", "Title": "标题", "Description": "描述"},
        },
    ),
    (
        "news",
        NewsReply([Article("公告", "内容", "https://img.example/1.png", "https://example/1")]),
        {
            "MsgType": "news",
            "ArticleCount": "1",
            "Articles": [
                {
                    "Title": "公告",
                    "Description": "内容",
                    "PicUrl": "https://img.example/1.png",
                    "Url": "https://example/1",
                }
            ],
        },
    ),
]


@pytest.mark.parametrize(
    ("returned", "expected"), [case[1:] for case in REPLY_CASES], ids=[c[0] for c in REPLY_CASES]
)
def test_replies_are_encrypted_and_addressed_back(
    work: Work, returned: Reply | str, expected: Fields
) -> None:
    work.wechat.on("text")(lambda message: returned)
    result = work.client.text("reply please")
    reply = assert_encrypted_reply_to(work, result.response)
    assert {
        k: v for k, v in reply.items() if k not in ("ToUserName", "FromUserName", "CreateTime")
    } == expected
    body = result.response.get_data()
    assert b"<MsgType>" not in body
    assert USER.encode() not in body


def test_a_reply_to_another_user_goes_to_that_user(work: Work) -> None:
    work.wechat.on("text")(lambda message: f"hello {message.source}")
    other = WeChatTestClient(work.app, user="WangWu")
    result = other.text("hi")
    reply = assert_encrypted_reply_to(work, result.response, user="WangWu")
    assert reply["Content"] == "hello WangWu"
