"""Passive-reply XML and customer-service payloads (flask_wechat.replies)."""

from __future__ import annotations

import dataclasses
import typing as t

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_wechat import (
    Article,
    ImageReply,
    MusicReply,
    NewsReply,
    Reply,
    TextReply,
    TransferCustomerServiceReply,
    VideoReply,
    VoiceReply,
)
from flask_wechat.parsing import parse_xml

USER = "oUser_openid_0001"
ACCOUNT = "gh_7f083739789a"
CREATED = 1700000000


def _rendered(reply: Reply) -> dict[str, t.Any]:
    fields = parse_xml(reply.to_xml(USER, ACCOUNT, CREATED).encode())
    assert fields["ToUserName"] == USER
    assert fields["FromUserName"] == ACCOUNT
    assert fields["CreateTime"] == str(CREATED)
    return fields


def _article(n: int) -> Article:
    return Article(f"title{n}", f"description{n}", f"https://img/{n}.jpg", f"https://a/{n}")


# -- passive reply XML ------------------------------------------------------------------


def test_text_reply_exact_xml() -> None:
    assert TextReply(content="你好").to_xml(USER, ACCOUNT, CREATED) == (
        "<xml>"
        f"<ToUserName><![CDATA[{USER}]]></ToUserName>"
        f"<FromUserName><![CDATA[{ACCOUNT}]]></FromUserName>"
        f"<CreateTime>{CREATED}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA[你好]]></Content>"
        "</xml>"
    )


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (TextReply("hello"), {"MsgType": "text", "Content": "hello"}),
        (ImageReply("img_media"), {"MsgType": "image", "Image": {"MediaId": "img_media"}}),
        (VoiceReply(media_id="vo_media"), {"MsgType": "voice", "Voice": {"MediaId": "vo_media"}}),
        (
            VideoReply("vid_media", "a title", "a description"),
            {
                "MsgType": "video",
                "Video": {
                    "MediaId": "vid_media",
                    "Title": "a title",
                    "Description": "a description",
                },
            },
        ),
        (VideoReply("vid_media"), {"MsgType": "video", "Video": {"MediaId": "vid_media"}}),
        (
            MusicReply("TITLE", "DESCRIPTION", "http://m/music.mp3", "http://m/hq.mp3", "thumb"),
            {
                "MsgType": "music",
                "Music": {
                    "Title": "TITLE",
                    "Description": "DESCRIPTION",
                    "MusicUrl": "http://m/music.mp3",
                    "HQMusicUrl": "http://m/hq.mp3",
                    "ThumbMediaId": "thumb",
                },
            },
        ),
        (
            MusicReply(None, None, None, None, thumb_media_id="thumb"),
            {"MsgType": "music", "Music": {"ThumbMediaId": "thumb"}},
        ),
        (
            NewsReply([_article(1), _article(2)]),
            {
                "MsgType": "news",
                "ArticleCount": "2",
                "Articles": [
                    {
                        "Title": "title1",
                        "Description": "description1",
                        "PicUrl": "https://img/1.jpg",
                        "Url": "https://a/1",
                    },
                    {
                        "Title": "title2",
                        "Description": "description2",
                        "PicUrl": "https://img/2.jpg",
                        "Url": "https://a/2",
                    },
                ],
            },
        ),
        (
            NewsReply(articles=[Article("only a title")]),
            {"MsgType": "news", "ArticleCount": "1", "Articles": [{"Title": "only a title"}]},
        ),
        (TransferCustomerServiceReply(), {"MsgType": "transfer_customer_service"}),
        (
            TransferCustomerServiceReply(kf_account="test1@test"),
            {"MsgType": "transfer_customer_service", "TransInfo": {"KfAccount": "test1@test"}},
        ),
    ],
    ids=[
        "text",
        "image",
        "voice",
        "video",
        "video-bare",
        "music",
        "music-thumb-only",
        "news",
        "news-title-only",
        "transfer",
        "transfer-kf",
    ],
)
def test_reply_fields_and_nesting(reply: Reply, expected: dict[str, t.Any]) -> None:
    fields = _rendered(reply)
    del fields["ToUserName"], fields["FromUserName"], fields["CreateTime"]
    assert fields == expected


def test_envelope_comes_first_in_wechat_order() -> None:
    xml = ImageReply("m").to_xml(USER, ACCOUNT, CREATED)
    positions = [
        xml.index(f"<{tag}>")
        for tag in ("ToUserName", "FromUserName", "CreateTime", "MsgType", "Image")
    ]
    assert positions == sorted(positions)
    assert f"<CreateTime>{CREATED}</CreateTime>" in xml  # a bare number, not CDATA


def test_news_articles_keep_their_order() -> None:
    articles = [_article(n) for n in range(8)]
    fields = _rendered(NewsReply(articles))
    assert fields["ArticleCount"] == "8"
    assert [item["Title"] for item in fields["Articles"]] == [f"title{n}" for n in range(8)]


@pytest.mark.parametrize("count", [0, 9, 20])
def test_news_reply_needs_one_to_eight_articles(count: int) -> None:
    with pytest.raises(ValueError, match="8"):
        NewsReply([_article(n) for n in range(count)])


def test_news_reply_holds_an_immutable_copy() -> None:
    articles = [_article(1)]
    reply = NewsReply(articles)
    articles.append(_article(2))
    assert reply.articles == (_article(1),)
    assert _rendered(reply)["ArticleCount"] == "1"


def test_replies_are_frozen() -> None:
    reply = TextReply("x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        reply.content = "y"  # type: ignore[misc]


def test_create_time_defaults_to_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("flask_wechat.replies.time.time", lambda: 1712345678.75)
    fields = parse_xml(TextReply("x").to_xml(USER, ACCOUNT).encode())
    assert fields["CreateTime"] == "1712345678"


def test_envelope_names_survive_odd_characters() -> None:
    fields = parse_xml(TextReply("x").to_xml("o]]>user", "gh_<&>", 1).encode())
    assert fields["ToUserName"] == "o]]>user"
    assert fields["FromUserName"] == "gh_<&>"


SURVIVING_TEXTS = [
    "]]>",
    "before ]]> after",
    "]]]]>>",
    "<![CDATA[x]]>",
    "😀🎉👍🏽",
    "中文回复，谢谢！",
    "\x01\x08\x0b\x0c\x1f",
    "\x00",
    "tab\tand\nnewline",
    "a & b < c > d \" e ' f",
    "mixed ]]> 中文 😀 \x08 end",
]


@pytest.mark.parametrize("text", SURVIVING_TEXTS)
def test_text_survives_in_every_reply(text: str) -> None:
    assert _rendered(TextReply(text))["Content"] == text
    video = _rendered(VideoReply(text, title=text, description=text))["Video"]
    assert video == {"MediaId": text, "Title": text, "Description": text}
    music = _rendered(MusicReply(text, text, text, text, text))["Music"]
    assert set(music.values()) == {text}
    article = _rendered(NewsReply([Article(text, text, text, text)]))["Articles"][0]
    assert article == {"Title": text, "Description": text, "PicUrl": text, "Url": text}
    transfer = _rendered(TransferCustomerServiceReply(text))
    assert transfer["TransInfo"] == {"KfAccount": text}


# -- customer-service payloads ------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            TextReply("Hello World ]]> 😀"),
            {"touser": USER, "msgtype": "text", "text": {"content": "Hello World ]]> 😀"}},
        ),
        (
            ImageReply("MEDIA_ID"),
            {"touser": USER, "msgtype": "image", "image": {"media_id": "MEDIA_ID"}},
        ),
        (
            VoiceReply("MEDIA_ID"),
            {"touser": USER, "msgtype": "voice", "voice": {"media_id": "MEDIA_ID"}},
        ),
        (
            VideoReply("MEDIA_ID", "TITLE", "DESCRIPTION"),
            {
                "touser": USER,
                "msgtype": "video",
                "video": {"media_id": "MEDIA_ID", "title": "TITLE", "description": "DESCRIPTION"},
            },
        ),
        (
            VideoReply("MEDIA_ID"),
            {"touser": USER, "msgtype": "video", "video": {"media_id": "MEDIA_ID"}},
        ),
        (
            MusicReply("MUSIC_TITLE", "MUSIC_DESCRIPTION", "MUSIC_URL", "HQ_MUSIC_URL", "THUMB"),
            {
                "touser": USER,
                "msgtype": "music",
                "music": {
                    "title": "MUSIC_TITLE",
                    "description": "MUSIC_DESCRIPTION",
                    "musicurl": "MUSIC_URL",
                    "hqmusicurl": "HQ_MUSIC_URL",
                    "thumb_media_id": "THUMB",
                },
            },
        ),
        (
            MusicReply(None, None, "MUSIC_URL", None, "THUMB"),
            {
                "touser": USER,
                "msgtype": "music",
                "music": {"musicurl": "MUSIC_URL", "thumb_media_id": "THUMB"},
            },
        ),
        (
            NewsReply([Article("Happy Day", "Is Really A Happy Day", "PIC_URL", "URL")]),
            {
                "touser": USER,
                "msgtype": "news",
                "news": {
                    "articles": [
                        {
                            "title": "Happy Day",
                            "description": "Is Really A Happy Day",
                            "url": "URL",
                            "picurl": "PIC_URL",
                        }
                    ]
                },
            },
        ),
        (
            NewsReply([Article("Title only")]),
            {"touser": USER, "msgtype": "news", "news": {"articles": [{"title": "Title only"}]}},
        ),
    ],
    ids=[
        "text",
        "image",
        "voice",
        "video",
        "video-bare",
        "music",
        "music-partial",
        "news",
        "news-title-only",
    ],
)
def test_customer_service_payload(reply: Reply, expected: dict[str, t.Any]) -> None:
    assert reply.to_customer_service(USER) == expected


def test_customer_service_news_carries_exactly_one_article() -> None:
    payload = NewsReply([_article(1)]).to_customer_service(USER)
    assert payload["msgtype"] == "news"
    assert [a["title"] for a in payload["news"]["articles"]] == ["title1"]
    # WeChat refuses more (45008); one rule everywhere: refuse, never cut silently.
    with pytest.raises(ValueError, match="exactly one article"):
        NewsReply([_article(1), _article(2), _article(3)]).to_customer_service(USER)


def test_transfer_has_no_customer_service_form() -> None:
    with pytest.raises(TypeError):
        TransferCustomerServiceReply().to_customer_service(USER)
    with pytest.raises(TypeError):
        TransferCustomerServiceReply("kf@test").to_customer_service(USER)


@settings(max_examples=100, derandomize=True, deadline=None)
@given(st.text(max_size=40), st.text(max_size=10), st.text(max_size=10))
def test_text_reply_xml_is_the_generic_xml(content: str, to_user: str, from_user: str) -> None:
    reply = TextReply(content)
    assert reply.to_xml(to_user, from_user, 7) == Reply.to_xml(reply, to_user, from_user, 7)
