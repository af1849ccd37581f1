"""Customer-service messages (客服消息) and customer-service accounts.

A customer-service message reaches a user who wrote to the account (or clicked a
menu, subscribed, scanned...) within the last 48 hours; past that WeChat answers
45015 (:class:`~flask_wechat.errors.ResponseWindowClosed`).
"""

from __future__ import annotations

import typing as t

from ..replies import Article
from .base import APIModule
from .media import read_upload

if t.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ..replies import Reply
    from .base import JSON
    from .media import FileInput

#: An article given as a :class:`~flask_wechat.replies.Article` or as WeChat's own dict.
ArticleInput: t.TypeAlias = "Article | Mapping[str, t.Any]"

_SEND = "/cgi-bin/message/custom/send"


def _article(article: ArticleInput) -> dict[str, t.Any]:
    if isinstance(article, Article):
        fields = {
            "title": article.title,
            "description": article.description,
            "url": article.url,
            "picurl": article.pic_url,
        }
        return {k: v for k, v in fields.items() if v is not None}
    return dict(article)


def _present(**fields: t.Any) -> dict[str, t.Any]:
    return {k: v for k, v in fields.items() if v is not None}


class CustomerServiceAPI(APIModule):
    """Send customer-service messages and manage the kf accounts that send them."""

    # -- messages -----------------------------------------------------------------

    def send(
        self,
        open_id: str,
        msgtype: str,
        body: Mapping[str, t.Any],
        kf_account: str | None = None,
    ) -> JSON:
        """Send a message of any ``msgtype``; ``body`` is the object under that key.

        :param kf_account: send as this customer-service account
            (``customservice.kf_account``) instead of the account itself.
        """
        message: dict[str, t.Any] = {"touser": open_id, "msgtype": msgtype, msgtype: dict(body)}
        if kf_account is not None:
            message["customservice"] = {"kf_account": kf_account}
        return self.client.post(_SEND, message)

    def send_text(self, open_id: str, content: str, kf_account: str | None = None) -> JSON:
        """Send text (it may carry ``<a href>`` links, also mini-program links)."""
        return self.send(open_id, "text", {"content": content}, kf_account)

    def send_image(self, open_id: str, media_id: str, kf_account: str | None = None) -> JSON:
        """Send an uploaded image."""
        return self.send(open_id, "image", {"media_id": media_id}, kf_account)

    def send_voice(self, open_id: str, media_id: str, kf_account: str | None = None) -> JSON:
        """Send uploaded voice."""
        return self.send(open_id, "voice", {"media_id": media_id}, kf_account)

    def send_video(
        self,
        open_id: str,
        media_id: str,
        thumb_media_id: str | None = None,
        title: str | None = None,
        description: str | None = None,
        kf_account: str | None = None,
    ) -> JSON:
        """Send an uploaded video, optionally with a thumbnail, title and description."""
        video = _present(
            media_id=media_id, thumb_media_id=thumb_media_id, title=title, description=description
        )
        return self.send(open_id, "video", video, kf_account)

    def send_music(
        self,
        open_id: str,
        title: str | None,
        description: str | None,
        music_url: str,
        hq_music_url: str | None,
        thumb_media_id: str,
        kf_account: str | None = None,
    ) -> JSON:
        """Send a music card (arguments in the order of
        :class:`~flask_wechat.replies.MusicReply`); WeChat requires the thumbnail's
        ``thumb_media_id``. Without ``hq_music_url`` the plain URL serves both."""
        music = _present(
            title=title,
            description=description,
            musicurl=music_url,
            hqmusicurl=hq_music_url if hq_music_url is not None else music_url,
            thumb_media_id=thumb_media_id,
        )
        return self.send(open_id, "music", music, kf_account)

    def send_news(
        self,
        open_id: str,
        articles: ArticleInput | Sequence[ArticleInput],
        kf_account: str | None = None,
    ) -> JSON:
        """Send a news message (外链图文) with exactly one article.

        WeChat has limited customer-service news to a single article; passing
        more is refused here rather than silently cut.
        """
        if isinstance(articles, (list, tuple)):
            items: list[ArticleInput] = list(articles)
        else:
            items = [t.cast("ArticleInput", articles)]
        if len(items) != 1:
            raise ValueError("a customer-service news message carries exactly one article")
        return self.send(open_id, "news", {"articles": [_article(items[0])]}, kf_account)

    def send_mpnews(self, open_id: str, media_id: str, kf_account: str | None = None) -> JSON:
        """Send a news message (图文) stored as permanent material, by ``media_id``."""
        return self.send(open_id, "mpnews", {"media_id": media_id}, kf_account)

    def send_wxcard(self, open_id: str, card_id: str, kf_account: str | None = None) -> JSON:
        """Send a card or coupon (卡券)."""
        return self.send(open_id, "wxcard", {"card_id": card_id}, kf_account)

    def send_miniprogram_page(
        self,
        open_id: str,
        title: str,
        appid: str,
        pagepath: str,
        thumb_media_id: str,
        kf_account: str | None = None,
    ) -> JSON:
        """Send a mini-program card; the mini program must be linked to the account."""
        page = {
            "title": title,
            "appid": appid,
            "pagepath": pagepath,
            "thumb_media_id": thumb_media_id,
        }
        return self.send(open_id, "miniprogrampage", page, kf_account)

    def send_reply(self, open_id: str, reply: Reply, kf_account: str | None = None) -> JSON:
        """Send a reply object (what a handler returns) as a customer-service message.

        :raises TypeError: the reply has no customer-service form (a transfer).
        """
        message = reply.to_customer_service(open_id)
        if kf_account is not None:
            message["customservice"] = {"kf_account": kf_account}
        return self.client.post(_SEND, message)

    def typing(self, open_id: str, on: bool = True) -> JSON:
        """Show (or stop showing) "正在输入" to the user."""
        command = "Typing" if on else "CancelTyping"
        return self.client.post(
            "/cgi-bin/message/custom/typing",
            {"touser": open_id, "command": command},
            idempotent=True,
        )

    # -- kf accounts --------------------------------------------------------------

    def add_account(self, kf_account: str, nickname: str, password: str | None = None) -> JSON:
        """Create a customer-service account (``name@wechat_id``)."""
        body = _present(kf_account=kf_account, nickname=nickname, password=password)
        return self.client.post("/customservice/kfaccount/add", body)

    def update_account(self, kf_account: str, nickname: str, password: str | None = None) -> JSON:
        """Change a customer-service account's nickname (and password)."""
        body = _present(kf_account=kf_account, nickname=nickname, password=password)
        return self.client.post("/customservice/kfaccount/update", body, idempotent=True)

    def delete_account(self, kf_account: str) -> JSON:
        """Delete a customer-service account (WeChat documents a GET with the
        account in the query string)."""
        return self.client.get("/customservice/kfaccount/del", {"kf_account": kf_account})

    def list_accounts(self) -> list[dict[str, t.Any]]:
        """Every customer-service account: ``kf_account``, ``kf_nick``, ``kf_id``, ...."""
        data = self.client.get("/cgi-bin/customservice/getkflist")
        return list(data.get("kf_list") or [])

    def upload_avatar(self, kf_account: str, file: FileInput) -> JSON:
        """Set an account's avatar (WeChat wants a JPEG, ideally 640×640)."""
        name, content, kind = read_upload(file, default_name="avatar.jpg")
        return t.cast(
            "JSON",
            self.client.request(
                "POST",
                "/customservice/kfaccount/uploadheadimg",
                params={"kf_account": kf_account},
                files={"media": (name, content, kind)},
                idempotent=True,
            ),
        )
