"""The sandbox's operations endpoints, over raw HTTP."""

from __future__ import annotations

import typing as t

from flask_wechat.sandbox import SANDBOX_APP_ID

from .conftest import errcode

if t.TYPE_CHECKING:
    from .conftest import Api


def test_clear_quota_is_for_ones_own_appid(api: Api) -> None:
    assert errcode(api.post("/cgi-bin/clear_quota", {"appid": "wxsomeoneelse"})) == 40013
    assert errcode(api.post("/cgi-bin/clear_quota", {"appid": SANDBOX_APP_ID})) == 0
    assert errcode(api.post("/cgi-bin/clear_quota", {"appid": SANDBOX_APP_ID}, work=True)) == 48001


def test_blacklist_batches(api: Api) -> None:
    path = "/cgi-bin/tags/members/batchblacklist"
    assert errcode(api.post(path, {"openid_list": []})) == 40032
    assert errcode(api.post(path, {"openid_list": ["x"] * 21})) == 40032
    assert errcode(api.post(path, {})) == 40032
