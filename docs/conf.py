"""Sphinx configuration for the flask_wechat documentation.

Built by ``make docs`` with ``-W --keep-going``: every warning fails the build.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The package from this source tree (not whatever else may be installed), and the
# local extension that renders the configuration table.
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE / "_ext"))

import flask_wechat  # noqa: E402

project = "flask_wechat"
author = "the flask_wechat authors"
copyright = "the flask_wechat authors"
release = flask_wechat.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
    "wechat_config",
]

language = "en"
root_doc = "index"
exclude_patterns = ["_build"]
templates_path: list[str] = []

html_theme = "furo"
html_title = f"flask_wechat {release}"
html_static_path: list[str] = []

# Type hints go into the description of each parameter, where they read better
# than in long signatures. Cross-references that do not resolve are not errors
# (nitpicky off): the package's annotations name many third-party types.
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
}
nitpicky = False

# No network access is needed to build: intersphinx only links when its inventories
# are reachable, and an unreachable one is a warning we do not want to fail on.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}

# Nothing is suppressed. The one object autodoc cannot inspect is
# flask_wechat.oauth.current_wechat_user, a proxy that only resolves inside a
# request: api.rst excludes it from the automodule and describes it by hand.
suppress_warnings: list[str] = []
