"""The test matrix: every supported Python, and the oldest declared dependencies.

Run with ``make matrix`` (which puts pyenv's interpreters on ``PATH``) or
``nox -s tests-3.12``. The packaging tests are left to ``make test``.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
PYTEST = ("pytest", "-m", "not packaging")
#: the package with the extras the suite exercises, and the test tools (not published).
TEST_INSTALL = (".[redis,rq,celery,otel]", "-r", str(ROOT / "requirements" / "test.txt"))

nox.options.sessions = [*(f"tests-{v}" for v in PYTHONS), "tests-minimum"]
nox.options.reuse_existing_virtualenvs = True


def minimum_constraints(extras: tuple[str, ...] = ()) -> list[str]:
    """``name==X`` for every ``name>=X`` in setup.cfg's requirements and ``extras``."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    lines = config["options"]["install_requires"].splitlines()
    for extra in extras:
        lines += config["options.extras_require"][extra].splitlines()
    pins = []
    for line in lines:
        found = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*>=\s*([^,;\s]+).*", line)
        if found:
            pins.append(f"{found[1]}=={found[2]}")
    return sorted(set(pins), key=str.lower)


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite on one Python, with the newest dependencies."""
    session.install(*TEST_INSTALL)
    session.run(*PYTEST, *session.posargs)


@nox.session(name="tests-minimum", python=PYTHONS[0])
def tests_minimum(session: nox.Session) -> None:
    """The test suite on the oldest Python with the lowest versions of the runtime
    requirements setup.cfg allows. The test tools and the optional queue clients
    resolve to their newest: newer kombu checks at run time for a redis-py (6.1)
    newer than our own lowest, without declaring it, so pinning every extra at its
    floor tests a combination no site installs."""
    constraints = Path(session.create_tmp()) / "minimum.txt"
    constraints.write_text("\n".join(minimum_constraints()) + "\n", encoding="utf-8")
    session.log("constraints:\n" + constraints.read_text(encoding="utf-8"))
    session.install("-c", str(constraints), *TEST_INSTALL)
    session.run("pip", "freeze")
    session.run(*PYTEST, *session.posargs)
