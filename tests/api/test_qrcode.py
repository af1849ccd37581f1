"""Scene QR codes against the sandbox, and the events their scans send."""

from __future__ import annotations

import typing as t

import pytest
import requests
from flask import Flask

from flask_wechat import Message, WeChat
from flask_wechat.api.qrcode import qrcode_body
from flask_wechat.sandbox import SANDBOX_OPENID
from flask_wechat.testing import WeChatTestClient

from .conftest import posted

if t.TYPE_CHECKING:
    from flask_wechat.api import Client
    from flask_wechat.sandbox import Sandbox


@pytest.mark.parametrize(
    ("scene", "expire", "action", "info"),
    [
        (7, None, "QR_LIMIT_SCENE", {"scene_id": 7}),
        ("promo", None, "QR_LIMIT_STR_SCENE", {"scene_str": "promo"}),
        (2**32 - 1, 3600, "QR_SCENE", {"scene_id": 2**32 - 1}),
        ("s" * 64, 2592000, "QR_STR_SCENE", {"scene_str": "s" * 64}),
    ],
)
def test_create(
    client: Client,
    sandbox: Sandbox,
    scene: int | str,
    expire: int | None,
    action: str,
    info: dict[str, t.Any],
) -> None:
    created = client.qrcode.create(scene, expire_seconds=expire)
    assert created["ticket"]
    assert created["url"].startswith("http://weixin.qq.com/q/")
    assert created.get("expire_seconds") == expire
    expected: dict[str, t.Any] = {"action_name": action, "action_info": {"scene": info}}
    if expire is not None:
        expected["expire_seconds"] = expire
    assert posted(sandbox, "/cgi-bin/qrcode/create") == [expected]


@pytest.mark.parametrize(
    ("scene", "expire"),
    [(0, None), (100_001, None), (2**32, 60), ("", None), ("s" * 65, 60), (1, 2592001), (1, 0)],
)
def test_limits(scene: int | str, expire: int | None) -> None:
    with pytest.raises(ValueError, match="must be"):
        qrcode_body(scene, expire)


def test_url_serves_the_image(client: Client, sandbox: Sandbox) -> None:
    ticket = client.qrcode.create("a b/c", expire_seconds=60)["ticket"]
    url = client.qrcode.url(ticket)
    # the image is on WeChat's host, not the API base URL (a proxy serves no images)
    assert url.startswith("https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=")
    url = url.replace("https://mp.weixin.qq.com", sandbox.url)
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    assert response.content.startswith(b"\x89PNG")
    assert requests.get(url + "x", timeout=10).status_code == 404


def test_url_is_on_wechats_host_behind_an_api_proxy(make_client: t.Any) -> None:
    real = make_client(
        WECHAT_APP_ID="wxreal",
        WECHAT_APP_SECRET="s",
        WECHAT_API_BASE_URL="https://wechat-proxy.example.com",
    )
    assert real.qrcode.url("gQ+/=") == (
        "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=gQ%2B%2F%3D"
    )


def test_scan_events(client: Client, sandbox: Sandbox) -> None:
    ticket = client.qrcode.create("promo")["ticket"]
    follow = sandbox.scan_event(ticket, "oNEWUSER", subscribed=False)
    assert follow["Event"] == "subscribe"
    assert follow["EventKey"] == "qrscene_promo"
    assert follow["Ticket"] == ticket
    assert "oNEWUSER" in sandbox.followers()
    scan = sandbox.scan_event(ticket, SANDBOX_OPENID, subscribed=True)
    assert (scan["Event"], scan["EventKey"]) == ("SCAN", "promo")
    with pytest.raises(KeyError):
        sandbox.scan_event("nope", SANDBOX_OPENID, subscribed=True)


def test_scan_reaches_handlers_with_its_scene(sandbox: Sandbox) -> None:
    app = Flask("qr_app")
    app.config.update(TESTING=True, WECHAT_TOKEN="qr-token", **sandbox.flask_config())
    wechat = WeChat(app)
    scenes: list[tuple[str, str | None]] = []

    @wechat.on("subscribe", "scan")
    def scanned(message: Message) -> str:
        scenes.append((message.event or "", message.qr_scene))
        return "welcome"

    with app.app_context():
        ticket = wechat.client().qrcode.create(1234, expire_seconds=600)["ticket"]
    callback = WeChatTestClient(app)
    for subscribed in (False, True):
        fields = sandbox.scan_event(ticket, "oSCANNER", subscribed=subscribed)
        assert callback.send(fields).content == "welcome"
    assert scenes == [("subscribe", "1234"), ("scan", "1234")]
