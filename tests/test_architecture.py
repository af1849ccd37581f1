"""The package's shape: platform differences live in the blueprints only.

The import layering itself is checked by ``lint-imports`` (contracts in pyproject.toml).
"""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "flask_wechat"
# Where branching on the platform belongs: the platform descriptors, and the independent fake.
EXEMPT = ("blueprints", "sandbox")
PLATFORM_BRANCH = re.compile(r"""\bkind\s*(?:==|!=|\bin\b|\bnot\s+in\b)|\.kind\s*==\s*["']""")


def platform_branches() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in EXEMPT:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if PLATFORM_BRANCH.search(line):
                found.append(f"flask_wechat/{relative}:{number}: {line.strip()}")
    return found


def test_the_scan_sees_the_package() -> None:
    assert (PACKAGE / "callback.py").is_file()
    assert PLATFORM_BRANCH.search('if account.kind == "mp":')
    assert PLATFORM_BRANCH.search("if kind in PLATFORMS:")
    assert PLATFORM_BRANCH.search("if kind != 'work':")
    assert not PLATFORM_BRANCH.search('self._prefix = f"{account.kind}:{account.app_id}"')


def test_no_platform_branch_outside_the_blueprints() -> None:
    assert platform_branches() == []
