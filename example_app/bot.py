"""The example's WeChat bot: the extension object and its handlers.

Handlers live here, apart from the app factory, as in any site: import
``wechat`` wherever the API is needed (``wechat.client()``).
"""

from __future__ import annotations

import typing as t

from flask_wechat import Article, Message, NewsReply, TextReply, WeChat

wechat = WeChat()

MENU_GOOD = "V1001_GOOD"

MENU: dict[str, t.Any] = {
    "button": [
        {"type": "click", "name": "赞一下我们", "key": MENU_GOOD},
        {
            "name": "菜单",
            "sub_button": [{"type": "view", "name": "主页", "url": "https://example.com/"}],
        },
    ]
}


@wechat.on("subscribe")
def greet(message: Message) -> TextReply:
    """Welcome new followers; mention the QR code they came from."""
    greeting = "欢迎关注! Send 'news' for today's articles, or anything to hear it back."
    if message.qr_scene:
        greeting += f" (scene {message.qr_scene})"
    return TextReply(greeting)


@wechat.on("click", key=MENU_GOOD)
def thank(message: Message) -> str:
    """The "赞一下我们" menu button."""
    return "谢谢你的赞 👍"


@wechat.on("text", match=r"^\s*news\s*$")
def news(message: Message) -> NewsReply:
    """Today's articles."""
    return NewsReply(
        [
            Article(
                "flask_wechat",
                "Connect Flask to WeChat",
                "https://example.com/logo.png",
                "https://example.com/",
            ),
            Article("Changelog", "What is new", None, "https://example.com/changes"),
        ]
    )


@wechat.on("text")
def echo(message: Message) -> TextReply:
    """Anything else said is said back."""
    return TextReply(message.content or "")


@wechat.on()
def fallback(message: Message) -> None:
    """Events nobody handles are received and answered with ``success``."""
