"""flask_wechat.signals: the type signals, per-account signals, and what they carry."""

from __future__ import annotations

import secrets

from flask import Flask

from flask_wechat import Message, WeChat, signals
from flask_wechat.testing import Recorder, WeChatTestClient

from .conftest import AppFactory


def test_signal_for_is_case_insensitive_and_stable() -> None:
    assert signals.signal_for("CLICK") is signals.click
    assert signals.signal_for("SomeFutureEvent") is signals.signal_for("somefutureevent")
    assert signals.signal_for("text", account="shop") is signals.signal_for("TEXT", account="shop")
    assert signals.signal_for("text", account="shop") is not signals.text


def test_account_scoped_type_signal(make_app: AppFactory) -> None:
    app, _wechat = make_app(
        WECHAT_ACCOUNTS={
            "shop": {"token": "shop-token", "app_id": "wxshop0000000001"},
            "blog": {"token": "blog-token", "app_id": "wxblog0000000002"},
        }
    )
    shop_only, every = Recorder(), Recorder()
    with (
        signals.signal_for("text", account="shop").connected_to(shop_only, app),
        signals.text.connected_to(every, app),
    ):
        WeChatTestClient(app, "blog").text("to the blog")
        WeChatTestClient(app, "shop").text("to the shop")
        WeChatTestClient(app).text("to the default account")
        WeChatTestClient(app, "shop").event("subscribe")
    assert [(m.account, m.content) for m in shop_only.messages] == [("shop", "to the shop")]
    assert [call["account"] for call in shop_only.calls] == ["shop"]
    assert [m.account for m in every.messages] == ["blog", "shop", "default"]


def test_sending_an_unseen_name_creates_no_signal(plain_app: tuple[Flask, WeChat]) -> None:
    """An attacker can send any Event: a name nobody connected to leaves nothing behind."""
    app, _wechat = plain_app
    name = "event" + secrets.token_hex(6)
    every = Recorder()
    with signals.message_received.connected_to(every, app):
        result = WeChatTestClient(app).event(name.upper(), EventKey="k")
    assert result.is_success
    assert [m.dispatch_name for m in every.messages] == [name]
    # Looked up, never created: neither namespace holds the name afterwards.
    assert name not in signals._type_signals
    assert f"default\x1f{name}" not in signals._account_signals
    signals.send_type_signals(app, "other" + name, "default", message=every.messages[0])
    assert "other" + name not in signals._type_signals


def test_type_signals_carry_the_account_and_the_payload_keywords() -> None:
    sender = object()
    message = Message({"MsgType": "text", "FromUserName": "u", "Content": "hi"}, account="shop")
    every, shop, blog = Recorder(), Recorder(), Recorder()
    with (
        signals.text.connected_to(every),
        signals.signal_for("TEXT", account="shop").connected_to(shop),
        signals.signal_for("text", account="blog").connected_to(blog),
    ):
        signals.send_type_signals(sender, "text", "shop", message=message, extra=1)
    expected = {"sender": sender, "account": "shop", "message": message, "extra": 1}
    assert [{k: call[k] for k in expected} for call in every.calls] == [expected]
    assert [{k: call[k] for k in expected} for call in shop.calls] == [expected]
    assert blog.calls == []
