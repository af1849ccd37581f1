"""What the documentation's blocks run in (see the root ``conftest.py``).

Every document starts with ``app`` and ``wechat``: the reader's site, an Official
Account app (testing, with a Token and an EncodingAESKey) whose WeChat API is a
loopback :class:`~flask_wechat.sandbox.Sandbox` (``docs_sandbox``; the docs' own
examples may start a ``sandbox`` of their own). A block that defines its own
``app`` replaces it, as the Quickstart does. ``Flask`` and ``WeChat`` are imported,
``open_id`` is a follower of the sandbox's account, and the working directory is a
fresh one holding the ``photo.jpg`` that examples upload.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.metadata
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import typing as t
from pathlib import Path

import click
from Crypto.Cipher import AES
from Crypto.Util.Padding import pad
from flask import Flask, render_template_string
from sybil import Example

from flask_wechat import WeChat
from flask_wechat.cli import wechat_cli
from flask_wechat.config import SETTINGS
from flask_wechat.sandbox import SANDBOX_OPENID, Sandbox
from flask_wechat.sandbox import __main__ as sandbox_main

ROOT = Path(__file__).resolve().parent.parent
# gunicorn's --chdir defaults to the directory it is first imported in: here, not a
# document's temporary one (gone by the time another check builds a Config).
with contextlib.suppress(ImportError):  # only the shell checks that name it need it
    import gunicorn.config  # noqa: F401

DISTRIBUTION = "flask-wechat-connect"
SHELL_LANGUAGES = ("sh", "console")
TEMPLATE_LANGUAGES = ("html+jinja",)
#: settings that are numbers, which from_prefixed_env() may parse from JSON as they are.
NUMERIC = {"WECHAT_REPLAY_WINDOW", "WECHAT_DEDUP_TTL", "WECHAT_REPLY_DEADLINE", "WECHAT_AGENT_ID"}


#: a file the examples upload (the sandbox checks a file's type and size, not pixels).
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64) + b"\xff\xd9"


def docs_setup(namespace: dict[str, t.Any]) -> None:
    """A fresh site and sandbox for one document, in a working directory of its
    own that holds the ``photo.jpg`` the examples upload."""
    directory = tempfile.TemporaryDirectory(prefix="flask-wechat-docs-")
    (Path(directory.name) / "photo.jpg").write_bytes(PHOTO)
    namespace["_previous_directory"] = os.getcwd()
    namespace["_directory"] = directory
    os.chdir(directory.name)
    sandbox = Sandbox().start()
    app = Flask("docs_site")
    app.config.update(
        TESTING=True,
        SECRET_KEY="docs-secret",
        WECHAT_TOKEN="docs-token",
        WECHAT_ENCODING_AES_KEY=base64.b64encode(os.urandom(32)).decode().rstrip("="),
        **sandbox.flask_config("mp"),
    )
    namespace.update(
        __name__="docs_site",
        docs_sandbox=sandbox,
        app=app,
        wechat=WeChat(app),
        open_id=SANDBOX_OPENID,
        wechat_user_data=wechat_user_data,
        # what every page takes as imported
        Flask=Flask,
        WeChat=WeChat,
    )


def docs_teardown(namespace: dict[str, t.Any]) -> None:
    namespace["docs_sandbox"].stop()
    os.chdir(namespace["_previous_directory"])
    namespace["_directory"].cleanup()


# -- templates -------------------------------------------------------------------------


def render_template_block(example: Example) -> None:
    """Render an ``html+jinja`` block in a page of a site on the document's sandbox."""
    sandbox: Sandbox = example.namespace["docs_sandbox"]
    site = Flask("docs_page")
    site.config.update(sandbox.flask_config("mp"), WECHAT_CALLBACK_URL=None)
    WeChat(site)
    with site.test_request_context("/page?x=1", base_url="https://example.com"):
        html = render_template_string(str(example.parsed))
    assert "wx.config(" in html, html
    assert "{{" not in html


# -- shell blocks ------------------------------------------------------------------------
#
# Shell blocks are not run (they install packages, start servers and workers), except
# ``python -c`` one-liners; every command in them is checked instead: its program is
# one the docs may name, and each make target, extra, subcommand and option it uses
# exists. An unknown program fails the block, so a new kind of command gets a rule.


def check_shell_block(example: Example) -> None:
    """Check every command of a ``sh`` block (see above)."""
    for line in logical_lines(str(example.parsed)):
        check_command(shlex.split(line, comments=True))


def logical_lines(source: str) -> list[str]:
    """The block's commands: continuation lines joined."""
    return [line for line in source.replace("\\\n", " ").splitlines() if line.strip()]


def check_command(words: list[str]) -> None:
    if not words:
        return
    program, args = words[0], words[1:]
    checks: dict[str, t.Callable[[list[str]], None]] = {
        "make": check_make,
        "pip": check_pip,
        "python": check_python,
        "export": check_export,
        "flask": check_flask,
        "gunicorn": check_gunicorn,
        "rq": check_rq,
        "celery": check_celery,
    }
    assert program in checks, f"a shell block runs {program!r}, which the docs checks do not know"
    checks[program](args)


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][\w-]*):", text, re.MULTILINE))


def check_make(args: list[str]) -> None:
    for target in args:
        assert target in makefile_targets(), f"make {target}: no such target in the Makefile"


def published_extras() -> set[str]:
    return set(importlib.metadata.metadata(DISTRIBUTION).get_all("Provides-Extra") or [])


def check_pip(args: list[str]) -> None:
    assert args[:1] == ["install"], f"pip {' '.join(args)}"
    for requirement in args[1:]:
        found = re.fullmatch(r"flask-wechat-connect(?:\[([\w,-]+)\])?", requirement)
        if requirement.startswith("flask") and "wechat" in requirement:
            assert found, f"pip install {requirement}: not our distribution, {DISTRIBUTION}"
        if found and found[1]:
            for extra in found[1].split(","):
                assert extra in published_extras(), f"{requirement}: no extra {extra!r}"


def check_python(args: list[str]) -> None:
    if args[:1] == ["-c"]:
        result = subprocess.run(
            [sys.executable, *args], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, f"python -c exited {result.returncode}: {result.stderr}"
        return
    assert args[:2] == ["-m", "flask_wechat.sandbox"], f"python {' '.join(args)}"
    sandbox_main.parse_args(args[2:])  # exits (SystemExit) on an unknown option


def check_export(args: list[str]) -> None:
    for assignment in args:
        name, _, value = assignment.partition("=")
        if name.startswith("FLASK_WECHAT_"):
            key = name.removeprefix("FLASK_")
            assert key in {setting.key for setting in SETTINGS}, f"{name}: no setting {key}"
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = value
            # from_prefixed_env() parses JSON: the docs must quote what would not be text.
            assert not isinstance(parsed, (int, float)) or key in NUMERIC, f"{assignment}"


def check_flask(args: list[str]) -> None:
    if args[:1] == ["--app"]:
        args = args[2:]
    if args[:1] == ["run"]:
        return
    assert args[:1] == ["wechat"], f"flask {' '.join(args)}"
    check_click(wechat_cli, args[1:])


def check_rq(args: list[str]) -> None:
    from rq.cli.cli import main  # only when a block names it

    check_click(main, args)


def check_celery(args: list[str]) -> None:
    from celery.bin.celery import celery  # only when a block names it

    check_click(celery, args)


def check_gunicorn(args: list[str]) -> None:
    from gunicorn.config import Config  # only when a block names it

    parsed = Config().parser().parse_args(args)
    # One worker class throughout the docs, the one they recommend for the deadline.
    assert parsed.worker_class == "gthread", f"gunicorn {' '.join(args)}: use -k gthread"
    (application,) = parsed.args
    assert re.fullmatch(r"mysite:create_app\(\)", application), application


def check_click(command: click.Command, args: list[str]) -> None:
    """Every subcommand and option in ``args`` exists (values are not checked)."""
    words = iter(args)
    for word in words:
        if word.startswith("-"):
            name = word.split("=", 1)[0]
            options = {
                opt: param
                for param in command.params
                if isinstance(param, click.Option)
                for opt in (*param.opts, *param.secondary_opts)
            }
            assert name in options, f"{command.name}: no option {name}"
            if not options[name].is_flag and not options[name].count and "=" not in word:
                next(words, None)
        elif isinstance(command, click.Group):
            found = command.commands.get(word)
            assert found is not None, f"{command.name}: no command {word!r}"
            command = found


def wechat_user_data(app: Flask, sandbox: Sandbox, open_id: str) -> tuple[str, str, str, str]:
    """``(encryptedData, iv, rawData, signature)`` as ``wx.getUserInfo`` gives a
    mini program, made with the session_key the sandbox issued to ``open_id``."""
    session_key = sandbox.session_key_for(open_id)
    assert session_key is not None
    raw_data = json.dumps({"nickName": "小明"}, ensure_ascii=False)
    plain = json.dumps(
        {"openId": open_id, "watermark": {"appid": app.config["WECHAT_APP_ID"], "timestamp": 0}}
    ).encode()
    iv = os.urandom(16)
    cipher = AES.new(base64.b64decode(session_key), AES.MODE_CBC, iv=iv)
    encrypted = cipher.encrypt(pad(plain, 16, style="pkcs7"))
    signature = hashlib.sha1((raw_data + session_key).encode()).hexdigest()
    return (
        base64.b64encode(encrypted).decode(),
        base64.b64encode(iv).decode(),
        raw_data,
        signature,
    )
