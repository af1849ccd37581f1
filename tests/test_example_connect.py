"""The example site's "connect your account" page, on the sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from flask import Flask

from example_app import create_app
from flask_wechat.sandbox import Sandbox
from flask_wechat.testing import WeChatTestClient


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def site(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.delenv("WECHAT_APP_SECRET", raising=False)
    return create_app({"TESTING": True, "SERVER_NAME": "site.example"}, sandbox=sandbox)


def test_connect_an_account_end_to_end(site: Flask, sandbox: Sandbox) -> None:
    browser = site.test_client()
    page = browser.get("/connect/")
    assert page.status_code == 200
    assert "None yet." in page.get_data(as_text=True)
    assert "Ticket received" in page.get_data(as_text=True)
    # the button: off to the 授权页 (played by the sandbox), which comes back
    start = browser.post("/connect/start")
    assert start.status_code == 302
    wechat_page = requests.get(start.headers["Location"], allow_redirects=False, timeout=5)
    assert wechat_page.status_code == 302
    back = wechat_page.headers["Location"]
    assert back.startswith("http://site.example/connect/done?auth_code=")
    done = browser.get(back.replace("http://site.example", ""))
    assert done.status_code == 302
    listed = browser.get("/connect/").get_data(as_text=True)
    app_id = next(iter(sandbox.register_component().authorizers))
    assert app_id in listed
    # the new account's messages reach the site's bot
    assert WeChatTestClient(site, app_id).text("你好").content == "你好"


def test_a_used_code_is_refused_politely(site: Flask) -> None:
    browser = site.test_client()
    assert browser.get("/connect/done").status_code == 400
    assert browser.get("/connect/done?auth_code=queryauthcode@@@nope").status_code == 400
