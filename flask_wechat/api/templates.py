"""Template messages (模板消息): industry, the account's templates, and sending.

Template messages are the one way an Official Account may write to a user
outside the 48-hour customer-service window, for service notices only.
"""

from __future__ import annotations

import typing as t

from .base import APIModule

if t.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .base import JSON

#: Template data: ``{"keyword1": "value"}`` or ``{"keyword1": {"value": ..., "color": ...}}``.
TemplateData: t.TypeAlias = "Mapping[str, str | int | float | Mapping[str, t.Any]]"
_Templates: t.TypeAlias = "list[dict[str, t.Any]]"


def _data(data: TemplateData) -> dict[str, dict[str, t.Any]]:
    """WeChat's ``data`` object: every keyword as ``{"value": ..., ["color": ...]}``."""
    normalized: dict[str, dict[str, t.Any]] = {}
    for key, item in data.items():
        if isinstance(item, (str, int, float)):
            normalized[key] = {"value": str(item)}
        elif "value" in item:
            normalized[key] = dict(item)
        else:
            raise ValueError(f"template keyword {key!r} needs a 'value'")
    return normalized


class TemplateAPI(APIModule):
    """Manage template messages and send them."""

    def set_industry(self, id1: int | str, id2: int | str) -> JSON:
        """Set the account's primary and secondary industry (changeable once a month)."""
        body = {"industry_id1": str(id1), "industry_id2": str(id2)}
        return self.client.post("/cgi-bin/template/api_set_industry", body, idempotent=True)

    def get_industry(self) -> JSON:
        """The account's industries: ``primary_industry`` and ``secondary_industry``."""
        return self.client.get("/cgi-bin/template/get_industry")

    def add(self, template_id_short: str, keyword_names: Sequence[str] | None = None) -> str:
        """Add a template from the library (e.g. ``"TM00015"``) to the account.

        :param keyword_names: the keywords to use, for templates of the newer
            library that let the account choose them.
        :returns: the account's ``template_id``.
        """
        body: dict[str, t.Any] = {"template_id_short": template_id_short}
        if keyword_names is not None:
            body["keyword_name_list"] = list(keyword_names)
        data = self.client.post("/cgi-bin/template/api_add_template", body)
        return str(data["template_id"])

    def list(self) -> _Templates:
        """Every template the account has: ``template_id``, ``title``, ``content``, ...."""
        data = self.client.get("/cgi-bin/template/get_all_private_template")
        return [dict(item) for item in data.get("template_list") or ()]

    def delete(self, template_id: str) -> JSON:
        """Remove a template from the account."""
        return self.client.post(
            "/cgi-bin/template/del_private_template", {"template_id": template_id}
        )

    def send(
        self,
        open_id: str,
        template_id: str,
        data: TemplateData,
        url: str | None = None,
        miniprogram: Mapping[str, str] | None = None,
        client_msg_id: str | None = None,
    ) -> int:
        """Send a template message; returns WeChat's ``msgid``.

        :param url: the page the message opens.
        :param miniprogram: ``{"appid": ..., "pagepath": ...}``: open a mini
            program instead (WeChat falls back to ``url`` where it cannot).
        :param client_msg_id: WeChat refuses a second message with the same id
            (防重入), which also makes a retry after a timeout safe.
        """
        body: dict[str, t.Any] = {
            "touser": open_id,
            "template_id": template_id,
            "data": _data(data),
        }
        if url is not None:
            body["url"] = url
        if miniprogram is not None:
            body["miniprogram"] = dict(miniprogram)
        if client_msg_id is not None:
            body["client_msg_id"] = client_msg_id
        result = self.client.post(
            "/cgi-bin/message/template/send", body, idempotent=client_msg_id is not None
        )
        return int(result["msgid"])
