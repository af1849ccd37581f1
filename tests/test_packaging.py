"""The distributions: what ``python -m build`` puts in the wheel and the sdist.

Building takes a while (an isolated build environment is set up each time), so
these tests are marked ``packaging``; deselect them with ``-m "not packaging"``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("build", reason="the 'build' package is in requirements/dev.txt")

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Build the sdist and, from it, the wheel; yield their paths."""
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    (out / "build.log").write_text(result.stdout + result.stderr, encoding="utf-8")
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return sdist, wheel


def test_wheel_carries_the_package_typing_marker_and_licence(dists: tuple[Path, Path]) -> None:
    _, wheel = dists
    assert wheel.name.startswith("flask_wechat_connect-")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "flask_wechat/__init__.py" in names
    assert "flask_wechat/py.typed" in names
    assert "flask_wechat/sandbox/__init__.py" in names
    licences = (".dist-info/licenses/LICENSE", ".dist-info/LICENSE")
    assert any(n.endswith(licences) for n in names), names
    assert not [n for n in names if n.startswith(("tests/", "example_app/", "bench/", "docs/"))]
    assert not [n for n in names if "__pycache__" in n]


def test_sdist_carries_tests_and_example(dists: tuple[Path, Path]) -> None:
    sdist, _ = dists
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    top = names[0].split("/")[0]
    inside = {n.removeprefix(top + "/") for n in names}
    for wanted in (
        "LICENSE",
        "CHANGES.md",
        "Makefile",
        "noxfile.py",
        "pyproject.toml",
        "setup.cfg",
        "flask_wechat/py.typed",
        "tests/conftest.py",
        "tests/api/conftest.py",
        "tests/blueprints/test_mp.py",
        "example_app/__init__.py",
        "example_app/templates/index.html",
        "bench/callback.py",
        "docs/conf.py",
        "docs/_ext/wechat_config.py",
        "docs/recipes/rq/mysite.py",
        "conftest.py",
        "requirements/dev.txt",
        "requirements/bench.txt",
    ):
        assert wanted in inside, wanted
    assert not [n for n in inside if "__pycache__" in n or n.startswith("docs/_build")]


def test_sdist_tests_collect(dists: tuple[Path, Path], tmp_path: Path) -> None:
    sdist, _ = dists
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path, filter="data")
    (unpacked,) = tmp_path.iterdir()
    env = {**os.environ, "PYTHONPATH": ""}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q"],
        check=False,
        cwd=unpacked,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout.lower().splitlines()[-1], result.stdout
    assert "tests/test_packaging.py" in result.stdout


def test_metadata_publishes_only_what_sites_install(dists: tuple[Path, Path]) -> None:
    """The extras a site installs (redis, rq, celery, otel), not the project's own tools
    (those are in requirements/), and a licence without the deprecated classifier."""
    _, wheel = dists
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(name).decode("utf-8")
    extras = {line.split(":", 1)[1].strip() for line in metadata.splitlines()
              if line.startswith("Provides-Extra:")}  # fmt: skip
    assert extras == {"redis", "rq", "celery", "otel"}
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    for tool in ("pytest", "sybil", "sphinx", "mypy", "ruff", "wechatpy", "nox"):
        assert not [line for line in requires if tool in line], tool
    assert "License :: " not in metadata
    log = (wheel.parent / "build.log").read_text(encoding="utf-8")
    assert "License classifiers are deprecated" not in log


def test_requirements_files_install_what_the_extras_used_to() -> None:
    """The Makefile and noxfile install the tools from requirements/; dev lists each
    tool once."""
    requirements = ROOT / "requirements"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "-r requirements/dev.txt" in makefile
    assert "-r requirements/bench.txt" in makefile
    assert "requirements" in (ROOT / "noxfile.py").read_text(encoding="utf-8")
    names: list[str] = []
    for file in ("dev.txt", "test.txt", "docs.txt"):
        for line in (requirements / file).read_text(encoding="utf-8").splitlines():
            requirement = line.split("#", 1)[0].strip()
            if requirement and not requirement.startswith("-r"):
                names.append(requirement.split(">=")[0].split("==")[0])
    assert len(names) == len(set(names)), names
    assert names.count("mypy") == 1
    assert "wechatpy" in (requirements / "bench.txt").read_text(encoding="utf-8")
