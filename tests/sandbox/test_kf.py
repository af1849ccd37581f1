"""The sandbox's WeCom 微信客服 endpoints, over raw HTTP."""

from __future__ import annotations

import requests

from flask_wechat.sandbox import Sandbox

from .conftest import Api, Clock, errcode

SYNC = "/cgi-bin/kf/sync_msg"
SEND = "/cgi-bin/kf/send_msg"
KF = "wkSANDBOXKF0001"


def test_methods_and_platform(api: Api) -> None:
    assert errcode(api.get(SYNC, work=True)) == 43002
    assert errcode(api.get(SEND, work=True)) == 43002
    assert errcode(api.post(SYNC, {"open_kfid": KF})) == 48001


def test_paging_with_a_cursor(api: Api, sandbox: Sandbox) -> None:
    for n in range(3):
        sandbox.kf_customer_writes(KF, "wmA", f"m{n}")
    first = api.post(SYNC, {"open_kfid": KF, "limit": 2}, work=True)
    assert [m["text"]["content"] for m in first["msg_list"]] == ["m0", "m1"]
    assert first["has_more"] == 1
    rest = api.post(SYNC, {"open_kfid": KF, "cursor": first["next_cursor"]}, work=True)
    assert [m["text"]["content"] for m in rest["msg_list"]] == ["m2"]
    assert rest["has_more"] == 0
    assert errcode(api.post(SYNC, {"open_kfid": KF, "cursor": "bogus"}, work=True)) == 40097
    assert errcode(api.post(SYNC, {"open_kfid": KF, "limit": 1001}, work=True)) == 40097
    assert errcode(api.post(SYNC, {}, work=True)) == 95000


def test_event_token_lives_ten_minutes(session: requests.Session) -> None:
    clock = Clock()
    with Sandbox(clock=clock, token_ttl=7 * 86400) as sandbox:
        api = Api(sandbox, session)
        token = sandbox.kf_customer_writes(KF, "wmA", "hi")["Token"]
        assert errcode(api.post(SYNC, {"open_kfid": KF, "token": token}, work=True)) == 0
        assert errcode(api.post(SYNC, {"open_kfid": "wkOTHER", "token": token}, work=True)) == 95007
        clock.now += 600
        assert errcode(api.post(SYNC, {"open_kfid": KF, "token": token}, work=True)) == 95007
        # The 48-hour window closes too.
        body = {"touser": "wmA", "open_kfid": KF, "msgtype": "text", "text": {"content": "x"}}
        assert errcode(api.post(SEND, body, work=True)) == 0
        clock.now += 48 * 3600
        assert errcode(api.post(SEND, body, work=True)) == 95002
        assert len(sandbox.sent) == 1


def test_send_checks(api: Api, sandbox: Sandbox) -> None:
    sandbox.kf_customer_writes(KF, "wmA", "hi")
    base = {"touser": "wmA", "open_kfid": KF}
    assert errcode(api.post(SEND, {**base, "msgtype": "text", "text": {}}, work=True)) == 44004
    image = {**base, "msgtype": "image", "image": {"media_id": "nope"}}
    assert errcode(api.post(SEND, image, work=True)) == 40007
    assert errcode(api.post(SEND, {**base, "touser": ""}, work=True)) == 40096
    assert sandbox.sent == []
