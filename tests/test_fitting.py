"""Fitting an existing site: async handlers, CSRF, names, misspelt keys,
exceptions while testing, typed handlers and messages."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
import time
import typing as t
from pathlib import Path

import pytest
from flask import Blueprint, Flask, current_app
from flask_wtf.csrf import CSRFProtect

from flask_wechat import ConfigError, Message, TextReply, WeChat, handling, signals
from flask_wechat.errors import WeChatWarning
from flask_wechat.sandbox import SANDBOX_APP_ID, RelayPlatform, Sandbox
from flask_wechat.tasks import InlineRunner
from flask_wechat.testing import DEFAULT_USER, WeChatTestClient

from .conftest import APP_ID, APP_SECRET, TOKEN, create_app, production

RELAY_TOKEN = "fit-relay-token"


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, t.Any]] = []

    def __call__(self, sender: t.Any, **extra: t.Any) -> None:
        self.calls.append(extra)


# -- async handlers ------------------------------------------------------------------


@pytest.mark.parametrize("asgiref", [True, False], ids=["ensure_sync", "asyncio"])
def test_async_handlers_are_awaited(monkeypatch: pytest.MonkeyPatch, asgiref: bool) -> None:
    monkeypatch.setattr(handling, "HAVE_ASGIREF", asgiref)
    app, wechat = create_app()

    @wechat.on("text")
    async def echo(message: Message) -> TextReply:
        await asyncio.sleep(0)
        return TextReply(f"{current_app.name} heard {message.content}")

    assert WeChatTestClient(app).text("你好").content == "test_app heard 你好"


def test_a_coroutine_runs_even_inside_a_running_event_loop() -> None:
    async def answer() -> str:
        await asyncio.sleep(0)
        return "from a helper thread"

    async def outer() -> t.Any:
        return handling.run_coroutine(answer())  # this thread runs a loop already

    assert asyncio.run(outer()) == "from a helper thread"


@pytest.mark.parametrize("asgiref", [True, False], ids=["ensure_sync", "asyncio"])
def test_a_late_async_handler_has_its_reply_sent_as_a_message(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, asgiref: bool
) -> None:
    monkeypatch.setattr(handling, "HAVE_ASGIREF", asgiref)
    app = Flask("late_async")
    app.config.update(sandbox.flask_config("mp"), WECHAT_TOKEN=TOKEN, WECHAT_REPLY_DEADLINE=0.01)
    wechat = WeChat(app, task_runner=InlineRunner(attempts=2, backoff=0.01))

    @wechat.on("text")
    async def slow(message: Message) -> str:
        started = time.monotonic()
        while time.monotonic() - started < 0.05:  # past the 10 ms deadline, for sure
            await asyncio.sleep(0.01)
        return f"late: {message.content}"

    result = WeChatTestClient(app).text("question")
    assert (result.status_code, result.text) == (200, "success")
    assert app.extensions["wechat"].handler_threads.join(10)  # the late reply went out
    assert sandbox.sent == [
        {
            "touser": DEFAULT_USER,
            "msgtype": "text",
            "text": {"content": "late: question"},
            "kind": "custom",
            "app_id": SANDBOX_APP_ID,
        }
    ]


# -- a handler's exception while testing ---------------------------------------------


class Boom(Exception):
    pass


def divide_by_zero(message: Message) -> None:
    _ = 1 / 0


@pytest.mark.parametrize("config", [{"TESTING": True}, {"PROPAGATE_EXCEPTIONS": True}])
def test_a_handler_exception_propagates_when_testing(
    config: dict[str, t.Any], caplog: pytest.LogCaptureFixture
) -> None:
    app, wechat = create_app(TESTING=False)
    app.config.update(config)
    runs: list[str] = []

    @wechat.on("text")
    def broken(message: Message) -> str:
        runs.append(message.content or "")
        raise Boom("the handler broke")

    failed = Recorder()
    client = WeChatTestClient(app)
    message = client.message("text", Content="x")
    with signals.handler_failed.connected_to(failed, app), pytest.raises(Boom):
        client.send(message)
    assert [type(call["exception"]) for call in failed.calls] == [Boom]
    assert "handler for text on account 'default' failed" in caplog.text
    # The delivery was still finished: WeChat's retry does not run the handler again.
    assert client.send(message).is_success
    assert runs == ["x"]


def test_a_handler_exception_answers_success_in_production() -> None:
    app, wechat = create_app()
    production(app)
    wechat.on("text")(divide_by_zero)
    failed = Recorder()
    with signals.handler_failed.connected_to(failed, app):
        result = WeChatTestClient(app).text("x")
    assert (result.status_code, result.text) == (200, "success")
    assert isinstance(failed.calls[0]["exception"], ZeroDivisionError)


def test_an_async_handler_exception_propagates_when_testing() -> None:
    app, wechat = create_app()

    @wechat.on("text")
    async def broken(message: Message) -> None:
        raise Boom("async")

    with pytest.raises(Boom):
        WeChatTestClient(app).text("x")


def test_on_the_handler_threads_an_exception_within_the_deadline_propagates() -> None:
    app = Flask("pool_app")
    app.config.update(TESTING=True, WECHAT_TOKEN=TOKEN)
    wechat = WeChat(app, handler_threads=2)

    @wechat.on("text")
    def broken(message: Message) -> None:
        raise Boom("pool")

    with pytest.raises(Boom):
        WeChatTestClient(app).text("x")
    assert app.extensions["wechat"].handler_threads.join(10)


# -- CSRF ----------------------------------------------------------------------------


def csrf_site(sandbox: Sandbox, platform: RelayPlatform, csrf_first: bool) -> Flask:
    app = Flask("csrf_site")
    app.config.update(
        SECRET_KEY="csrf-site",
        **sandbox.flask_config("mp"),
        WECHAT_TOKEN=TOKEN,
        WECHAT_RELAY_URL=platform.receive_url,
        WECHAT_RELAY_TOKEN=RELAY_TOKEN,
    )

    @app.post("/form")
    def form() -> str:
        return "posted"

    csrf = CSRFProtect()
    wechat = WeChat(task_runner=InlineRunner(attempts=2, backoff=0.01))
    if csrf_first:
        csrf.init_app(app)
        wechat.init_app(app)
    else:
        wechat.init_app(app)
        csrf.init_app(app)
    wechat.on("text")(lambda message: f"echo {message.content}")
    return app


@pytest.mark.parametrize("csrf_first", [True, False], ids=["csrf-first", "wechat-first"])
def test_callbacks_work_under_csrf_protect(sandbox: Sandbox, csrf_first: bool) -> None:
    with RelayPlatform(RELAY_TOKEN) as platform:
        app = csrf_site(sandbox, platform, csrf_first)
        # The site's own forms are still protected...
        assert app.test_client().post("/form").status_code == 400
        # ...WeChat's callbacks are not: WeChat signs them and has no CSRF token.
        assert WeChatTestClient(app).text("hi").content == "echo hi"
        # The relay callback answers as it does on a site without CSRFProtect.
        relay = app.test_client().post("/wechat/relay", data=b"{}", content_type="application/json")
        bare = Flask("bare")
        bare.config.update(app.config)
        WeChat(bare)
        expected = bare.test_client().post(
            "/wechat/relay", data=b"{}", content_type="application/json"
        )
        assert b"CSRF" not in relay.get_data()
        assert (relay.status_code, relay.get_data()) == (
            expected.status_code,
            expected.get_data(),
        )
        assert app.test_client().post("/form").status_code == 400


def test_late_csrf_exemption_leaves_no_hook_after_the_first_request(sandbox: Sandbox) -> None:
    with RelayPlatform(RELAY_TOKEN) as platform:
        app = csrf_site(sandbox, platform, csrf_first=False)
        site_hooks = [hook for hook in app.before_request_funcs[None] if "csrf" in hook.__name__]
        assert len(app.before_request_funcs[None]) == len(site_hooks) + 1  # ours, for now
        client = WeChatTestClient(app)
        assert client.text("first").content == "echo first"
        # only the site's own hooks are left; callbacks stay exempt, forms protected
        assert app.before_request_funcs[None] == site_hooks
        assert client.text("second").content == "echo second"
        assert app.test_client().post("/form").status_code == 400


# -- names -------------------------------------------------------------------------------


def test_blueprint_name_and_url_prefix_are_configurable() -> None:
    app = Flask("named_site")
    site = Blueprint("wechat", __name__, url_prefix="/wechat")

    @site.get("/about")
    def about() -> str:
        return "the site's own wechat page"

    app.register_blueprint(site)
    app.config.update(TESTING=True, WECHAT_TOKEN=TOKEN)
    wechat = WeChat(app, name="weixin", url_prefix="/hooks")
    wechat.on("text")(lambda message: "from the hook")
    with app.test_request_context():
        from flask import url_for

        assert url_for("weixin.callback_default") == "/hooks/wechat"
        assert url_for("wechat.about") == "/wechat/about"
    client = WeChatTestClient(app)
    assert client.url == "/hooks/wechat"
    assert client.text("x").content == "from the hook"
    page = app.test_client().get("/wechat/about")
    assert page.get_data(as_text=True) == "the site's own wechat page"


def test_a_prefixed_callback_answers(make_app: t.Any) -> None:
    app = Flask("prefixed")
    app.config.update(TESTING=True, WECHAT_TOKEN=TOKEN, WECHAT_CALLBACK_URL="/hooks/wechat")
    wechat = WeChat(app, name="weixin")
    wechat.on("text")(lambda message: "hooked")
    assert WeChatTestClient(app).text("x").content == "hooked"
    assert "weixin" in app.blueprints


def test_relay_routes_only_with_a_relay() -> None:
    app, _ = create_app()
    assert not [r for r in app.url_map.iter_rules() if "relay" in r.endpoint]


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [("WECHAT_APPID", "WECHAT_APP_ID"), ("WECHAT_ENCODING_AES", "WECHAT_ENCODING_AES_KEY")],
)
def test_misspelt_flat_keys_raise(key: str, suggestion: str) -> None:
    app = Flask("misspelt")
    app.config.update(WECHAT_TOKEN=TOKEN, **{key: "x"})
    with pytest.raises(ConfigError) as info:
        WeChat(app)
    assert key in str(info.value)
    assert suggestion in str(info.value)


@pytest.mark.parametrize(("key", "suggestion"), [("appid", "app_id"), ("encoding_aes", "")])
def test_misspelt_account_keys_raise(key: str, suggestion: str) -> None:
    app = Flask("misspelt_accounts")
    app.config.update(
        WECHAT_ACCOUNTS={
            "shop": {"token": TOKEN, "app_id": APP_ID, "app_secret": APP_SECRET, key: "x"}
        }
    )
    with pytest.raises(ConfigError) as info:
        WeChat(app)
    assert key in str(info.value)
    assert suggestion in str(info.value)


# -- registration warnings -------------------------------------------------------------


@pytest.mark.parametrize(("name", "known"), [("txet", "text"), ("subscibe", "subscribe")])
def test_a_name_close_to_a_known_type_warns(name: str, known: str) -> None:
    wechat = WeChat()
    with pytest.warns(WeChatWarning, match=repr(known)) as caught:
        wechat.on(name)(lambda message: None)
    assert caught[0].filename == __file__


@pytest.mark.parametrize(
    "name", ["text", "CLICK", "hologram", "some_future_event", "location_event"]
)
def test_known_and_far_names_do_not_warn(name: str) -> None:
    WeChat().on(name)(lambda message: None)  # filterwarnings=error would fail this


# -- typing ----------------------------------------------------------------------------------

SNIPPET = """
from __future__ import annotations

from flask_wechat import Message, TextReply, WeChat

wechat = WeChat()


@wechat.on("text")
def fine(message: Message) -> TextReply:
    return TextReply(message.content or "")


@wechat.on("text")
async def fine_async(message: Message) -> str | None:
    return message.event_key


@wechat.on("text")
def platform_field(message: Message) -> str:
    return str(message.field("brand_new_field") or message.get("BrandNewField") or message.raw)


@wechat.on("text")
def typo(message: Message) -> str | None:
    return message.contnet


@wechat.on("text")
def wrong_result(message: Message) -> int:
    return 42


def read_only(message: Message) -> None:
    message.raw["Content"] = "changed"
"""


def test_mypy_checks_handlers_and_message_fields(tmp_path: Path) -> None:
    snippet = tmp_path / "handlers.py"
    snippet.write_text(textwrap.dedent(SNIPPET))
    mypy = Path(sys.executable).with_name("mypy")
    done = subprocess.run(
        [
            str(mypy),
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(snippet),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(Path(__file__).resolve().parents[1])},
    )
    # Only the site's own file counts: with older stubs of flask_wechat's own
    # dependencies (the minimum-versions run) mypy also reports inside the package.
    errors = [
        line
        for line in done.stdout.splitlines()
        if ": error:" in line and line.startswith("handlers.py:")
    ]
    lines = {int(line.split(":")[1]) for line in errors}
    source = snippet.read_text().splitlines()
    typo = source.index("    return message.contnet") + 1
    wrong = (
        source.index(
            '@wechat.on("text")', source.index("def typo(message: Message) -> str | None:")
        )
        + 1
    )
    read_only = source.index('    message.raw["Content"] = "changed"') + 1
    assert lines == {typo, wrong, read_only}, done.stdout
    assert any('has no attribute "contnet"' in line for line in errors)


# -- the Message model -------------------------------------------------------------------


def test_raw_is_read_only_and_platform_fields_stay_reachable() -> None:
    message = Message(
        {"MsgType": "text", "Content": "hi", "BrandNewField": "v", "Info": {"Depth": "2"}}, "shop"
    )
    with pytest.raises(TypeError):
        message.raw["Content"] = "changed"  # type: ignore[index]
    with pytest.raises(AttributeError):
        message.content = "changed"  # type: ignore[assignment]
    assert message.content == "hi"
    assert message.field("brand_new_field") == "v"
    assert message.field("depth") == "2"
    assert message.field("nobody_sent_it") is None
    assert message["BrandNewField"] == "v"
    assert message.get("Missing", "default") == "default"
    assert "Content" in message
    assert getattr(message, "brand_new_field") == "v"  # noqa: B009 - untyped code still may
    assert message.media_id is None  # documented, absent
    with pytest.raises(AttributeError):
        _ = getattr(message, "contnet")  # noqa: B009


def test_json_numbers_are_given_as_text() -> None:
    message = Message({"MsgType": "event", "Event": "user_enter_tempsession", "Scene": 1001})
    assert message.scene == "1001"


def test_logging_of_a_failure_names_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    app, wechat = create_app()
    production(app)
    wechat.on("text")(divide_by_zero)
    WeChatTestClient(app).text("x")
    assert APP_SECRET not in caplog.text
