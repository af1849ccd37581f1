"""The sandbox's scene QR code endpoints, over raw HTTP."""

from __future__ import annotations

import typing as t

import pytest
import requests

from flask_wechat.sandbox import Sandbox

from .conftest import Api, Clock, errcode

CREATE = "/cgi-bin/qrcode/create"


def _scene(action: str, **info: t.Any) -> dict[str, t.Any]:
    return {"action_name": action, "action_info": {"scene": info}}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (_scene("QR_LIMIT_SCENE", scene_id=100_001), 40053),
        (_scene("QR_LIMIT_SCENE", scene_id=0), 40053),
        (_scene("QR_SCENE", scene_id=2**32), 40053),
        (_scene("QR_LIMIT_STR_SCENE", scene_str=""), 40053),
        (_scene("QR_STR_SCENE", scene_str="s" * 65), 40053),
        ({**_scene("QR_SCENE", scene_id=1), "expire_seconds": 2_592_001}, 40097),
        (_scene("QR_FOREVER", scene_id=1), 40097),
        ({"action_name": "QR_SCENE"}, 40053),
    ],
)
def test_refuses_what_wechat_refuses(api: Api, body: dict[str, t.Any], code: int) -> None:
    assert errcode(api.post(CREATE, body)) == code


def test_wrong_method_and_platform(api: Api) -> None:
    assert errcode(api.get(CREATE)) == 43002
    assert errcode(api.post(CREATE, _scene("QR_LIMIT_SCENE", scene_id=1), work=True)) == 48001


def test_temporary_code_expires() -> None:
    clock = Clock()
    with Sandbox(clock=clock) as sandbox, requests.Session() as http:
        api = Api(sandbox, http)
        answer = api.post(CREATE, _scene("QR_SCENE", scene_id=5))
        assert answer["expire_seconds"] == 30  # WeChat's default
        ticket = answer["ticket"]
        image = api.raw("GET", "/cgi-bin/showqrcode", params={"ticket": ticket})
        assert image.status_code == 200
        assert sandbox.scan_event(ticket, "oX", subscribed=False)["EventKey"] == "qrscene_5"
        clock.now += 30
        image = api.raw("GET", "/cgi-bin/showqrcode", params={"ticket": ticket})
        assert image.status_code == 404
        with pytest.raises(ValueError, match="expired"):
            sandbox.scan_event(ticket, "oX", subscribed=True)


def test_permanent_code_answers_no_expiry(api: Api, sandbox: Sandbox) -> None:
    answer = api.post(CREATE, _scene("QR_LIMIT_STR_SCENE", scene_str="shop"))
    assert "expire_seconds" not in answer
    assert sandbox.scan_event(answer["ticket"], "oX", subscribed=True)["EventKey"] == "shop"
