"""The example site: its bot and its page that plays WeChat."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from example_app import MENU, MENU_GOOD, create_app
from flask_wechat import Message, signals
from flask_wechat.sandbox import SANDBOX_APP_ID, SANDBOX_APP_SECRET, Sandbox
from flask_wechat.testing import DEFAULT_USER, WeChatTestClient


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def site(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.delenv("WECHAT_APP_SECRET", raising=False)
    return create_app({"TESTING": True}, sandbox=sandbox)


def test_echo_and_news(site: Flask) -> None:
    client = WeChatTestClient(site)
    assert client.mode == "safe"
    assert client.text("你好 🌏").content == "你好 🌏"
    news = client.text("news")
    assert news.msg_type == "news"
    assert news.reply is not None
    assert news.reply["ArticleCount"] == "2"


def test_subscribe_greets_with_scene(site: Flask) -> None:
    result = WeChatTestClient(site).event("subscribe", EventKey="qrscene_poster")
    assert result.content is not None
    assert "欢迎关注" in result.content
    assert "poster" in result.content


def test_menu_click(site: Flask) -> None:
    result = WeChatTestClient(site).event("CLICK", EventKey=MENU_GOOD)
    assert result.content == "谢谢你的赞 👍"


def test_unhandled_event_answers_success(site: Flask) -> None:
    assert WeChatTestClient(site).event("LOCATION", Latitude="23.1").is_success


def test_page_plays_wechat(site: Flask, sandbox: Sandbox) -> None:
    page = site.test_client()
    assert "callback" in page.get("/").get_data(as_text=True)
    html = page.post(
        "/", data={"kind": "text", "content": "hello page"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "hello page" in html
    # the sandbox, as WeChat, now knows the user wrote (customer-service sends may follow)
    assert DEFAULT_USER in sandbox.followers()
    assert "encrypted reply" in html
    html = page.post("/", data={"kind": "click"}, follow_redirects=True).get_data(as_text=True)
    assert "谢谢你的赞" in html
    assert f"click from {DEFAULT_USER}: {MENU_GOOD}" in html


def test_reloading_the_page_does_not_send_again(site: Flask) -> None:
    """POST/redirect/GET: the browser's reload repeats the GET, not the message."""
    received: list[str] = []

    def count(sender: Flask, message: Message, **extra: object) -> None:
        received.append(message.dispatch_name)

    page = site.test_client()
    with signals.message_received.connected_to(count, site):
        sent = page.post("/", data={"kind": "text", "content": "only once"})
        assert sent.status_code == 303
        assert sent.headers["Location"] == "/"
        first = page.get("/").get_data(as_text=True)
        reloaded = page.get("/").get_data(as_text=True)
    assert received == ["text"]
    assert "only once" in first  # the answer, shown once
    assert 'id="reply"' in first
    assert 'id="reply"' not in reloaded
    # Recent messages show what was said, not only who said it.
    assert f"text from {DEFAULT_USER}: only once" in reloaded


def test_pushing_the_menu_redirects(site: Flask, sandbox: Sandbox) -> None:
    page = site.test_client()
    pushed = page.post("/menu")
    assert pushed.status_code == 303
    assert pushed.headers["Location"] == "/menu"
    page.get("/menu")
    page.get("/menu")
    assert sandbox.count("/cgi-bin/menu/create") == 1


def test_favicon(site: Flask) -> None:
    icon = site.test_client().get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.mimetype == "image/vnd.microsoft.icon"
    assert icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert 'rel="icon"' in site.test_client().get("/").get_data(as_text=True)


def test_menu_page_uses_the_sandbox(site: Flask, sandbox: Sandbox) -> None:
    page = site.test_client()
    assert "no menu yet" in page.get("/menu").get_data(as_text=True)
    html = page.post("/menu", follow_redirects=True).get_data(as_text=True)
    assert "赞一下我们" in html
    assert sandbox.menu is not None
    assert sandbox.menu["button"][0]["key"] == MENU["button"][0]["key"]
    assert sandbox.count("/cgi-bin/menu/create") == 1
    assert sandbox.token_requests == 1


def test_without_credentials_a_sandbox_is_started(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WECHAT_APP_SECRET", raising=False)
    app = create_app({"TESTING": True})
    started: Sandbox = app.extensions["example_sandbox"]
    try:
        assert app.config["WECHAT_API_BASE_URL"] == started.url
        with app.app_context():
            from example_app import wechat

            assert wechat.client().callback_ip()
    finally:
        started.stop()


def production_env(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    for key, value in {
        "WECHAT_TOKEN": "prod-token",
        "WECHAT_APP_ID": SANDBOX_APP_ID,
        "WECHAT_APP_SECRET": SANDBOX_APP_SECRET,
        "WECHAT_ENCODING_AES_KEY": "p" * 43,
        "SECRET_KEY": "prod-secret-key",
    }.items():
        monkeypatch.setenv(key, value)


def test_production_reads_the_environment_and_has_no_playground(
    monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox
) -> None:
    production_env(monkeypatch, sandbox)
    app = create_app({"WECHAT_API_BASE_URL": sandbox.url})
    assert "example_sandbox" not in app.extensions
    assert "playground" not in app.blueprints
    assert app.config["WECHAT_TOKEN"] == "prod-token"
    assert app.config["SECRET_KEY"] == "prod-secret-key"
    page = app.test_client()
    html = page.get("/").get_data(as_text=True)
    assert "/wechat" in html
    assert "<form" not in html
    assert page.post("/", data={"kind": "text", "content": "x"}).status_code == 405
    # The bot answers real (signed, encrypted) callbacks.
    assert WeChatTestClient(app).text("prod hello").content == "prod hello"


def test_production_without_a_secret_key_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox
) -> None:
    production_env(monkeypatch, sandbox)
    monkeypatch.delenv("SECRET_KEY")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()
