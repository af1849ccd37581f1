"""Running an Official Account: API quotas and rids, the menu as the admin
console has it, the blacklist, and which customer-service staff are online.

https://developers.weixin.qq.com/doc/offiaccount/openApi/clear_quota.html,
https://developers.weixin.qq.com/doc/offiaccount/openApi/get_api_quota.html,
https://developers.weixin.qq.com/doc/offiaccount/openApi/get_rid_info.html,
https://developers.weixin.qq.com/doc/offiaccount/Custom_Menus/Getting_Custom_Menu_Configurations.html,
https://developers.weixin.qq.com/doc/offiaccount/User_Management/Manage_blacklist.html,
https://developers.weixin.qq.com/doc/offiaccount/Customer_Service/Customer_Service_Management.html
"""

from __future__ import annotations

import typing as t

from .base import APIModule

if t.TYPE_CHECKING:
    from collections.abc import Sequence

    from .base import JSON

#: The most openids one blacklist call takes.
MAX_BLACKLIST_BATCH = 20


class OperationsAPI(APIModule):
    """Quotas, the current menu configuration, the blacklist, online staff."""

    def clear_quota(self) -> JSON:
        """Reset the account's daily API call counts (after 45009
        :class:`~flask_wechat.errors.QuotaExceeded`); WeChat allows it 10 times a month."""
        return self.client.post("/cgi-bin/clear_quota", {"appid": self.client.account.app_id})

    def get_api_quota(self, cgi_path: str) -> JSON:
        """Today's quota of one API, e.g. ``"/cgi-bin/message/custom/send"`` (the
        path without host, with its leading ``/``): ``daily_limit``, ``used`` and
        ``remain``. ``/sns/`` APIs have none (76022)."""
        data = self.client.post(
            "/cgi-bin/openapi/quota/get", {"cgi_path": cgi_path}, idempotent=True
        )
        return dict(data.get("quota") or {})

    def get_rid_info(self, rid: str) -> JSON:
        """What WeChat kept of a failed call of this account, by the ``rid`` of its
        error (:attr:`APIError.rid <flask_wechat.errors.APIError.rid>`; kept 7 days):
        WeChat's ``request`` object — ``invoke_time``, ``cost_in_ms``,
        ``request_url``, ``request_body``, ``response_body``, ``client_ip``."""
        data = self.client.post("/cgi-bin/openapi/rid/get", {"rid": rid}, idempotent=True)
        return dict(data.get("request") or {})

    def get_current_selfmenu_info(self) -> JSON:
        """The menu in effect, whether made through the API or the admin console:
        ``is_menu_open`` and ``selfmenu_info`` (``button``, sub-menus under
        ``sub_button.list``)."""
        return self.client.get("/cgi-bin/get_current_selfmenu_info")

    def get_blacklist(self, begin_openid: str = "") -> JSON:
        """One page (10000) of blacklisted users after ``begin_openid``:
        ``total``, ``count``, ``data.openid``, ``next_openid``."""
        return self.client.post(
            "/cgi-bin/tags/members/getblacklist", {"begin_openid": begin_openid}, idempotent=True
        )

    def batch_blacklist(self, open_ids: Sequence[str]) -> JSON:
        """Blacklist up to 20 users (they can no longer write to the account)."""
        return self.client.post(
            "/cgi-bin/tags/members/batchblacklist", {"openid_list": _batch(open_ids)}
        )

    def batch_unblacklist(self, open_ids: Sequence[str]) -> JSON:
        """Take up to 20 users off the blacklist."""
        return self.client.post(
            "/cgi-bin/tags/members/batchunblacklist", {"openid_list": _batch(open_ids)}
        )

    def online_kf_list(self) -> list[dict[str, t.Any]]:
        """The customer-service staff online now (``getonlinekflist``):
        ``kf_account``, ``status`` (1 web), ``kf_id``, ``accepted_case``."""
        data = self.client.get("/cgi-bin/customservice/getonlinekflist")
        return [dict(item) for item in data.get("kf_online_list") or ()]


def _batch(open_ids: Sequence[str]) -> list[str]:
    if isinstance(open_ids, str):
        raise TypeError("open_ids must be a sequence of openids, not one string")
    listed = list(open_ids)
    if not 1 <= len(listed) <= MAX_BLACKLIST_BATCH:
        raise ValueError(f"give 1 to {MAX_BLACKLIST_BATCH} openids")
    return listed
