"""Customer-service messages and kf accounts against the sandbox."""

from __future__ import annotations

import pathlib
import typing as t

import pytest

from flask_wechat import TextReply
from flask_wechat.errors import APIError, ResponseWindowClosed
from flask_wechat.replies import Article, NewsReply, TransferCustomerServiceReply

from .conftest import posted

if t.TYPE_CHECKING:
    from flask_wechat.api import Client
    from flask_wechat.sandbox import Sandbox

USER = "o-user-1"


@pytest.fixture(autouse=True)
def user_and_media(sandbox: Sandbox) -> None:
    """USER has just written to the account, and the media the sends name exist."""
    sandbox.user_wrote(USER)
    for media_id, type_ in (("MEDIA", "image"), ("VIDEO", "video"), ("THUMB", "thumb")):
        sandbox.add_media(type_, b"\xff\xd8sandbox\xff\xd9", media_id=media_id)


def only_sent(sandbox: Sandbox) -> dict[str, t.Any]:
    assert len(sandbox.sent) == 1
    message = sandbox.sent[0]
    assert message["kind"] == "custom"
    assert message["touser"] == USER
    return message


def test_send_text(client: Client, sandbox: Sandbox) -> None:
    client.customer_service.send_text(USER, "你好 ]]> 🎉")
    message = only_sent(sandbox)
    assert message["msgtype"] == "text"
    assert message["text"] == {"content": "你好 ]]> 🎉"}
    assert "customservice" not in message


def test_send_as_kf_account(client: Client, sandbox: Sandbox) -> None:
    client.customer_service.add_account("kf1@test", "客服一号")
    client.customer_service.send_text(USER, "hi", kf_account="kf1@test")
    assert only_sent(sandbox)["customservice"] == {"kf_account": "kf1@test"}


@pytest.mark.parametrize("msgtype", ["image", "voice"])
def test_send_media(client: Client, sandbox: Sandbox, msgtype: str) -> None:
    getattr(client.customer_service, f"send_{msgtype}")(USER, "MEDIA")
    message = only_sent(sandbox)
    assert message["msgtype"] == msgtype
    assert message[msgtype] == {"media_id": "MEDIA"}


def test_send_video_leaves_out_missing_fields(client: Client, sandbox: Sandbox) -> None:
    client.customer_service.send_video(USER, "VIDEO", title="T")
    assert only_sent(sandbox)["video"] == {"media_id": "VIDEO", "title": "T"}


def test_send_music(client: Client, sandbox: Sandbox) -> None:
    client.customer_service.send_music(USER, "Song", None, "http://m/1.mp3", None, "THUMB")
    assert only_sent(sandbox)["music"] == {
        "title": "Song",
        "musicurl": "http://m/1.mp3",
        "hqmusicurl": "http://m/1.mp3",
        "thumb_media_id": "THUMB",
    }


def test_send_news_one_article(client: Client, sandbox: Sandbox) -> None:
    article = Article("Title", "Desc", pic_url="http://p/1.jpg", url="http://a/1")
    client.customer_service.send_news(USER, article)
    assert only_sent(sandbox)["news"] == {
        "articles": [
            {
                "title": "Title",
                "description": "Desc",
                "url": "http://a/1",
                "picurl": "http://p/1.jpg",
            }
        ]
    }


def test_send_news_refuses_several_articles(client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        client.customer_service.send_news(USER, [Article("a"), Article("b")])
    assert sandbox.sent == []


def test_send_other_types(client: Client, sandbox: Sandbox) -> None:
    cs = client.customer_service
    cs.send_mpnews(USER, "MPNEWS")
    cs.send_wxcard(USER, "CARD")
    cs.send_miniprogram_page(USER, "Title", "wxappid", "pages/index", "THUMB")
    cs.send(USER, "msgmenu", {"head_content": "?", "list": [], "tail_content": ""})
    assert [m["msgtype"] for m in sandbox.sent] == [
        "mpnews",
        "wxcard",
        "miniprogrampage",
        "msgmenu",
    ]
    assert sandbox.sent[0]["mpnews"] == {"media_id": "MPNEWS"}
    assert sandbox.sent[1]["wxcard"] == {"card_id": "CARD"}
    assert sandbox.sent[2]["miniprogrampage"] == {
        "title": "Title",
        "appid": "wxappid",
        "pagepath": "pages/index",
        "thumb_media_id": "THUMB",
    }


def test_send_reply(client: Client, sandbox: Sandbox) -> None:
    client.customer_service.send_reply(USER, TextReply(content="from a handler"))
    client.customer_service.send_reply(USER, NewsReply([Article("one")]))
    with pytest.raises(ValueError, match="exactly one article"):
        client.customer_service.send_reply(USER, NewsReply([Article("one"), Article("two")]))
    assert sandbox.sent[0]["text"] == {"content": "from a handler"}
    assert sandbox.sent[1]["news"] == {"articles": [{"title": "one"}]}
    assert len(sandbox.sent) == 2


def test_send_reply_without_customer_service_form(client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(TypeError):
        client.customer_service.send_reply(USER, TransferCustomerServiceReply())
    assert sandbox.sent == []


def test_window_closed_is_typed(client: Client, sandbox: Sandbox) -> None:
    sandbox.fail("/cgi-bin/message/custom/send", 45015)
    with pytest.raises(ResponseWindowClosed):
        client.customer_service.send_text(USER, "too late")
    assert sandbox.sent == []


def test_typing(client: Client, sandbox: Sandbox) -> None:
    client.customer_service.typing(USER)
    client.customer_service.typing(USER, on=False)
    assert sandbox.count("/cgi-bin/message/custom/typing") == 2
    assert posted(sandbox, "/cgi-bin/message/custom/typing") == [
        {"touser": USER, "command": "Typing"},
        {"touser": USER, "command": "CancelTyping"},
    ]


def test_kf_accounts(client: Client, sandbox: Sandbox) -> None:
    cs = client.customer_service
    cs.add_account("kf1@test", "客服一", password="md5")
    cs.add_account("kf2@test", "客服二")
    cs.update_account("kf2@test", "客服二号")
    accounts = {a["kf_account"]: a for a in cs.list_accounts()}
    assert set(accounts) == {"kf1@test", "kf2@test"}
    assert accounts["kf2@test"]["kf_nick"] == "客服二号"
    cs.delete_account("kf1@test")
    assert [a["kf_account"] for a in cs.list_accounts()] == ["kf2@test"]
    # a GET with the account in the query string, as WeChat documents it
    (call,) = [c for c in sandbox.calls if c.path == "/customservice/kfaccount/del"]
    assert (call.method, call.params["kf_account"], call.json) == ("GET", "kf1@test", None)


def test_delete_unknown_kf_account(client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(APIError):
        client.customer_service.delete_account("nobody@test")


@pytest.mark.parametrize("form", ["bytes", "path", "file"])
def test_upload_avatar(client: Client, sandbox: Sandbox, tmp_path: pathlib.Path, form: str) -> None:
    client.customer_service.add_account("kf1@test", "客服一")
    jpeg = b"\xff\xd8\xff\xe0fake-jpeg"
    path = tmp_path / "face.jpg"
    path.write_bytes(jpeg)
    if form == "file":
        with path.open("rb") as handle:
            client.customer_service.upload_avatar("kf1@test", handle)
    else:
        client.customer_service.upload_avatar("kf1@test", jpeg if form == "bytes" else path)
    calls = [c for c in sandbox.calls if c.path == "/customservice/kfaccount/uploadheadimg"]
    assert [c.params["kf_account"] for c in calls] == ["kf1@test"]
    (account,) = client.customer_service.list_accounts()
    assert account["kf_headimgurl"]


def test_upload_avatar_refused(client: Client, sandbox: Sandbox, tmp_path: pathlib.Path) -> None:
    client.customer_service.add_account("kf1@test", "客服一")
    png = tmp_path / "face.png"
    png.write_bytes(b"\x89PNG\r\n")
    with pytest.raises(APIError) as info:  # WeChat takes JPEG avatars only
        client.customer_service.upload_avatar("kf1@test", png)
    assert info.value.errcode == 40113
