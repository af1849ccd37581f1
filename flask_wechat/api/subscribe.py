"""Subscribe messages (订阅消息): templates from the public library, and sends.

Mini Programs send them with
:meth:`~flask_wechat.api.miniprogram.MiniProgramAPI.send_subscribe_message`;
Official Accounts with :meth:`SubscribeAPI.send` (``subscribe/bizsend``). Both
manage their templates with the ``wxaapi/newtmpl`` calls here. A user must have
accepted a template (``wx.requestSubscribeMessage`` or the Official Account's
subscribe button) for each message: one acceptance, one message; otherwise
WeChat answers 43101 (:class:`~flask_wechat.errors.SubscriptionRefused`).

Docs: https://developers.weixin.qq.com/doc/offiaccount/Subscription_Messages/api.html
and https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-message-management/subscribe-message/sendMessage.html
"""

from __future__ import annotations

import typing as t

from .base import APIModule

if t.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .base import JSON

#: Subscribe message data: keyword name -> value (``{"thing1": "…", "time2": "…"}``).
SubscribeData: t.TypeAlias = "Mapping[str, str | int | float | Mapping[str, t.Any]]"


def subscribe_data(data: SubscribeData) -> dict[str, dict[str, t.Any]]:
    """WeChat's ``data`` object: every keyword as ``{"value": "…"}``."""
    wrapped: dict[str, dict[str, t.Any]] = {}
    for key, item in data.items():
        if isinstance(item, (str, int, float)):
            wrapped[key] = {"value": str(item)}
        elif "value" in item:
            wrapped[key] = {"value": str(item["value"])}
        else:
            raise ValueError(f"subscribe message keyword {key!r} needs a value")
    return wrapped


class SubscribeAPI(APIModule):
    """Subscribe message templates (shared by Official Accounts and Mini Programs)
    and the Official Account's send (``subscribe/bizsend``)."""

    def get_category(self) -> list[dict[str, t.Any]]:
        """The account's categories (``id``, ``name``), which choose the library
        titles it may use (``wxaapi/newtmpl/getcategory``)."""
        data = self.client.get("/wxaapi/newtmpl/getcategory")
        return [dict(item) for item in data.get("data") or ()]

    def get_pub_template_titles(
        self, category_ids: Sequence[int | str], start: int = 0, limit: int = 30
    ) -> JSON:
        """Library templates of the categories: ``count`` and ``data`` (``tid``,
        ``title``, ``type``, ``categoryId``); ``limit`` at most 30."""
        params = {"ids": ",".join(str(i) for i in category_ids), "start": start, "limit": limit}
        return self.client.get("/wxaapi/newtmpl/getpubtemplatetitles", params)

    def get_pub_template_keywords(self, tid: int | str) -> list[dict[str, t.Any]]:
        """The keywords of library template ``tid``: ``kid``, ``name``, ``example``,
        ``rule`` (the value type: ``thing``, ``number``, ``time``, ...)."""
        data = self.client.get("/wxaapi/newtmpl/getpubtemplatekeywords", {"tid": str(tid)})
        return [dict(item) for item in data.get("data") or ()]

    def add_template(
        self, tid: int | str, kid_list: Sequence[int], scene_desc: str | None = None
    ) -> str:
        """Add library template ``tid`` with the keywords ``kid_list`` (in that
        order, 2 to 5) to the account; returns its ``priTmplId``."""
        body: dict[str, t.Any] = {"tid": str(tid), "kidList": [int(k) for k in kid_list]}
        if scene_desc is not None:
            body["sceneDesc"] = scene_desc
        data = self.client.post("/wxaapi/newtmpl/addtemplate", body)
        return str(data["priTmplId"])

    def delete_template(self, template_id: str) -> JSON:
        """Remove the account's template ``template_id`` (its ``priTmplId``)."""
        return self.client.post("/wxaapi/newtmpl/deltemplate", {"priTmplId": template_id})

    def list_templates(self) -> list[dict[str, t.Any]]:
        """The account's templates: ``priTmplId``, ``title``, ``content``,
        ``example``, ``type``."""
        data = self.client.get("/wxaapi/newtmpl/gettemplate")
        return [dict(item) for item in data.get("data") or ()]

    def send(
        self,
        open_id: str,
        template_id: str,
        data: SubscribeData,
        page: str | None = None,
        miniprogram: Mapping[str, str] | None = None,
    ) -> JSON:
        """Send an Official Account subscribe notice (``subscribe/bizsend``).

        :param page: the web page the notice opens.
        :param miniprogram: ``{"appid": ..., "pagepath": ...}``: open a mini
            program instead.
        :raises SubscriptionRefused: 43101, the user has not accepted the template.
        :raises InvalidArgument: 47003, a value does not fit its keyword.
        """
        body: dict[str, t.Any] = {
            "touser": open_id,
            "template_id": template_id,
            "data": subscribe_data(data),
        }
        if page is not None:
            body["page"] = page
        if miniprogram is not None:
            body["miniprogram"] = dict(miniprogram)
        return self.client.post("/cgi-bin/message/subscribe/bizsend", body)
