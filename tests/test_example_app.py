"""The example site: its bot and its page that plays WeChat."""

from __future__ import annotations

import pytest
from flask import Flask

from example_app import MENU_GOOD, create_app
from flask_wechat.testing import WeChatTestClient


@pytest.fixture
def site() -> Flask:
    return create_app({"TESTING": True})


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


def test_page_plays_wechat(site: Flask) -> None:
    page = site.test_client()
    assert "callback" in page.get("/").get_data(as_text=True)
    html = page.post("/", data={"kind": "text", "content": "hello page"}).get_data(as_text=True)
    assert "hello page" in html
    assert "encrypted reply" in html
    html = page.post("/", data={"kind": "click"}).get_data(as_text=True)
    assert "谢谢你的赞" in html
    assert "click from" in html
