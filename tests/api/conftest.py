"""Fixtures for the API tests: one sandbox (a real HTTP fake of the WeChat API)
per session, and per test a fresh app whose client talks to it."""

from __future__ import annotations

import contextlib
import typing as t
from collections.abc import Iterator

import pytest
from flask import Flask

from flask_wechat import WeChat
from flask_wechat.sandbox import (
    SANDBOX_APP_ID,
    SANDBOX_APP_SECRET,
    SANDBOX_CORP_ID,
    SANDBOX_CORP_SECRET,
    Sandbox,
)

if t.TYPE_CHECKING:
    from flask_wechat.api import Client

WORK_TOKEN = "work-token"
# 43 characters, as the WeCom admin console generates them.
WORK_AES_KEY = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
WORK_AGENT_ID = 1000002

#: ``make_client(**config) -> Client``: a client of a fresh app with ``config``.
ClientFactory = t.Callable[..., "Client"]


def posted(sandbox: Sandbox, path: str) -> list[dict[str, t.Any]]:
    """The JSON bodies the sandbox received at ``path``, in order."""
    return [dict(c.json) for c in sandbox.calls if c.path == path and isinstance(c.json, dict)]


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    """The sandbox, started once for the whole session."""
    with Sandbox() as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Iterator[Sandbox]:
    """The sandbox with its data and traffic back at the start, for each test."""
    page_size = sandbox_server.page_size
    sandbox_server.reset(data=True)
    yield sandbox_server
    sandbox_server.page_size = page_size
    sandbox_server.reset(data=True)


@pytest.fixture
def make_client(sandbox: Sandbox) -> Iterator[ClientFactory]:
    """Build an app pointed at the sandbox and get its client the public way,
    ``wechat.client()`` inside the app's context (kept until the test ends)."""
    with contextlib.ExitStack() as stack:

        def make(**config: t.Any) -> Client:
            app = Flask("api_test_app")
            app.config.update(
                TESTING=True,
                WECHAT_CALLBACK_URL=None,
                WECHAT_API_BASE_URL=sandbox.url,
            )
            app.config.update(config)
            wechat = WeChat(app)
            stack.enter_context(app.app_context())
            return wechat.client()

        yield make


@pytest.fixture
def client(make_client: ClientFactory) -> Client:
    """An API-only Official Account's client."""
    return make_client(WECHAT_APP_ID=SANDBOX_APP_ID, WECHAT_APP_SECRET=SANDBOX_APP_SECRET)


@pytest.fixture
def work_client(make_client: ClientFactory) -> Client:
    """A WeCom app's client, API only (no callback URL). The Token and the
    EncodingAESKey every WeCom callback needs are configured all the same."""
    return make_client(
        WECHAT_KIND="work",
        WECHAT_APP_ID=SANDBOX_CORP_ID,
        WECHAT_APP_SECRET=SANDBOX_CORP_SECRET,
        WECHAT_AGENT_ID=WORK_AGENT_ID,
        WECHAT_TOKEN=WORK_TOKEN,
        WECHAT_ENCODING_AES_KEY=WORK_AES_KEY,
    )
