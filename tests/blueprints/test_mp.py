"""Official Account (公众号) callbacks: what only an Official Account does.

A ``²`` timestamp on URL verification, every passive reply type in each message
mode, handler Responses sent as they are, the replay window and dedup across
accounts. What every platform shares is in tests/callback/.
"""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask, Response

from flask_wechat import (
    Article,
    ImageReply,
    Message,
    NewsReply,
    WeChat,
)
from flask_wechat.crypto import sign
from flask_wechat.testing import WeChatTestClient

from ..callback.cases import ARTICLES
from ..conftest import AES_KEY, TOKEN, AppFactory
from ..helpers import Counter

ModeClient = tuple[WeChat, WeChatTestClient]
Fields = dict[str, t.Any]


def assert_addressed_back(reply: Fields | None, client: WeChatTestClient) -> None:
    """The reply goes to the sender, from the account: ToUserName/FromUserName swapped."""
    assert reply is not None
    assert reply["ToUserName"] == client.user
    assert reply["FromUserName"] == client.original_id
    assert reply["CreateTime"].isdigit()


# == URL verification ===================================================================


def test_url_verification_with_a_superscript_timestamp_is_refused(
    plain_app: tuple[Flask, WeChat],
) -> None:
    app, _wechat = plain_app
    query = {"signature": sign(TOKEN, "²", "n"), "timestamp": "²", "nonce": "n", "echostr": "e"}
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/wechat", query_string=query)
    assert 400 <= response.status_code < 500


# == replies ============================================================================


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
def test_an_aes_account_answers_in_the_request_s_mode(
    aes_app: tuple[Flask, WeChat], mode: str
) -> None:
    app, wechat = aes_app
    wechat.on("text")(lambda message: ImageReply("media"))
    result = WeChatTestClient(app, mode=mode).text("which mode?")
    assert result.encrypted is (mode != "plain")
    assert result.reply is not None
    assert result.reply["Image"] == {"MediaId": "media"}
    if mode == "plain":
        assert b"<Encrypt>" not in result.response.get_data()


def test_reply_to_an_event_is_addressed_back(mode_client: ModeClient) -> None:
    wechat, client = mode_client
    wechat.on("subscribe")(lambda message: NewsReply([ARTICLES[0]]))
    result = client.event("subscribe")
    assert result.msg_type == "news"
    assert_addressed_back(result.reply, client)


def test_response_is_sent_as_is(mode_client: ModeClient) -> None:
    wechat, client = mode_client

    @wechat.on("text")
    def custom(message: Message) -> Response:
        return Response(
            "<xml>custom body</xml>", 202, {"X-Handler": "custom"}, mimetype="application/xml"
        )

    body, query = client.encode(client.message("text", Content="raw"))
    response = client.post(body, query)
    assert response.status_code == 202
    assert response.get_data() == b"<xml>custom body</xml>"
    assert response.headers["X-Handler"] == "custom"
    assert response.mimetype == "application/xml"


def test_news_reply_carries_at_most_eight_articles() -> None:
    with pytest.raises(ValueError, match="8"):
        NewsReply([*ARTICLES, Article("ninth")])
    with pytest.raises(ValueError, match="1"):
        NewsReply([])


# == rejections =========================================================================


@pytest.mark.parametrize("timestamp", [1, 1_000_000_000, 4_102_444_800], ids=str)
def test_replay_window_zero_disables_the_age_check(make_app: AppFactory, timestamp: int) -> None:
    app, wechat = make_app(WECHAT_REPLAY_WINDOW=0, WECHAT_ENCODING_AES_KEY=AES_KEY)
    wechat.on("text")(lambda message: "accepted")
    client = WeChatTestClient(app)
    assert client.send(client.message("text", Content="old"), timestamp=timestamp).content == (
        "accepted"
    )
    assert client.verify_url("echo", timestamp=timestamp).get_data(as_text=True) == "echo"


# == dedup ==============================================================================


def test_a_retried_response_gets_the_same_answer(plain_app: tuple[Flask, WeChat]) -> None:
    app, wechat = plain_app
    counter = Counter()

    @wechat.on("text")
    def custom(message: Message) -> Response:
        counter(message)
        return Response("<xml>as is</xml>", 202, {"X-Handler": "custom"}, mimetype="text/xml")

    client = WeChatTestClient(app)
    message = client.message("text", Content="respond")
    first = client.post(*client.encode(message))
    retry = client.post(*client.encode(message))
    assert len(counter.messages) == 1
    assert retry.get_data() == first.get_data() == b"<xml>as is</xml>"
    assert (retry.status_code, retry.headers.get("X-Handler")) == (202, "custom")


def test_the_same_msgid_on_two_accounts_is_two_messages(make_app: AppFactory) -> None:
    app, wechat = make_app(
        WECHAT_ACCOUNTS={"shop": {"token": "shop-token", "app_id": "wxshop0000000001"}}
    )
    counter = Counter()
    wechat.on("text")(counter)
    default, shop = WeChatTestClient(app), WeChatTestClient(app, "shop")
    message = default.message("text", Content="shared id")
    assert default.send(message).content == "call 1"
    assert shop.send(message).content == "call 2"
