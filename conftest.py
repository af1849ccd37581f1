"""Every code block in README.md and docs/ runs in the test suite, through Sybil.

Python blocks run in order, one namespace per document (a block may use what an
earlier one defined); shell blocks are checked, not run: every command, option,
extra and make target they name must exist (:mod:`tests.docs_support`). A block that
cannot run here says why in a ``skip`` directive next to it.
"""

from __future__ import annotations

from sybil import Sybil
from sybil.parsers.markdown import CodeBlockParser as MarkdownCodeBlockParser
from sybil.parsers.markdown import PythonCodeBlockParser as MarkdownPythonParser
from sybil.parsers.markdown import SkipParser as MarkdownSkipParser
from sybil.parsers.rest import CodeBlockParser as RestCodeBlockParser
from sybil.parsers.rest import PythonCodeBlockParser as RestPythonParser
from sybil.parsers.rest import SkipParser as RestSkipParser

from tests.docs_support import (
    SHELL_LANGUAGES,
    TEMPLATE_LANGUAGES,
    check_shell_block,
    docs_setup,
    docs_teardown,
    render_template_block,
)

markdown = Sybil(
    parsers=[
        MarkdownPythonParser(),
        *(MarkdownCodeBlockParser(language, check_shell_block) for language in SHELL_LANGUAGES),
        *(MarkdownCodeBlockParser(lang, render_template_block) for lang in TEMPLATE_LANGUAGES),
        MarkdownSkipParser(),
    ],
    patterns=["README.md"],
    setup=docs_setup,
    teardown=docs_teardown,
)
rest = Sybil(
    parsers=[
        RestPythonParser(),
        *(RestCodeBlockParser(language, check_shell_block) for language in SHELL_LANGUAGES),
        *(RestCodeBlockParser(lang, render_template_block) for lang in TEMPLATE_LANGUAGES),
        RestSkipParser(),
    ],
    patterns=["docs/*.rst"],
    setup=docs_setup,
    teardown=docs_teardown,
)
pytest_collect_file = (markdown + rest).pytest()
