"""The ``flask wechat`` commands, run with ``app.test_cli_runner()`` against the sandbox."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from flask import Flask

from flask_wechat.cli import hide_credentials
from flask_wechat.errors import APIError
from flask_wechat.sandbox import SANDBOX_APP_SECRET, Sandbox

from .conftest import APP_SECRET, AppFactory, create_app


@pytest.fixture
def app(sandbox: Sandbox) -> Flask:
    app, _wechat = create_app(**sandbox.flask_config("mp"))
    return app


def test_token_shows_expiry_but_never_the_token(app: Flask, sandbox: Sandbox) -> None:
    result = app.test_cli_runner().invoke(args=["wechat", "token"])
    assert result.exit_code == 0, result.output
    assert "expires at:" in result.output
    assert sandbox.token_requests == 1
    with app.app_context():
        token = app.extensions["wechat"].client().access_token
    # Nothing of it: not the token, nor its first or last characters.
    assert token not in result.output
    for part in (token[:4], token[-4:]):
        assert part not in result.output
    assert "fetched" in result.output
    assert SANDBOX_APP_SECRET not in result.output


def test_token_refresh_fetches_a_new_one(app: Flask, sandbox: Sandbox) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["wechat", "token"]).exit_code == 0
    assert runner.invoke(args=["wechat", "token"]).exit_code == 0
    assert sandbox.token_requests == 1
    result = runner.invoke(args=["wechat", "token", "--refresh"])
    assert result.exit_code == 0, result.output
    assert sandbox.token_requests == 2


def test_token_error_is_reported_not_raised(app: Flask, sandbox: Sandbox) -> None:
    sandbox.fail("/cgi-bin/token", 45009, times=None)
    result = app.test_cli_runner().invoke(args=["wechat", "token"])
    assert result.exit_code == 1
    assert "45009" in result.output


def test_menu_push_show_delete(app: Flask, sandbox: Sandbox, tmp_path: Path) -> None:
    menu = {"button": [{"type": "click", "name": "今日歌曲", "key": "V1001_TODAY_MUSIC"}]}
    path = tmp_path / "menu.json"
    path.write_text(json.dumps(menu, ensure_ascii=False), encoding="utf-8")
    runner = app.test_cli_runner()

    pushed = runner.invoke(args=["wechat", "menu", "push", str(path)])
    assert pushed.exit_code == 0, pushed.output
    assert sandbox.menu == menu

    shown = runner.invoke(args=["wechat", "menu", "show"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["menu"]["button"][0]["name"] == "今日歌曲"

    deleted = runner.invoke(args=["wechat", "menu", "delete", "--yes"])
    assert deleted.exit_code == 0, deleted.output
    left: object = sandbox.menu  # read anew: the command changed it
    assert left is None
    assert runner.invoke(args=["wechat", "menu", "show"]).exit_code == 1


def test_menu_push_refuses_bad_json(app: Flask, sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "menu.json"
    path.write_text("{not json", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["wechat", "menu", "push", str(path)])
    assert result.exit_code == 1
    assert "not UTF-8 JSON" in result.output
    assert sandbox.count("/cgi-bin/menu/create") == 0


def test_callback_ip(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["wechat", "callback-ip"])
    assert result.exit_code == 0, result.output
    assert "127.0.0.1" in result.output.split()


def test_unknown_account_is_a_clear_error(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["wechat", "token", "--account", "nope"])
    assert result.exit_code == 1
    assert "no WeChat account named 'nope'" in result.output


def test_quota_shows_todays_counts(app: Flask, sandbox: Sandbox) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["wechat", "callback-ip"]).exit_code == 0
    result = runner.invoke(args=["wechat", "quota", "/cgi-bin/getcallbackip"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "used:        1" in lines
    assert "daily_limit: 100000" in lines
    assert "remain:      99999" in lines


def test_quota_of_an_unknown_path_is_one_error_line(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["wechat", "quota", "/cgi-bin/nope"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith("Error: WeChat API error 76021")


def test_rid_looks_a_failed_call_up_without_credentials(app: Flask, sandbox: Sandbox) -> None:
    with app.app_context():
        client = app.extensions["wechat"].client()
        token = client.access_token
        sandbox.fail("/cgi-bin/getcallbackip", 45011)
        with pytest.raises(APIError) as caught:
            client.callback_ip()
    rid = caught.value.rid
    assert rid is not None
    result = app.test_cli_runner().invoke(args=["wechat", "rid", rid])
    assert result.exit_code == 0, result.output
    assert "request_url:" in result.output
    assert "access_token=***" in result.output
    assert token not in result.output
    assert token[:6] not in result.output
    assert SANDBOX_APP_SECRET not in result.output
    assert "45011" in result.output


def test_hide_credentials_in_queries_and_json() -> None:
    shown = hide_credentials(
        'appid=wx1&secret=S3CRET&code=C0DE {"access_token":"T0KEN","refresh_token": "R",'
        ' "errcode":40001,"grant_type":"authorization_code"}'
    )
    for value in ("S3CRET", "C0DE", "T0KEN", '"R"'):
        assert value not in shown
    assert "appid=wx1" in shown
    assert '"errcode":40001' in shown
    assert "authorization_code" in shown


def test_unreachable_api_is_one_error_line(make_app: AppFactory) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    app, _wechat = make_app(WECHAT_API_BASE_URL=f"http://127.0.0.1:{port}")
    for args in (
        ["wechat", "quota", "/cgi-bin/token"],
        ["wechat", "rid", "6638c156-2d826832-17af344b"],
    ):
        result = app.test_cli_runner().invoke(args=args)
        assert result.exit_code == 1
        assert result.output.startswith("Error: ")
        assert result.output.count("\n") == 1
        assert APP_SECRET not in result.output
