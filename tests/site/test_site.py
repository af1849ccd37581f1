"""The site with flask_wechat added, tested with the shipped helpers only: the
``wechat_client`` fixture, WeChatTestClient and the sandbox."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from flask_wechat import signals
from flask_wechat.sandbox import SANDBOX_APP_ID, Sandbox
from flask_wechat.testing import WeChatTestClient


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


def test_the_callback_lives_beside_the_sites_own_wechat_blueprint(
    app: Flask, wechat_client: WeChatTestClient
) -> None:
    assert "weixin" in app.blueprints
    assert app.blueprints["wechat"].name == "wechat"  # the site's own
    assert wechat_client.url == "/weixin"
    assert wechat_client.mode == "safe"
    assert wechat_client.verify_url("echo-1").get_data(as_text=True) == "echo-1"
    assert app.test_client().get("/wechat/about").get_data(as_text=True) == "Follow us on WeChat"
    result = wechat_client.event("subscribe")
    assert result.encrypted
    assert result.content == "welcome to the shop"


def test_a_bound_user_asks_the_bot_for_orders(app: Flask, wechat_client: WeChatTestClient) -> None:
    browser = app.test_client()
    login = csrf_token(browser.get("/login").get_data(as_text=True))
    assert browser.post("/login", data={"name": "alice"}).status_code == 400  # no CSRF token
    assert browser.post("/login", data={"name": "alice", "csrf_token": login}).status_code == 302
    page = browser.get("/shop/order").get_data(as_text=True)
    # The shop's form is CSRF-protected: without the token it is refused...
    assert browser.post("/shop/order", data={"item": "tea"}).status_code == 400
    token = csrf_token(page)
    assert browser.post("/shop/order", data={"item": "tea", "csrf_token": token}).status_code == 302
    bind = browser.post("/wechat/bind", data={"open_id": wechat_client.user, "csrf_token": token})
    assert bind.get_data(as_text=True) == f"alice is bound to {wechat_client.user}"
    # ...while WeChat's callbacks need no token: they are signed.
    assert wechat_client.text("orders").content == "tea"
    stranger = WeChatTestClient(app, user="oStranger")
    assert stranger.text("order").content == "bind your account first"


def test_login_protected_and_async_views_still_work(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/shop/order").status_code == 302  # to the login page
    assert client.get("/wechat/bind").status_code == 302
    assert client.get("/status").get_json() == {"status": "ok"}


def test_a_broken_handler_fails_the_test_as_a_broken_view_would(
    wechat_client: WeChatTestClient,
) -> None:
    with pytest.raises(LookupError, match="broken"):
        wechat_client.event("CLICK", EventKey="BROKEN")


def test_in_production_a_broken_handler_is_answered_and_signalled(
    app: Flask, wechat_client: WeChatTestClient
) -> None:
    app.testing = False
    failures: list[BaseException] = []

    def failed(sender: Flask, exception: BaseException, **extra: object) -> None:
        failures.append(exception)

    with signals.handler_failed.connected_to(failed, app):
        result = wechat_client.event("CLICK", EventKey="BROKEN")
    assert result.is_success
    assert [type(exc) for exc in failures] == [LookupError]


def test_the_api_goes_to_the_sandbox(app: Flask, wechat_api: Sandbox) -> None:
    from . import wechat

    wechat_api.user_wrote("oUser")  # as WeChat knows: the user wrote to the account
    with app.app_context():
        wechat.client().customer_service.send_text("oUser", "hello from the site")
    assert wechat_api.sent == [
        {
            "touser": "oUser",
            "msgtype": "text",
            "text": {"content": "hello from the site"},
            "kind": "custom",
            "app_id": SANDBOX_APP_ID,
        }
    ]
