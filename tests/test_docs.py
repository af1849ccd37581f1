"""What the README and docs/ tell a reader to run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.rst"))]
DISTRIBUTION = "flask-wechat-connect"


def test_every_pip_install_of_ours_names_our_distribution() -> None:
    """``flask-wechat`` on PyPI is an unrelated project: installing it breaks a venv."""
    wrong = []
    for path in DOCS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "pip install" not in line:
                continue
            for name in re.findall(r"flask-wechat[-\w]*", line):
                if name != DISTRIBUTION:
                    wrong.append(f"{path.name}:{number}: {line.strip()}")
    assert wrong == []
    assert any(DISTRIBUTION in path.read_text(encoding="utf-8") for path in DOCS)
