"""The recipes of docs/recipes.rst, run as the page shows them.

The LLM bot runs in-process against a loopback chat API that takes longer than the
reply deadline. The queue recipes run for real: gunicorn (gthread workers) serving
the recipe's ``mysite.py``, the queue's stock worker, a redis-server, the sandbox as
WeChat's API, and ``flask wechat simulate --url`` as WeChat.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
import typing as t
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

from flask_wechat.sandbox import SANDBOX_APP_ID, SANDBOX_APP_SECRET, SANDBOX_OPENID, Sandbox
from flask_wechat.testing import WeChatTestClient

from .conftest import _free_port
from .test_scale_out import wait_for

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "docs" / "recipes"
BIN = Path(sys.executable).parent
#: an all-digit token, quoted as the recipes say: from_prefixed_env() parses JSON.
TOKEN_ENV = '"20240917"'
WAIT = 30.0


def load_recipe(name: str) -> ModuleType:
    """``docs/recipes/<name>/mysite.py`` as a fresh module."""
    spec = importlib.util.spec_from_file_location(f"recipe_{name}", RECIPES / name / "mysite.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the LLM bot ---------------------------------------------------------------------------


class ChatAPI(ThreadingHTTPServer):
    """An OpenAI-compatible chat endpoint on loopback that thinks for ``delay`` s."""

    delay = 1.5
    answer = "微信是一款聊天应用。"

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ChatHandler)
        self.requests: list[tuple[str, dict[str, t.Any]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/chat/completions"


class ChatHandler(BaseHTTPRequestHandler):
    server: ChatAPI

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = json.loads(self.rfile.read(length))
        self.server.requests.append((self.headers["Authorization"], body))
        time.sleep(self.server.delay)
        data = json.dumps(
            {"choices": [{"message": {"role": "assistant", "content": self.server.answer}}]}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: t.Any) -> None:
        pass


@pytest.fixture
def chat_api() -> Iterator[ChatAPI]:
    server = ChatAPI()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def test_llm_bot_answers_in_time_and_the_reply_comes_later(
    sandbox: Sandbox, chat_api: ChatAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    deadline = 0.5
    for key, value in {
        "FLASK_WECHAT_TOKEN": TOKEN_ENV,
        "FLASK_WECHAT_APP_ID": SANDBOX_APP_ID,
        "FLASK_WECHAT_APP_SECRET": SANDBOX_APP_SECRET,
        "FLASK_WECHAT_API_BASE_URL": sandbox.url,
        "FLASK_WECHAT_REPLY_DEADLINE": str(deadline),
        "LLM_URL": chat_api.url,
        "LLM_API_KEY": "test-llm-key",
    }.items():
        monkeypatch.setenv(key, value)
    app = load_recipe("llm").create_app()
    assert app.config["WECHAT_TOKEN"] == "20240917"

    started = time.monotonic()
    answered = WeChatTestClient(app).text("什么是微信?", FromUserName=SANDBOX_OPENID)
    elapsed = time.monotonic() - started
    # The callback did not carry the model's answer: WeChat had its "success", by the
    # deadline, while the model was still thinking.
    assert answered.is_success
    assert elapsed < deadline + 0.5
    assert sandbox.sent == []  # the model had not answered yet

    (sent,) = wait_for("the late reply", lambda: sandbox.sent, timeout=WAIT)
    assert sent["kind"] == "custom"
    assert sent["touser"] == SANDBOX_OPENID
    assert sent["text"]["content"] == ChatAPI.answer
    ((authorization, request),) = chat_api.requests
    assert authorization == "Bearer test-llm-key"
    assert request["messages"][-1] == {"role": "user", "content": "什么是微信?"}

    welcome = WeChatTestClient(app).event("subscribe", FromUserName=SANDBOX_OPENID)
    assert welcome.content == "你好! Ask me anything."


# -- gunicorn + Redis + RQ or Celery ------------------------------------------------------


@contextlib.contextmanager
def running(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> Iterator[None]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


WORKERS: dict[str, Callable[[str], list[str]]] = {
    "rq": lambda redis_url: [
        str(BIN / "rq"), "worker", "--with-scheduler", "--url", redis_url, "wechat"
    ],
    "celery": lambda redis_url: [
        str(BIN / "celery"), "-A", "mysite", "worker", "--loglevel", "INFO",
        "--concurrency", "1", "--without-gossip", "--without-mingle", "--without-heartbeat",
    ],
}  # fmt: skip


@pytest.mark.redis
@pytest.mark.parametrize("queue", ["rq", "celery"])
def test_site_on_gunicorn_redis_and_a_queue(
    queue: str, redis_db: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(RECIPES / queue),
        "REDIS_URL": redis_db,
        "FLASK_WECHAT_TOKEN": TOKEN_ENV,
        "FLASK_WECHAT_APP_ID": SANDBOX_APP_ID,
        "FLASK_WECHAT_APP_SECRET": SANDBOX_APP_SECRET,
        "FLASK_WECHAT_API_BASE_URL": sandbox.url,
        "FLASK_WECHAT_REPLY_DEADLINE": "0.3",  # the recipe's report takes 1 s
    }
    log = tmp_path / "site.log"
    # The recipe's commands, on loopback and with fewer processes.
    gunicorn = [
        str(BIN / "gunicorn"), "-w", "2", "-k", "gthread", "--threads", "4",
        "-b", f"127.0.0.1:{port}", "mysite:create_app()",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}/wechat"

    def simulate(text: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "flask"), "--app", "mysite", "wechat", "simulate", "text", text,
             "--user", SANDBOX_OPENID, "--url", url],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    def listening() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    with (
        running(gunicorn, env, tmp_path, log),
        running(WORKERS[queue](redis_db), env, tmp_path, log),
    ):
        wait_for("gunicorn to listen", listening, timeout=WAIT)
        echo = simulate("hello")
        assert echo.returncode == 0, echo.stderr + log.read_text(errors="replace")[-3000:]
        assert "HTTP 200" in echo.stdout
        assert "Content: hello" in echo.stdout

        report = simulate("report please")
        assert report.returncode == 0, report.stderr
        assert "answer: success" in report.stdout  # late: answered success, reply queued
        sent = wait_for("the queued reply", lambda: sandbox.sent, timeout=WAIT)
        assert [(body["touser"], body["text"]["content"]) for body in sent] == [
            (SANDBOX_OPENID, "your report is ready")
        ]
    assert "Traceback" not in log.read_text(errors="replace")


def test_the_readme_shows_the_rq_recipe_as_it_is_tested() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    recipe = (RECIPES / "rq" / "mysite.py").read_text(encoding="utf-8")
    assert f"```python\n{recipe}```\n" in readme
