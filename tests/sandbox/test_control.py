"""The sandbox's own endpoints: marking that a user wrote and reading what was sent,
from outside the sandbox's process (``python -m flask_wechat.sandbox``)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
import requests
from flask import Flask

from flask_wechat import WeChat
from flask_wechat.errors import APIError
from flask_wechat.sandbox import SANDBOX_APP_ID, SANDBOX_APP_SECRET, Sandbox

from ..conftest import _free_port

WROTE_AT_START = "oWROTE-AT-START"
WROTE_LATER = "oWROTE-LATER"


@pytest.fixture(scope="module")
def standalone() -> Iterator[str]:
    """A sandbox in a process of its own, as a developer runs it; its base URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flask_wechat.sandbox",
            "--port",
            str(port),
            "--user-wrote",
            WROTE_AT_START,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not any(line.startswith("# a user wrote:") for line in lines):
            line = proc.stdout.readline()
            assert line, f"the sandbox exited: {proc.communicate()[1]}"
            lines.append(line)
        url = f"http://127.0.0.1:{port}"
        assert f"# what was sent: {url}/_sandbox/sent (JSON) or {url}/_sandbox/\n" in lines
        yield url
    finally:
        proc.terminate()
        watchdog.cancel()
        proc.wait(timeout=10)
        proc.communicate()


def separate_site(api_url: str) -> Flask:
    """A site in another process than the sandbox (here: this test's), on its API."""
    app = Flask("separate_site")
    app.config.update(
        WECHAT_APP_ID=SANDBOX_APP_ID,
        WECHAT_APP_SECRET=SANDBOX_APP_SECRET,
        WECHAT_API_BASE_URL=api_url,
        WECHAT_CALLBACK_URL=None,
    )
    WeChat(app)
    return app


def send(app: Flask, open_id: str, text: str) -> None:
    with app.app_context():
        app.extensions["wechat"].client().customer_service.send_text(open_id, text)


def test_a_late_reply_from_another_process_is_seen_from_outside(standalone: str) -> None:
    app = separate_site(standalone)
    send(app, WROTE_AT_START, "marked with --user-wrote")
    with pytest.raises(APIError) as refused:  # the 48-hour rule: never wrote
        send(app, WROTE_LATER, "too early")
    assert refused.value.errcode == 40003

    marked = requests.post(
        f"{standalone}/_sandbox/user-wrote", json={"open_id": WROTE_LATER}, timeout=5
    )
    assert marked.status_code == 200
    assert marked.json() == {"ok": True, "open_id": WROTE_LATER, "app_id": None}
    send(app, WROTE_LATER, "after <POST /_sandbox/user-wrote>")

    sent = requests.get(f"{standalone}/_sandbox/sent", timeout=5).json()
    assert [(body["touser"], body["text"]["content"]) for body in sent] == [
        (WROTE_AT_START, "marked with --user-wrote"),
        (WROTE_LATER, "after <POST /_sandbox/user-wrote>"),
    ]
    assert all(body["kind"] == "custom" and body["app_id"] == SANDBOX_APP_ID for body in sent)
    assert requests.get(f"{standalone}/_sandbox/sent?app_id=wx-other", timeout=5).json() == []

    page = requests.get(f"{standalone}/_sandbox/", timeout=5)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "after &lt;POST /_sandbox/user-wrote&gt;" in page.text
    assert "<POST" not in page.text


def test_the_page_form_marks_a_user_and_bad_requests_get_a_4xx() -> None:
    with Sandbox() as sandbox:
        form = requests.post(
            f"{sandbox.url}/_sandbox/user-wrote",
            data={"open_id": "oFROM-THE-FORM"},
            allow_redirects=False,
            timeout=5,
        )
        assert form.status_code == 303
        assert form.headers["Location"].endswith("/_sandbox/")
        assert "oFROM-THE-FORM" in sandbox.followers()

        missing = requests.post(f"{sandbox.url}/_sandbox/user-wrote", json={}, timeout=5)
        assert missing.status_code == 400
        assert missing.json() == {"error": "open_id is required"}
        unknown = requests.post(
            f"{sandbox.url}/_sandbox/user-wrote",
            json={"open_id": "oX", "app_id": "wx-unknown"},
            timeout=5,
        )
        assert unknown.status_code == 404
        # The sandbox's own endpoints are not WeChat API calls, and faults skip them.
        sandbox.fail("*", 45009, times=None)
        assert requests.get(f"{sandbox.url}/_sandbox/sent", timeout=5).json() == []
        assert not [call for call in sandbox.calls if call.path.startswith("/_sandbox")]
