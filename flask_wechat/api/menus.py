"""Custom menus (自定义菜单) and conditional menus (个性化菜单).

WeChat allows 3 top-level buttons with up to 5 sub-buttons each; it checks the
structure itself (40016-40018...), so menus are passed through as given.
"""

from __future__ import annotations

import typing as t

from .base import APIModule

if t.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .base import JSON

#: A menu: ``{"button": [...]}`` or just the list of buttons.
MenuInput: t.TypeAlias = "Mapping[str, t.Any] | Sequence[Mapping[str, t.Any]]"


def _buttons(menu: MenuInput) -> list[t.Any]:
    if isinstance(menu, (list, tuple)):
        return list(menu)
    if "button" not in menu:
        raise ValueError('a menu is {"button": [...]} or the list of buttons')
    return list(t.cast("Mapping[str, t.Any]", menu)["button"])


class MenuAPI(APIModule):
    """Create, read and delete the account's menus."""

    def menu_params(self) -> dict[str, t.Any]:
        """Query parameters every menu call carries: the platform's (WeCom names the
        app whose menu it is, ``agentid``)."""
        return self.client.profile.menu_params(self.client.account)

    def create(self, menu: MenuInput) -> JSON:
        """Replace the default menu (users see it within about 5 minutes)."""
        return self.client.post(
            "/cgi-bin/menu/create",
            {"button": _buttons(menu)},
            params=self.menu_params(),
            idempotent=True,
        )

    def get(self) -> JSON:
        """The menus: ``menu`` (the default one) and ``conditionalmenu`` if any."""
        return self.client.get("/cgi-bin/menu/get", self.menu_params())

    def delete(self) -> JSON:
        """Delete every menu, the conditional ones included."""
        return self.client.get("/cgi-bin/menu/delete", self.menu_params())

    def add_conditional(self, menu: MenuInput, matchrule: Mapping[str, t.Any]) -> str:
        """Add a conditional menu shown to users matching ``matchrule`` (``tag_id``,
        ``sex``, ``client_platform_type``, ``language``, ...); returns its ``menuid``.

        A default menu must exist first.
        """
        body = {"button": _buttons(menu), "matchrule": dict(matchrule)}
        data = self.client.post("/cgi-bin/menu/addconditional", body)
        return str(data["menuid"])

    def delete_conditional(self, menuid: str | int) -> JSON:
        """Delete one conditional menu."""
        return self.client.post("/cgi-bin/menu/delconditional", {"menuid": str(menuid)})

    def try_match(self, user_id: str) -> JSON:
        """The menu a user would see; ``user_id`` is an OpenID or a WeChat ID."""
        return self.client.post("/cgi-bin/menu/trymatch", {"user_id": user_id}, idempotent=True)
