"""The sandbox: customer-service messages, the typing indicator and kf accounts."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator

import pytest
import requests

from flask_wechat.sandbox import (
    SANDBOX_APP_ID,
    SANDBOX_OPENID,
    Sandbox,
)

from .conftest import JSON, Api, Clock, no_rid

# -- customer service --------------------------------------------------------------------


def test_custom_messages(api: Api, sandbox: Sandbox) -> None:
    sandbox.user_wrote("oUser")
    sandbox.add_media("image", b"\xff\xd8 jpeg", "m.jpg", "image/jpeg", media_id="M")
    text = {"touser": "oUser", "msgtype": "text", "text": {"content": "你好 ]]> 😀"}}
    assert api.post("/cgi-bin/message/custom/send", text) == {"errcode": 0, "errmsg": "ok"}
    image = {"touser": "oUser", "msgtype": "image", "image": {"media_id": "M"}}
    assert api.post("/cgi-bin/message/custom/send", image)["errcode"] == 0
    assert sandbox.sent == [
        {**text, "kind": "custom", "app_id": SANDBOX_APP_ID},
        {**image, "kind": "custom", "app_id": SANDBOX_APP_ID},
    ]

    bad = [
        ({"msgtype": "text", "text": {"content": "x"}}, 40003),
        ({"touser": "oUser", "msgtype": "fax", "fax": {}}, 40008),
        ({"touser": "oUser", "msgtype": "image", "text": {"content": "x"}}, 40008),
        ({"touser": "oUser", "msgtype": "text", "text": {"content": ""}}, 44004),
        ([1, 2], 47001),
    ]
    for body, expected in bad:
        assert api.post("/cgi-bin/message/custom/send", body)["errcode"] == expected
    assert len(sandbox.sent) == 2


def test_typing(api: Api) -> None:
    typing = {"touser": SANDBOX_OPENID, "command": "Typing"}
    assert api.post("/cgi-bin/message/custom/typing", typing)["errcode"] == 0
    bad = api.post("/cgi-bin/message/custom/typing", {**typing, "command": "Dance"})
    assert bad["errcode"] == 40097
    stranger = api.post("/cgi-bin/message/custom/typing", {**typing, "touser": "oStranger"})
    assert stranger["errcode"] == 40003


def test_kf_accounts(api: Api) -> None:
    add = api.post("/customservice/kfaccount/add", {"kf_account": "kf1@gh_x", "nickname": "客服一"})
    assert add == {"errcode": 0, "errmsg": "ok"}
    again = api.post("/customservice/kfaccount/add", {"kf_account": "kf1@gh_x", "nickname": "x"})
    assert again["errcode"] == 65406
    invalid = api.post("/customservice/kfaccount/add", {"kf_account": "no-at", "nickname": "x"})
    assert invalid["errcode"] == 65404
    api.post("/customservice/kfaccount/update", {"kf_account": "kf1@gh_x", "nickname": "客服"})
    (kf,) = api.get("/cgi-bin/customservice/getkflist")["kf_list"]
    assert kf["kf_account"] == "kf1@gh_x"
    assert kf["kf_nick"] == "客服"
    assert kf["kf_id"] == "1001"

    upload = api.raw(
        "POST",
        "/customservice/kfaccount/uploadheadimg",
        params={"access_token": api.token(), "kf_account": "kf1@gh_x"},
        files={"media": ("head.jpg", b"\xff\xd8\xff\xe0 jpeg", "image/jpeg")},
    ).json()
    assert upload["errcode"] == 0
    assert api.get("/cgi-bin/customservice/getkflist")["kf_list"][0]["kf_headimgurl"]

    # WeChat documents kfaccount/del as a GET with the account in the query string
    posted = api.post("/customservice/kfaccount/del", {"kf_account": "kf1@gh_x"})
    assert no_rid(posted) == {"errcode": 43001, "errmsg": "require GET method"}
    assert api.get("/customservice/kfaccount/del", kf_account="kf1@gh_x")["errcode"] == 0
    assert api.get("/customservice/kfaccount/del", kf_account="kf1@gh_x")["errcode"] == 65401
    assert api.get("/cgi-bin/customservice/getkflist") == {"kf_list": []}


# -- what WeChat refuses ----------------------------------------------------------------

SEND = "/cgi-bin/message/custom/send"
JPEG = b"\xff\xd8\xff\xe0 jpeg \xff\xd9"


def send(
    api: Api, msgtype: str, content: JSON, touser: str = SANDBOX_OPENID, **extra: t.Any
) -> int:
    body = {"touser": touser, "msgtype": msgtype, msgtype: content, **extra}
    return int(api.post(SEND, body).get("errcode", 0))


def test_only_known_users_get_messages(api: Api, sandbox: Sandbox) -> None:
    assert send(api, "text", {"content": "hi"}, touser="oNeverWrote") == 40003
    sandbox.user_wrote("oNeverWrote")
    assert send(api, "text", {"content": "hi"}, touser="oNeverWrote") == 0
    assert "oNeverWrote" in sandbox.followers()
    assert [m["touser"] for m in sandbox.sent] == ["oNeverWrote"]


@pytest.mark.parametrize("msgtype", ["image", "voice", "video"])
def test_media_messages_need_uploaded_media(api: Api, sandbox: Sandbox, msgtype: str) -> None:
    assert send(api, msgtype, {}) == 40007
    assert send(api, msgtype, {"media_id": "never-uploaded"}) == 40007
    media_id = sandbox.add_media(msgtype, b"data")
    assert send(api, msgtype, {"media_id": media_id}) == 0
    assert len(sandbox.sent) == 1


def test_mpnews_needs_a_media_id(api: Api) -> None:
    assert send(api, "mpnews", {}) == 40007
    assert send(api, "mpnews", {"media_id": "PERMANENT"}) == 0


def test_music_needs_its_url_and_thumbnail(api: Api, sandbox: Sandbox) -> None:
    thumb = sandbox.add_media("thumb", JPEG)
    music = {"title": "歌", "musicurl": "http://m/1.mp3", "thumb_media_id": thumb}
    assert send(api, "music", {}) == 44004
    assert send(api, "music", {**music, "musicurl": ""}) == 44004
    assert send(api, "music", {k: v for k, v in music.items() if k != "thumb_media_id"}) == 40007
    assert send(api, "music", {**music, "thumb_media_id": "nope"}) == 40007
    assert send(api, "music", music) == 0
    assert len(sandbox.sent) == 1


def test_news_carries_exactly_one_article(api: Api, sandbox: Sandbox) -> None:
    article = {"title": "T", "description": "D", "url": "http://a/1", "picurl": "http://p/1"}
    assert send(api, "news", {"articles": [article, article]}) == 45008
    assert send(api, "news", {"articles": []}) == 44004
    assert send(api, "news", {"articles": [article]}) == 0
    assert len(sandbox.sent) == 1


def test_kf_account_must_exist(api: Api, sandbox: Sandbox) -> None:
    as_kf: dict[str, t.Any] = {"customservice": {"kf_account": "kf1@gh_x"}}
    assert send(api, "text", {"content": "hi"}, **as_kf) == 65401
    api.post("/customservice/kfaccount/add", {"kf_account": "kf1@gh_x", "nickname": "客服一"})
    assert send(api, "text", {"content": "hi"}, **as_kf) == 0
    assert sandbox.sent[0]["customservice"] == {"kf_account": "kf1@gh_x"}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed(clock: Clock, session: requests.Session) -> Iterator[Api]:
    # tokens that outlive the days the tests move the clock on
    with Sandbox(10**9, clock=clock) as running:
        yield Api(running, session)


def test_the_48_hour_window(timed: Api, clock: Clock) -> None:
    sandbox = timed.sandbox
    # the pre-registered follower interacted when the sandbox was made
    assert send(timed, "text", {"content": "1"}) == 0
    clock.now += 48 * 3600 + 1
    assert send(timed, "text", {"content": "2"}) == 45015
    sandbox.user_wrote(SANDBOX_OPENID)
    assert send(timed, "text", {"content": "3"}) == 0
    sandbox.set_last_interaction(SANDBOX_OPENID, clock.now - 48 * 3600 + 10)
    assert send(timed, "text", {"content": "4"}) == 0
    clock.now += 11
    assert send(timed, "text", {"content": "5"}) == 45015
    (fresh,) = sandbox.add_users(1)
    assert send(timed, "text", {"content": "6"}, touser=fresh) == 0
    assert [m["text"]["content"] for m in sandbox.sent] == ["1", "3", "4", "6"]
    with pytest.raises(KeyError, match="user_wrote"):
        sandbox.set_last_interaction("oStranger", clock.now)


MINI_APP_ID = "wxminiprogram00001"


def test_mini_programs_send_fewer_kinds(api: Api, sandbox: Sandbox) -> None:
    sandbox.register(MINI_APP_ID, "mini-secret", kind="miniprogram")
    token = api.token(MINI_APP_ID, "mini-secret")
    sandbox.user_wrote("oMiniUser", app_id=MINI_APP_ID)
    thumb = sandbox.add_media("image", JPEG)

    def mini_send(msgtype: str, content: JSON) -> int:
        body = {"touser": "oMiniUser", "msgtype": msgtype, msgtype: content}
        return int(api.post(SEND, body, access_token=token).get("errcode", 0))

    link = {"title": "T", "description": "D", "url": "https://a/1", "thumb_url": "https://p/1"}
    page = {"title": "T", "pagepath": "pages/index", "thumb_media_id": thumb}
    for msgtype in ("voice", "video", "music", "news", "mpnews", "wxcard", "msgmenu"):
        assert mini_send(msgtype, {"media_id": thumb}) == 40008
    assert mini_send("link", {**link, "thumb_url": ""}) == 40097
    assert mini_send("miniprogrampage", {**page, "pagepath": ""}) == 40097
    assert mini_send("miniprogrampage", {**page, "thumb_media_id": ""}) == 40007
    assert mini_send("text", {"content": "hi"}) == 0
    assert mini_send("image", {"media_id": thumb}) == 0
    assert mini_send("link", link) == 0
    assert mini_send("miniprogrampage", page) == 0
    assert [m["msgtype"] for m in sandbox.sent] == ["text", "image", "link", "miniprogrampage"]
    assert {m["app_id"] for m in sandbox.sent} == {MINI_APP_ID}
    # the mini program's user is not the Official Account's
    assert send(api, "text", {"content": "hi"}, touser="oMiniUser") == 40003
