"""Mini Program (and Mini Game) server-side calls: login, subscribe messages, the
phone number, codes and links, content security."""

from __future__ import annotations

import typing as t

from .base import APIModule
from .subscribe import SubscribeData, subscribe_data

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from .base import JSON


class MiniProgramAPI(APIModule):
    """Calls specific to Mini Programs."""

    def code_to_session(self, js_code: str) -> JSON:
        """Trade the code from ``wx.login()`` for ``openid``, ``session_key`` (and
        ``unionid``). Keep the session_key on the server: it decrypts user data.

        Signed with the AppSecret, not the access_token; a code works once, so
        the call is not repeated after a timeout.
        """
        return self.client.trade_code("/sns/jscode2session", "js_code", js_code)

    # -- subscribe messages ---------------------------------------------------------

    def send_subscribe_message(
        self,
        open_id: str,
        template_id: str,
        data: SubscribeData,
        page: str | None = None,
        miniprogram_state: str | None = None,
        lang: str | None = None,
    ) -> JSON:
        """Send a subscribe message (``/cgi-bin/message/subscribe/send``).

        ``data`` maps keyword names to values (``{"thing1": "…"}``); each is sent
        as ``{"value": …}``. Each acceptance of the template by the user allows
        one message.

        :param page: the mini program page the message opens (with query).
        :param miniprogram_state: ``"developer"``, ``"trial"`` or ``"formal"``.
        :param lang: ``"zh_CN"``, ``"en_US"``, ``"zh_HK"`` or ``"zh_TW"``.
        :raises SubscriptionRefused: 43101, the user has not accepted the template.
        :raises InvalidArgument: 47003, a value does not fit its keyword type.

        https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-message-management/subscribe-message/sendMessage.html
        """
        body: dict[str, t.Any] = {
            "touser": open_id,
            "template_id": template_id,
            "data": subscribe_data(data),
        }
        optional = {"page": page, "miniprogram_state": miniprogram_state, "lang": lang}
        body.update({key: value for key, value in optional.items() if value is not None})
        return self.client.post("/cgi-bin/message/subscribe/send", body)

    # -- phone number -----------------------------------------------------------------

    def get_phone_number(self, code: str) -> JSON:
        """The phone number behind a ``getPhoneNumber`` button's ``code`` (once):
        WeChat's ``phone_info`` (``phoneNumber``, ``purePhoneNumber``,
        ``countryCode``, ``watermark``).

        :raises InvalidCode: 40029, the code is unknown or used.

        https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-info/phone-number/getPhoneNumber.html
        """
        data = self.client.post("/wxa/business/getuserphonenumber", {"code": code})
        return dict(data["phone_info"])

    # -- codes and links ----------------------------------------------------------------

    def get_unlimited_code(
        self,
        scene: str,
        page: str | None = None,
        *,
        check_path: bool | None = None,
        env_version: str | None = None,
        width: int | None = None,
        auto_color: bool | None = None,
        line_color: Mapping[str, int] | None = None,
        is_hyaline: bool | None = None,
    ) -> bytes:
        """A mini program code image (``getwxacodeunlimit``, no limit on how many):
        the image bytes. ``scene`` (1-32 visible characters) reaches the page as
        its ``scene`` query.

        https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/qrcode-link/qr-code/getUnlimitedQRCode.html
        """
        body: dict[str, t.Any] = {"scene": scene}
        optional = {
            "page": page,
            "check_path": check_path,
            "env_version": env_version,
            "width": width,
            "auto_color": auto_color,
            "line_color": dict(line_color) if line_color is not None else None,
            "is_hyaline": is_hyaline,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        response = self.client.request(
            "POST", "/wxa/getwxacodeunlimit", json=body, stream=True, idempotent=True
        )
        if isinstance(response, dict):  # pragma: no cover - errors raise in request()
            raise TypeError("expected an image")
        with response:
            return bytes(response.content)

    def generate_urllink(
        self,
        path: str | None = None,
        query: str | None = None,
        *,
        env_version: str | None = None,
        expire_type: int | None = None,
        expire_time: int | None = None,
        expire_interval: int | None = None,
    ) -> str:
        """A URL Link (``https://wxaurl.cn/…``) opening the mini program from
        outside WeChat (``/wxa/generate_urllink``).

        https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/qrcode-link/url-link/generateUrlLink.html
        """
        body = _present(
            path=path,
            query=query,
            env_version=env_version,
            expire_type=expire_type,
            expire_time=expire_time,
            expire_interval=expire_interval,
        )
        return str(self.client.post("/wxa/generate_urllink", body, idempotent=True)["url_link"])

    def generate_scheme(
        self,
        path: str | None = None,
        query: str | None = None,
        *,
        env_version: str | None = None,
        is_expire: bool | None = None,
        expire_type: int | None = None,
        expire_time: int | None = None,
        expire_interval: int | None = None,
    ) -> str:
        """A URL Scheme (``weixin://dl/business/?t=…``) (``/wxa/generatescheme``).

        https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/qrcode-link/url-scheme/generateScheme.html
        """
        body: dict[str, t.Any] = {}
        jump = _present(path=path, query=query, env_version=env_version)
        if jump:
            body["jump_wxa"] = jump
        body.update(
            _present(
                is_expire=is_expire,
                expire_type=expire_type,
                expire_time=expire_time,
                expire_interval=expire_interval,
            )
        )
        return str(self.client.post("/wxa/generatescheme", body, idempotent=True)["openlink"])

    # -- content security -----------------------------------------------------------

    def msg_sec_check(
        self,
        content: str,
        open_id: str,
        scene: int = 2,
        *,
        title: str | None = None,
        nickname: str | None = None,
        signature: str | None = None,
    ) -> JSON:
        """Check text (``/wxa/msg_sec_check``, version 2): the answer's ``result``
        (``suggest`` "pass"/"review"/"risky", ``label``) and ``detail``.

        :param scene: 1 profile, 2 comment, 3 forum, 4 social log.
        :param open_id: a user who opened the mini program within 2 hours.

        https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/sec-center/sec-check/msgSecCheck.html
        """
        body: dict[str, t.Any] = {
            "content": content,
            "version": 2,
            "scene": scene,
            "openid": open_id,
        }
        body.update(_present(title=title, nickname=nickname, signature=signature))
        return self.client.post("/wxa/msg_sec_check", body, idempotent=True)

    def media_check_async(
        self, media_url: str, media_type: int, open_id: str, scene: int = 2
    ) -> str:
        """Ask for an image (``media_type`` 2) or audio (1) check
        (``/wxa/media_check_async``, version 2); returns the ``trace_id`` that the
        ``wxa_media_check`` event carrying the result names.

        https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/sec-center/sec-check/mediaCheckAsync.html
        """
        body = {
            "media_url": media_url,
            "media_type": media_type,
            "version": 2,
            "scene": scene,
            "openid": open_id,
        }
        return str(self.client.post("/wxa/media_check_async", body)["trace_id"])


def _present(**values: t.Any) -> dict[str, t.Any]:
    """The arguments that were given."""
    return {key: value for key, value in values.items() if value is not None}
