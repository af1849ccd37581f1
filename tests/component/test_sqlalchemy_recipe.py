"""The SQLAlchemy authorizer store of docs/component.rst, run as written."""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

import sqlalchemy as sa

from flask_wechat import WeChat
from flask_wechat.sandbox import Sandbox
from flask_wechat.tasks import InlineRunner

from .conftest import AUTHORIZER, connect, make_site

DOCS = Path(__file__).resolve().parents[2] / "docs" / "component.rst"


def recipe() -> dict[str, t.Any]:
    """Execute the recipe's code block; its namespace."""
    text = DOCS.read_text(encoding="utf-8")
    block = text.split("# recipe: sqlalchemy authorizer store\n", 1)[1]
    lines = []
    for line in block.splitlines():
        if line and not line.startswith("   "):
            break
        lines.append(line[3:])
    namespace: dict[str, t.Any] = {}
    exec(compile("\n".join(lines), str(DOCS), "exec"), namespace)
    return namespace


def test_the_recipe_keeps_authorizers_in_sql(sandbox: Sandbox, tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'site.db'}")
    try:
        _keeps_authorizers(sandbox, engine)
    finally:
        engine.dispose()  # its SQLite connections, closed


def _keeps_authorizers(sandbox: Sandbox, engine: sa.Engine) -> None:
    store = recipe()["SQLAuthorizers"](engine)
    site = make_site(
        sandbox, wechat=WeChat(task_runner=InlineRunner(backoff=0.01), authorizer_store=store)
    )
    connect(site)
    with site.app.app_context():
        component = site.wechat.component
        assert component is not None
        assert list(component.authorizers()) == [AUTHORIZER]
        first = store.get(AUTHORIZER)["refresh_token"]
        component.client(AUTHORIZER).refresh_access_token()
        assert store.get(AUTHORIZER)["refresh_token"] != first  # rotated, saved
    # another process (a new store object) reads the same table
    again = recipe()["SQLAuthorizers"](engine)
    assert list(again) == [AUTHORIZER]
    site.component.push_unauthorized(site.app.test_client(), AUTHORIZER)
    assert again.get(AUTHORIZER) is None
    assert list(again) == []


def test_the_docs_show_the_recipe_once() -> None:
    assert len(re.findall("class SQLAuthorizers", DOCS.read_text(encoding="utf-8"))) == 1
