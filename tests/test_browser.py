"""The example site's WeChat page in a real browser: headless Chromium, real HTTP.

The OAuth redirect round trip runs against the sandbox (which plays WeChat's
authorize page) and must end signed in; the ``wx.config`` the page renders must
verify with the sandbox's ticket for the URL the browser is on.
"""

from __future__ import annotations

import json
import shutil
import threading
import typing as t
from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from werkzeug.serving import make_server

from example_app import create_app
from flask_wechat.crypto import jsapi_signature
from flask_wechat.sandbox import SANDBOX_APP_ID, SANDBOX_OPENID, Sandbox

pytestmark = pytest.mark.browser


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/lib/chromium")
        if found:
            return found
    pytest.fail(f"{names[0]} is not installed; `make test` installs it")


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = Options()
    options.binary_location = _binary("chromium", "chromium-browser")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(_binary("chromedriver")))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Sandbox]]:
    """The example site on a real loopback port, its WeChat API played by a sandbox."""
    monkeypatch.delenv("WECHAT_APP_SECRET", raising=False)
    with Sandbox() as sandbox:
        app = create_app({"TESTING": True}, sandbox=sandbox)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}", sandbox
        finally:
            server.shutdown()
            thread.join(timeout=10)
            server.server_close()


def test_oauth_round_trip_ends_signed_in_with_a_valid_wx_config(
    browser: webdriver.Chrome, site: tuple[str, Sandbox]
) -> None:
    base, sandbox = site
    browser.get(base + "/me?from=browser&q=%E4%B8%AD%E6%96%87")

    # Our site → /wechat/oauth/login → the sandbox's authorize page → back with a
    # code → exchanged on the server → the page the browser asked for.
    assert browser.current_url.startswith(base + "/me?")
    assert browser.find_element("id", "open-id").text == SANDBOX_OPENID
    assert sandbox.count("/connect/oauth2/authorize") == 1
    assert sandbox.count("/sns/oauth2/access_token") == 1

    script = t.cast(
        str,
        browser.execute_script(
            "return [...document.scripts].map(s => s.text)"
            ".find(text => text.includes('wx.config('));"
        ),
    )
    config = json.loads(script.split("else { wx.config(", 1)[1].removesuffix("); }"))
    href = t.cast(str, browser.execute_script("return location.href.split('#')[0];"))
    ticket = sandbox.ticket_for(SANDBOX_APP_ID)
    assert ticket is not None
    assert config["appId"] == SANDBOX_APP_ID
    assert config["jsApiList"] == ["chooseImage", "getLocation"]
    assert config["signature"] == jsapi_signature(
        ticket, config["nonceStr"], config["timestamp"], href
    )

    page = browser.page_source
    assert ticket not in page
    cookies = " ".join(str(c.get("value", "")) for c in browser.get_cookies())
    assert "access_token" not in page + cookies
