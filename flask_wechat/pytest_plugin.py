"""pytest fixtures for apps that use flask_wechat (registered as a ``pytest11`` plugin).

``wechat_client`` needs an ``app`` fixture in your test suite returning the Flask
app; it is a :class:`flask_wechat.testing.WeChatTestClient` for the default account.
"""

from __future__ import annotations

import typing as t

import pytest

from .testing import WeChatTestClient

if t.TYPE_CHECKING:
    from flask import Flask


@pytest.fixture
def wechat_client(app: Flask) -> WeChatTestClient:
    """A :class:`~flask_wechat.testing.WeChatTestClient` for ``app``'s default account."""
    return WeChatTestClient(app)
