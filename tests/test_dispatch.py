"""Which handler answers a message: ``@wechat.on`` names, filters and order."""

from __future__ import annotations

import re
import typing as t

import pytest
from flask import Flask

from flask_wechat import Message, WeChat
from flask_wechat.testing import WeChatTestClient

from .conftest import AppFactory

Handler = t.Callable[[Message], str]


class Calls:
    """Makes handlers that answer their own name and remember who ran."""

    def __init__(self) -> None:
        self.log: list[tuple[str, Message]] = []

    def handler(self, name: str) -> Handler:
        def handle(message: Message) -> str:
            self.log.append((name, message))
            return name

        handle.__name__ = name
        return handle

    @property
    def names(self) -> list[str]:
        return [name for name, _message in self.log]


Setup = tuple[WeChat, WeChatTestClient, Calls]


@pytest.fixture
def plain(plain_app: tuple[Flask, WeChat]) -> Setup:
    app, wechat = plain_app
    return wechat, WeChatTestClient(app), Calls()


# -- order ----------------------------------------------------------------------------


def test_first_registered_match_wins(plain: Setup) -> None:
    wechat, client, calls = plain
    wechat.on("text")(calls.handler("first"))
    wechat.on("text")(calls.handler("second"))
    assert client.text("hello").content == "first"
    assert calls.names == ["first"]


def test_a_filtered_out_handler_passes_to_the_next(plain: Setup) -> None:
    wechat, client, calls = plain
    wechat.on("text", match=r"^help")(calls.handler("help"))
    wechat.on("text")(calls.handler("anything"))
    wechat.on("text", match=r"^help")(calls.handler("never"))
    assert client.text("help me").content == "help"
    assert client.text("hello").content == "anything"
    assert calls.names == ["help", "anything"]


def test_nothing_matches_answers_success(plain: Setup) -> None:
    wechat, client, calls = plain
    wechat.on("image")(calls.handler("image"))
    wechat.on("text", match=r"^\d+$")(calls.handler("digits"))
    result = client.text("letters")
    assert result.is_success
    assert result.text == "success"
    assert calls.names == []


# -- names ----------------------------------------------------------------------------


@pytest.mark.parametrize("registered", ["click", "CLICK", "Click"])
@pytest.mark.parametrize("sent", ["CLICK", "click"])
def test_event_names_are_case_insensitive(plain: Setup, registered: str, sent: str) -> None:
    wechat, client, calls = plain
    wechat.on(registered)(calls.handler("menu"))
    assert client.event(sent, EventKey="K").content == "menu"
    [(_name, message)] = calls.log
    assert message.type == "event"
    assert message.event == "click"


def test_message_type_names_are_case_insensitive(plain: Setup) -> None:
    wechat, client, calls = plain
    wechat.on("TEXT")(calls.handler("upper"))
    assert client.text("x").content == "upper"
    assert client.send(client.message("Text", Content="y")).content == "upper"
    assert [message.type for _name, message in calls.log] == ["text", "text"]


def test_location_event_and_location_message_are_apart(plain: Setup) -> None:
    wechat, client, calls = plain
    wechat.on("location")(calls.handler("message"))
    wechat.on("location_event")(calls.handler("event"))
    report = client.event("LOCATION", Latitude="23.137466", Longitude="113.352425")
    sent = client.send(client.message("location", Location_X="23.1", Location_Y="113.3"))
    assert report.content == "event"
    assert sent.content == "message"


def test_one_decorator_several_types(plain: Setup) -> None:
    wechat, client, calls = plain
    wechat.on("image", "VOICE", "subscribe")(calls.handler("media"))
    assert client.send(client.message("image", PicUrl="http://p", MediaId="m1")).content == "media"
    assert client.send(client.message("voice", MediaId="m2", Format="amr")).content == "media"
    assert client.event("subscribe").content == "media"
    assert client.text("not me").is_success
    assert client.event("unsubscribe").is_success
    assert [message.dispatch_name for _name, message in calls.log] == [
        "image",
        "voice",
        "subscribe",
    ]


# -- filters --------------------------------------------------------------------------


def test_key_filter(plain: Setup) -> None:
    wechat, client, calls = plain
    wechat.on("click", key="V1001_GOOD")(calls.handler("good"))
    wechat.on("click", key="V1002_BAD")(calls.handler("bad"))
    assert client.event("CLICK", EventKey="V1002_BAD").content == "bad"
    assert client.event("CLICK", EventKey="V1001_GOOD").content == "good"
    # A key is compared whole, not as a prefix or pattern.
    assert client.event("CLICK", EventKey="V1001_GOOD_2").is_success
    assert client.event("CLICK").is_success
    assert calls.names == ["bad", "good"]


@pytest.mark.parametrize(
    ("pattern", "content", "matches"),
    [
        (r"^help\b", "help me", True),
        (r"^help\b", "helpful", False),
        (r"^help\b", "please help", False),
        (r"订单\d+", "查询订单42", True),
        (re.compile(r"hello", re.IGNORECASE), "Say HELLO", True),
        (re.compile(r"hello"), "Say HELLO", False),
    ],
)
def test_match_filter_searches_content(
    plain: Setup, pattern: str | re.Pattern[str], content: str, matches: bool
) -> None:
    wechat, client, calls = plain
    wechat.on("text", match=pattern)(calls.handler("matched"))
    result = client.text(content)
    assert (result.content == "matched") is matches
    assert result.is_success is not matches
    assert len(calls.log) == int(matches)


def test_match_filter_on_an_event_searches_its_key(plain: Setup) -> None:
    wechat, client, calls = plain
    wechat.on("click", match=r"^SHOP_")(calls.handler("shop menu"))
    assert client.event("CLICK", EventKey="SHOP_CART").content == "shop menu"
    assert client.event("CLICK", EventKey="NEWS_TODAY").is_success
    assert calls.names == ["shop menu"]


def test_match_filter_never_takes_a_message_without_content(plain: Setup) -> None:
    wechat, client, calls = plain
    wechat.on("image", match=r".*")(calls.handler("image"))
    assert client.send(client.message("image", PicUrl="http://p", MediaId="m")).is_success
    assert calls.log == []


def test_account_filter(make_app: AppFactory) -> None:
    app, wechat = make_app(
        WECHAT_TOKEN=None,
        WECHAT_APP_ID=None,
        WECHAT_APP_SECRET=None,
        WECHAT_ACCOUNTS={
            "shop": {"token": "shop-token", "app_id": "wxshop0000000001"},
            "blog": {"token": "blog-token", "app_id": "wxblog0000000002"},
        },
    )
    calls = Calls()
    wechat.on("text", account="shop")(calls.handler("shop text"))
    wechat.on("subscribe", account="blog")(calls.handler("blog welcome"))
    shop, blog = WeChatTestClient(app, "shop"), WeChatTestClient(app, "blog")
    assert shop.text("hi").content == "shop text"
    assert blog.text("hi").is_success
    assert blog.event("subscribe").content == "blog welcome"
    assert shop.event("subscribe").is_success
    assert [(name, message.account) for name, message in calls.log] == [
        ("shop text", "shop"),
        ("blog welcome", "blog"),
    ]


def test_filters_combine(plain: Setup) -> None:
    wechat, client, calls = plain
    wechat.on("click", key="BUY", account="default", match=r"^B")(calls.handler("all three"))
    wechat.on("click", key="BUY", account="elsewhere")(calls.handler("other account"))
    assert client.event("CLICK", EventKey="BUY").content == "all three"
    assert calls.names == ["all three"]


# -- the default handler --------------------------------------------------------------


def test_default_handler_gets_only_what_no_typed_handler_took(plain: Setup) -> None:
    wechat, client, calls = plain
    # Registered first, yet typed handlers still come before it.
    wechat.on()(calls.handler("default"))
    wechat.on("text")(calls.handler("text"))
    wechat.on("click", key="KNOWN")(calls.handler("known click"))
    assert client.text("hi").content == "text"
    assert client.event("CLICK", EventKey="KNOWN").content == "known click"
    assert client.event("CLICK", EventKey="UNKNOWN").content == "default"
    assert client.send(client.message("image", MediaId="m")).content == "default"
    assert client.event("brand_new_event").content == "default"
    assert calls.names == ["text", "known click", "default", "default", "default"]
    assert [message.dispatch_name for _name, message in calls.log[2:]] == [
        "click",
        "image",
        "brand_new_event",
    ]


def test_first_default_handler_wins(plain: Setup) -> None:
    wechat, client, calls = plain
    wechat.on()(calls.handler("first default"))
    wechat.on()(calls.handler("second default"))
    assert client.text("x").content == "first default"


@pytest.mark.parametrize(
    ("filters", "taken", "left"),
    [
        ({"match": r"^\?"}, ("text", {"Content": "?faq"}), ("text", {"Content": "faq"})),
        (
            {"key": "HELP"},
            ("event", {"Event": "CLICK", "EventKey": "HELP"}),
            ("event", {"Event": "CLICK", "EventKey": "MORE"}),
        ),
        ({"account": "default"}, ("text", {"Content": "x"}), None),
        ({"account": "elsewhere"}, None, ("text", {"Content": "x"})),
    ],
    ids=["match", "key", "own account", "other account"],
)
def test_filters_on_the_default_handler(
    plain: Setup,
    filters: dict[str, t.Any],
    taken: tuple[str, dict[str, str]] | None,
    left: tuple[str, dict[str, str]] | None,
) -> None:
    wechat, client, calls = plain
    wechat.on(**filters)(calls.handler("filtered default"))
    if taken is not None:
        msg_type, fields = taken
        assert client.send(client.message(msg_type, **fields)).content == "filtered default"
    if left is not None:
        msg_type, fields = left
        assert client.send(client.message(msg_type, **fields)).is_success
    assert len(calls.log) == (taken is not None)


def test_decorator_returns_the_function(plain: Setup) -> None:
    wechat, client, _calls = plain

    def greet(message: Message) -> str:
        return "hi " + (message.source or "")

    assert wechat.on("text")(greet) is greet
    assert wechat.on()(greet) is greet
    assert client.text("x").content == "hi " + client.user
