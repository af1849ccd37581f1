"""The :class:`flask_wechat.WeChat` extension: registration, several apps, several accounts, CLI."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask

from flask_wechat import Message, TextReply, WeChat
from flask_wechat.testing import WeChatTestClient

from .conftest import AES_KEY, APP_ID, APP_SECRET, TOKEN, AppFactory, create_app

SHOP = {
    "token": "shop-token",
    "app_id": "wxshop0000000001",
    "app_secret": "shop-app-secret",
    "encoding_aes_key": "ShopKey000011112222333344445555666677778888",
}
NEWS = {
    "token": "news-token",
    "app_id": "wxnews0000000002",
    "app_secret": "news-app-secret",
    "callback_url": "/hooks/news",
}
SECRET_KEYS = ("token", "app_secret", "encoding_aes_key")


def bare_app(name: str, **config: t.Any) -> Flask:
    app = Flask(name)
    app.config.update(TESTING=True, **config)
    return app


def two_accounts(make_app: AppFactory) -> tuple[Flask, WeChat]:
    """An app with only the ``shop`` and ``news`` accounts (no flat default account)."""
    return make_app(
        WECHAT_TOKEN=None,
        WECHAT_APP_ID=None,
        WECHAT_APP_SECRET=None,
        WECHAT_ACCOUNTS={"shop": SHOP, "news": NEWS},
    )


def urls(app: Flask) -> set[str]:
    return {rule.rule for rule in app.url_map.iter_rules()}


# -- registration ------------------------------------------------------------------


def test_constructor_with_app_registers() -> None:
    app = bare_app("ctor", WECHAT_TOKEN=TOKEN)
    wechat = WeChat(app)
    assert "wechat" in app.extensions
    assert "/wechat" in urls(app)
    assert WeChatTestClient(app).verify_url("ok").get_data(as_text=True) == "ok"
    assert "app" not in vars(wechat)


def test_init_app_registers_later() -> None:
    wechat = WeChat()
    app = bare_app("later", WECHAT_TOKEN=TOKEN)
    assert "wechat" not in app.extensions
    wechat.init_app(app)
    assert "wechat" in app.extensions
    assert "/wechat" in urls(app)
    assert not hasattr(wechat, "app")


def test_state_without_init_app_says_so() -> None:
    app = bare_app("forgot")
    with app.app_context(), pytest.raises(RuntimeError, match="init_app"):
        WeChat().account()


def test_init_twice_is_refused() -> None:
    app = bare_app("twice", WECHAT_TOKEN=TOKEN)
    wechat = WeChat(app)
    first_state = app.extensions["wechat"]
    with pytest.raises(RuntimeError, match="already"):
        wechat.init_app(app)
    with pytest.raises(RuntimeError, match="already"):
        WeChat(app)
    assert app.extensions["wechat"] is first_state


def test_one_extension_serves_two_apps_each_with_its_own_token() -> None:
    wechat = WeChat()
    first = bare_app("first", WECHAT_TOKEN="first-token", WECHAT_APP_ID="wxfirst000000001")
    second = bare_app(
        "second",
        WECHAT_TOKEN="second-token",
        WECHAT_APP_ID="wxsecond00000002",
        WECHAT_ENCODING_AES_KEY=AES_KEY,
    )
    wechat.init_app(first)
    wechat.init_app(second)
    assert "app" not in vars(wechat)

    seen: list[str] = []

    @wechat.on("text")
    def echo(message: Message) -> TextReply:
        seen.append(message.content or "")
        return TextReply(f"echo {message.content}")

    first_client = WeChatTestClient(first)
    second_client = WeChatTestClient(second)
    # Handlers registered once answer on both apps, in each app's own mode.
    one = first_client.text("one")
    two = second_client.text("two")
    assert (one.content, one.encrypted) == ("echo one", False)
    assert (two.content, two.encrypted) == ("echo two", True)
    assert seen == ["one", "two"]

    # Each app verifies with its own token: one app's signature is refused by the other.
    assert first_client.verify_url("e1").get_data(as_text=True) == "e1"
    assert second_client.verify_url("e2").get_data(as_text=True) == "e2"
    body, query = first_client.encode(first_client.message("text", Content="forged"))
    assert WeChatTestClient(second, mode="plain").post(body, query).status_code == 403
    ts, nonce = query["timestamp"], query["nonce"]
    cross = {"signature": query["signature"], "timestamp": ts, "nonce": nonce, "echostr": "x"}
    assert second.test_client().get("/wechat", query_string=cross).status_code == 403
    assert seen == ["one", "two"]

    with first.app_context():
        assert wechat.account().token == "first-token"
    with second.app_context():
        assert wechat.account().token == "second-token"


def test_state_of_an_app_owned_by_another_extension_is_refused() -> None:
    app = bare_app("owned", WECHAT_TOKEN=TOKEN)
    WeChat(app)
    other = WeChat()
    with app.app_context(), pytest.raises(RuntimeError, match="another"):
        other.account()


# -- several accounts -----------------------------------------------------------


def test_accounts_are_mounted_at_their_urls(make_app: AppFactory) -> None:
    app, wechat = two_accounts(make_app)
    assert {"/wechat/shop", "/hooks/news"} <= urls(app)
    assert "/wechat" not in urls(app)
    with app.app_context():
        assert wechat.account("shop").callback_url == "/wechat/shop"
        assert wechat.account("news").callback_url == "/hooks/news"
        with pytest.raises(LookupError, match="several"):
            wechat.account()

    shop = WeChatTestClient(app, "shop")
    news = WeChatTestClient(app, "news")
    assert (shop.url, shop.mode) == ("/wechat/shop", "safe")
    assert (news.url, news.mode) == ("/hooks/news", "plain")
    assert shop.verify_url("s").get_data(as_text=True) == "s"
    assert news.verify_url("n").get_data(as_text=True) == "n"
    # One account's signature is worthless at the other's URL.
    body, query = news.encode(news.message("text", Content="hi"))
    response = app.test_client().post("/wechat/shop", query_string=query, data=body)
    assert response.status_code == 403


def test_flat_default_account_lives_beside_named_ones(make_app: AppFactory) -> None:
    app, wechat = make_app(WECHAT_ACCOUNTS={"news": NEWS})
    assert {"/wechat", "/hooks/news"} <= urls(app)
    with app.app_context():
        assert wechat.account().name == "default"
        assert wechat.account().app_id == APP_ID
        assert wechat.account("news").app_id == NEWS["app_id"]


def test_handlers_limited_to_one_account(make_app: AppFactory) -> None:
    app, wechat = two_accounts(make_app)
    calls: list[tuple[str, str]] = []

    @wechat.on("text", account="shop")
    def shop_only(message: Message) -> str:
        calls.append(("shop_only", message.account))
        return "shop answers"

    @wechat.on("text")
    def anyone(message: Message) -> str:
        calls.append(("anyone", message.account))
        return f"{message.account} answers"

    assert WeChatTestClient(app, "shop").text("hi").content == "shop answers"
    assert WeChatTestClient(app, "news").text("hi").content == "news answers"
    assert calls == [("shop_only", "shop"), ("anyone", "news")]


def test_account_repr_hides_secrets(make_app: AppFactory) -> None:
    app, wechat = make_app(WECHAT_ENCODING_AES_KEY=AES_KEY)
    with app.app_context():
        shown = repr(wechat.account())
    assert APP_ID in shown
    for secret in (APP_SECRET, AES_KEY, TOKEN):
        assert secret not in shown


# -- CLI ----------------------------------------------------------------------------


def test_cli_lists_accounts_without_secrets(make_app: AppFactory) -> None:
    app, _wechat = make_app(
        WECHAT_ENCODING_AES_KEY=AES_KEY, WECHAT_ACCOUNTS={"shop": SHOP, "news": NEWS}
    )
    result = app.test_cli_runner().invoke(args=["wechat", "accounts"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 3
    by_name = {line.split()[0]: line for line in lines}
    assert set(by_name) == {"default", "shop", "news"}
    assert APP_ID in by_name["default"]
    assert "/wechat" in by_name["default"]
    assert "wxshop0000000001" in by_name["shop"]
    assert "/wechat/shop" in by_name["shop"]
    assert "/hooks/news" in by_name["news"]
    assert "mp" in by_name["news"]
    secrets = [TOKEN, APP_SECRET, AES_KEY]
    secrets += [account[key] for account in (SHOP, NEWS) for key in SECRET_KEYS if key in account]
    for secret in secrets:
        assert secret not in result.output


def test_cli_group_is_registered(plain_app: tuple[Flask, WeChat]) -> None:
    app, _wechat = plain_app
    result = app.test_cli_runner().invoke(args=["wechat", "--help"])
    assert result.exit_code == 0
    assert "accounts" in result.output


def test_nothing_is_built_per_account_at_init_app_api_clients_come_on_first_use() -> None:
    accounts = {
        f"shop{number}": {"token": "t", "app_id": f"wx{number:016d}", "app_secret": "s"}
        for number in range(200)
    }
    app, wechat = create_app(WECHAT_ACCOUNTS=accounts)
    state = wechat.state(app)
    assert state.clients == {}
    with app.app_context():
        client = wechat.client("shop7")
        assert wechat.client("shop7") is client
        assert client.account.app_id == "wx0000000000000007"
    assert list(state.clients) == ["shop7"]
