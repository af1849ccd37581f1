"""pytest fixtures for apps that use flask_wechat (registered as a ``pytest11`` plugin).

* ``wechat_client`` needs an ``app`` fixture in your test suite returning the Flask
  app; it is a :class:`flask_wechat.testing.WeChatTestClient` for the default account.
* ``wechat_sandbox`` is a running :class:`flask_wechat.sandbox.Sandbox` (a fake WeChat
  API over real HTTP on loopback), one per test module, with its faults, traffic and
  data reset before and after each test. ``sandbox`` is the same fixture under a
  shorter name (a ``sandbox`` fixture of your own takes precedence).

Fixtures run after your app factory is imported but before your ``app`` fixture is
built, so point the app at the sandbox in that fixture::

    @pytest.fixture
    def app(wechat_sandbox):
        return create_app(wechat_sandbox.flask_config("mp"))
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator

import pytest

from .sandbox import Sandbox
from .testing import DEFAULT_USER, WeChatTestClient

if t.TYPE_CHECKING:
    from flask import Flask


@pytest.fixture
def wechat_client(app: Flask) -> WeChatTestClient:
    """A :class:`~flask_wechat.testing.WeChatTestClient` for ``app``'s default account."""
    return WeChatTestClient(app)


@pytest.fixture(scope="module")
def wechat_sandbox_server() -> Iterator[Sandbox]:
    """A running sandbox shared by the tests of one module (use ``wechat_sandbox``)."""
    with Sandbox() as server:
        yield server


@pytest.fixture
def wechat_sandbox(wechat_sandbox_server: Sandbox) -> Iterator[Sandbox]:
    """The module's sandbox, reset (data included) before and after the test.

    The test client's default user (:data:`~flask_wechat.testing.DEFAULT_USER`)
    has just written to the Official Account, so — as in WeChat — the account may
    answer it by customer-service message within 48 hours.
    """
    wechat_sandbox_server.reset(data=True)
    wechat_sandbox_server.user_wrote(DEFAULT_USER)
    yield wechat_sandbox_server
    wechat_sandbox_server.reset(data=True)


@pytest.fixture
def sandbox(wechat_sandbox: Sandbox) -> Sandbox:
    """``wechat_sandbox`` under a shorter name."""
    return wechat_sandbox
