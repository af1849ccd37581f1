"""An account's delivery: its passive answers, and what a handler's result becomes."""

from __future__ import annotations

import json

from flask import Response

from flask_wechat import Message, TextReply
from flask_wechat.crypto import MessageCrypto
from flask_wechat.edge import SUCCESS
from flask_wechat.parsing import parse_xml
from flask_wechat.state import WeChatState

from .conftest import AES_KEY, APP_ID, TOKEN, AppFactory

USER = "o_user_0123456789"


def text(account: str = "default") -> Message:
    return Message(
        {
            "ToUserName": "gh_0123456789ab",
            "FromUserName": USER,
            "CreateTime": "1700000000",
            "MsgType": "text",
            "Content": "hello",
            "MsgId": "1",
        },
        account,
    )


def test_a_configured_account_keeps_one_delivery(make_app: AppFactory) -> None:
    app, _ = make_app(WECHAT_ENCODING_AES_KEY=AES_KEY)
    state: WeChatState = app.extensions["wechat"]
    delivery = state.delivery()
    assert state.delivery("default") is delivery
    assert state.callbacks["default"].delivery is delivery  # type: ignore[attr-defined]
    assert delivery.account is state.account()


def test_a_passive_answer_is_sealed_only_when_the_request_was(make_app: AppFactory) -> None:
    app, _ = make_app(WECHAT_ENCODING_AES_KEY=AES_KEY)
    delivery = app.extensions["wechat"].delivery()
    message = text()

    plain = parse_xml(delivery.render(message, TextReply("hi"), False).body)
    assert (plain["ToUserName"], plain["Content"]) == (USER, "hi")

    sealed = parse_xml(delivery.render(message, TextReply("hi"), True).body)
    opened = MessageCrypto(TOKEN, AES_KEY, APP_ID).open(
        str(sealed["Encrypt"]),
        str(sealed["MsgSignature"]),
        str(sealed["TimeStamp"]),
        str(sealed["Nonce"]),
    )
    assert parse_xml(opened)["Content"] == "hi"


def test_a_json_account_answers_in_json(make_app: AppFactory) -> None:
    app, _ = make_app(WECHAT_KIND="miniprogram", WECHAT_FORMAT="json")
    delivery = app.extensions["wechat"].delivery()
    answer = delivery.render(text(), TextReply("hi"), False)
    assert answer.mimetype == "application/json"
    assert json.loads(answer.body)["Content"] == "hi"


def test_results_that_leave_nothing_to_answer(make_app: AppFactory) -> None:
    app, _ = make_app()
    delivery = app.extensions["wechat"].delivery()
    with app.app_context():
        # nothing returned, no relay: success
        assert delivery.route(app, text(), None, False) == (SUCCESS, "success")
        # a Response cannot be sent as a message once the passive answer is gone
        late = delivery.route(app, text(), Response("raw"), None)
        assert late == (SUCCESS, "success")
        # but it is the answer while the request waits
        answered = delivery.route(app, text(), Response("raw"), False)
        assert (answered.answer.body, answered.outcome) == (b"raw", "reply")
