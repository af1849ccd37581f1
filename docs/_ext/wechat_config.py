"""A ``wechat-config-table`` directive: the configuration keys as a table.

The table is built from the package itself, so it cannot drift from the code.
``flask_wechat.config.SETTINGS`` (entries with ``.key``, ``.default`` and ``.doc``)
is used when the package has it; otherwise ``flask_wechat.config.DEFAULTS``
(a dict of key → default) gives the keys and defaults without descriptions.
"""

from __future__ import annotations

import re
import typing as t

from docutils import nodes
from docutils.parsers.rst import Directive

from flask_wechat import config

if t.TYPE_CHECKING:
    from sphinx.application import Sphinx


def _rows() -> tuple[list[str], list[list[str]]]:
    settings = getattr(config, "SETTINGS", None)
    if settings is not None:
        entries = settings.values() if isinstance(settings, dict) else settings
        return ["Key", "Default", "Meaning"], [
            [s.key, _default(s.default), str(s.doc or "")] for s in entries
        ]
    return ["Key", "Default"], [[key, _default(value)] for key, value in config.DEFAULTS.items()]


def _default(value: object) -> str:
    return "" if value is None else repr(value)


#: `code` in a setting's description (the README's Markdown notation).
_CODE = re.compile(r"`([^`]+)`")


def inline(text: str) -> list[nodes.Node]:
    """``text`` as docutils nodes: each `quoted` part a literal, the rest plain text,
    so that the rendered table shows code, not backticks."""
    found: list[nodes.Node] = []
    for index, part in enumerate(_CODE.split(text)):
        if part:
            found.append(nodes.literal(part, part) if index % 2 else nodes.Text(part))
    return found


def _cell(text: str, literal: bool) -> nodes.entry:
    entry = nodes.entry()
    if text:
        entry += nodes.paragraph(
            "", "", *([nodes.literal(text, text)] if literal else inline(text))
        )
    return entry


class ConfigTable(Directive):
    """Render the ``WECHAT_*`` keys, their defaults and (when known) their meaning."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        header, rows = _rows()
        table = nodes.table(classes=["wechat-config"])
        group = nodes.tgroup(cols=len(header))
        table += group
        for width in (3, 2, 6)[: len(header)]:
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        head_row = nodes.row()
        for title in header:
            head_row += _cell(title, literal=False)
        head += head_row
        group += head
        body = nodes.tbody()
        for cells in rows:
            row = nodes.row()
            for index, text in enumerate(cells):
                row += _cell(text, literal=index < 2)
            body += row
        group += body
        return [table]


def setup(app: Sphinx) -> dict[str, t.Any]:
    app.add_directive("wechat-config-table", ConfigTable)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
