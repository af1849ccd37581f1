"""What the README and docs/ tell a reader to run."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from flask import Flask

from flask_wechat import WeChat
from flask_wechat.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.rst"))]
DISTRIBUTION = "flask-wechat-connect"
DOCS_EXT = ROOT / "docs" / "_ext"


def test_every_pip_install_of_ours_names_our_distribution() -> None:
    """``flask-wechat`` on PyPI is an unrelated project: installing it breaks a venv."""
    wrong = []
    for path in DOCS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "pip install" not in line:
                continue
            # what is installed: after "pip install", before a comment
            installed = line.split("pip install", 1)[1].split("#", 1)[0]
            for name in re.findall(r"flask[-_]wechat[-\w]*", installed):
                if name != DISTRIBUTION:
                    wrong.append(f"{path.name}:{number}: {line.strip()}")
    assert wrong == []
    assert any(DISTRIBUTION in path.read_text(encoding="utf-8") for path in DOCS)


# -- every name the docs use exists --------------------------------------------------------

#: Names the docs misspell on purpose, to show what happens.
MISSPELT_ON_PURPOSE = {
    "message.contnet": "a misspelt field fails mypy",
    "WECHAT_APPID": "a key close to WECHAT_APP_ID raises ConfigError",
    "WECHAT_ENCODING_AES": "a key close to WECHAT_ENCODING_AES_KEY raises ConfigError",
}
RECIPE_FILES = sorted((ROOT / "docs" / "recipes").rglob("*.py"))


def doc_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in [*DOCS, *RECIPE_FILES])


def names(pattern: str) -> set[str]:
    return set(re.findall(pattern, doc_text()))


def test_every_message_attribute_the_docs_name_exists() -> None:
    from flask_wechat import Message

    named = names(r"\bmessage\.([a-z_]+)\b") - {"contnet"}
    assert {"content", "qr_scene", "scene", "dispatch_name", "source"} <= named
    missing = sorted(name for name in named if not hasattr(Message, name))
    assert missing == []
    assert not hasattr(Message, "contnet")
    assert not hasattr(Message, "kind")  # docs/handlers.rst named it once


def test_every_wechat_key_the_docs_name_is_a_setting() -> None:
    from flask_wechat.config import SETTINGS

    keys = {setting.key for setting in SETTINGS}
    named = names(r"(?<![A-Z_])WECHAT_[A-Z0-9_]*[A-Z0-9]") | {
        key.removeprefix("FLASK_") for key in names(r"\bFLASK_WECHAT_[A-Z0-9_]*[A-Z0-9]")
    }
    on_purpose = {name for name in MISSPELT_ON_PURPOSE if name.startswith("WECHAT_")}
    assert sorted(named - keys - on_purpose) == []
    for wrong in on_purpose:  # they are refused as the docs say
        app = Flask("misspelt")
        app.config.update(WECHAT_TOKEN="t", **{wrong: "x"})
        with pytest.raises(ConfigError, match=wrong):
            WeChat(app)


def test_every_signal_the_docs_name_exists() -> None:
    from flask_wechat import signals

    named = names(r"\bsignals\.([a-z_]+)\b") - {"py"}  # signals.py, the module's file
    assert {"request_rejected", "delivery_failed", "subscribe"} <= named
    assert sorted(name for name in named if not hasattr(signals, name)) == []


def _command(path: list[str]) -> click.Command:
    from flask_wechat.cli import wechat_cli

    command: click.Command = wechat_cli
    for word in path:
        assert isinstance(command, click.Group), f"flask wechat {' '.join(path)}"
        found = command.commands.get(word)
        assert found is not None, f"no command flask wechat {' '.join(path)}"
        command = found
    return command


def _options(command: click.Command) -> set[str]:
    found = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            found |= _options(sub)
    return found


def _cli_mentions(text: str) -> list[tuple[list[str], list[str]]]:
    """``(command path, options)`` for each CLI mention: an inline code span naming
    ``wechat <command>``, and each list item that starts with one (its options are
    spread over several spans)."""
    mentions = []
    command_re = r"\bwechat((?: [a-z][a-z-]*)+)"
    for item in re.findall(r"^\* `+flask wechat [^\n]*(?:\n(?![*\n])[^\n]*)*", text, re.M):
        (path,) = re.findall(command_re, item)[:1]
        mentions.append((path.split(), re.findall(r"(?<![\w-])--[a-z][a-z-]*", item)))
    for span in re.findall(r"`+([^`\n]*\bwechat [a-z][^`\n]*)`+", text):
        ours = span[span.index("wechat ") :]  # flask's own options (--app) come before
        (path,) = re.findall(command_re, ours)[:1]
        mentions.append((path.split(), re.findall(r"(?<![\w-])--[a-z][a-z-]*", ours)))
    return mentions


def test_every_cli_command_and_option_the_docs_name_exists() -> None:
    seen = set()
    for path in DOCS:
        for words, options in _cli_mentions(path.read_text(encoding="utf-8")):
            # the longest prefix of words that is a command: the rest are arguments
            depth = len(words)
            while depth > 1:
                try:
                    _command(words[:depth])
                    break
                except AssertionError:
                    depth -= 1
            command = _command(words[:depth])
            seen.add(" ".join(words[:depth]))
            unknown = set(options) - _options(command)
            assert not unknown, f"{path.name}: flask wechat {' '.join(words)}: {unknown}"
    assert {"token", "simulate", "menu push", "callback-ip", "accounts"} <= seen


def test_every_code_block_is_run_or_checked() -> None:
    """Every block has a language the root conftest runs (python), renders
    (html+jinja) or checks (sh): none is left out by a missing or unknown language,
    and the reST pages have no bare ``::`` literal blocks."""
    from tests.docs_support import SHELL_LANGUAGES, TEMPLATE_LANGUAGES

    handled = {"python", *SHELL_LANGUAGES, *TEMPLATE_LANGUAGES}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    fences = re.findall(r"^```(.*)$", readme, re.M)
    openings = fences[::2]
    assert openings, "no code blocks found"
    assert sorted(set(openings) - handled) == []
    for path in DOCS[1:]:
        text = path.read_text(encoding="utf-8")
        languages = re.findall(r"^\s*\.\. (?:code-block|code|sourcecode)::\s*(\S*)", text, re.M)
        assert sorted(set(languages) - handled) == [], path.name
        bare = [
            line
            for line in text.splitlines()
            if line.rstrip().endswith("::") and not line.lstrip().startswith("..")
        ]
        assert bare == [], f"{path.name}: a literal block runs nowhere: {bare}"


@pytest.mark.parametrize(
    ("command", "complaint"),
    [
        ("make tset", "no such target"),
        ('pip install "flask-wechat-connect[rqq]"', "no extra 'rqq'"),
        ("pip install flask-wechat", "not our distribution"),
        ("flask wechat token --refrsh", "no option --refrsh"),
        ("flask --app mysite wechat simulat text x", "no command 'simulat'"),
        ("gunicorn -w 4 -k sync 'mysite:create_app()'", "use -k gthread"),
        ("rq worker --with-schedulr", "no option --with-schedulr"),
        ("celery -A mysite worker --logleve INFO", "no option --logleve"),
        ("export FLASK_WECHAT_TOKEN=123456", "FLASK_WECHAT_TOKEN=123456"),
        ("curl https://example.com", "do not know"),
        ("python -c 'raise SystemExit(3)'", "python -c exited 3"),
    ],
)
def test_the_shell_checks_catch_what_would_fail(command: str, complaint: str) -> None:
    from tests.docs_support import check_command

    with pytest.raises(AssertionError, match=re.escape(complaint)):
        check_command(shlex.split(command, comments=True))


def test_the_configuration_table_shows_code_not_backticks() -> None:
    import importlib.util

    from docutils import nodes

    spec = importlib.util.spec_from_file_location("wechat_config", DOCS_EXT / "wechat_config.py")
    assert spec is not None
    assert spec.loader is not None
    wechat_config = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wechat_config)
    from flask_wechat.config import SETTINGS

    paragraphs = [nodes.paragraph("", "", *wechat_config.inline(s.doc)) for s in SETTINGS]
    assert all("`" not in paragraph.astext() for paragraph in paragraphs)
    literals = {node.astext() for p in paragraphs for node in p.findall(nodes.literal)}
    assert {"mp", "miniprogram", "work", "/cgi-bin/stable_token", "CACHE_*"} <= literals
    assert wechat_config.inline("plain") == [nodes.Text("plain")]


def test_importing_the_package_loads_neither_the_sandbox_nor_the_testing_helpers() -> None:
    """A site's ``import flask_wechat`` (and ``init_app``, which registers the CLI)
    stays small: the sandbox and the testing helpers load only when used."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from flask import Flask\n"
        "import flask_wechat\n"
        "app = Flask('site')\n"
        "app.config.update(WECHAT_TOKEN='t')\n"
        "flask_wechat.WeChat(app)\n"
        "print(sorted(m for m in sys.modules if m.startswith('flask_wechat')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    loaded = result.stdout
    assert "'flask_wechat.extension'" in loaded
    for heavy in ("flask_wechat.sandbox", "flask_wechat.testing", "flask_wechat.simulate"):
        assert f"'{heavy}" not in loaded, heavy


def test_the_api_reference_puts_the_pipeline_among_the_internals() -> None:
    text = (ROOT / "docs" / "api.rst").read_text(encoding="utf-8")
    public, internals = text.split(".. _internals:")
    for module in ("extension", "messages", "replies", "signals", "errors", "crypto",
                   "testing", "sandbox", "contrib", "contrib.rq", "contrib.celery",
                   "store", "tasks", "api.client"):  # fmt: skip
        assert f".. automodule:: flask_wechat.{module}\n" in public, module
    for module in ("callback", "handling", "dedup", "edge", "parsing", "dispatch", "state",
                   "config", "platform", "blueprints"):  # fmt: skip
        assert f".. automodule:: flask_wechat.{module}\n" in internals, module
        assert f".. automodule:: flask_wechat.{module}\n" not in public, module
