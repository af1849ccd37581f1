"""The site's own test set-up: an ``app`` fixture, which the ``wechat_client``
fixture of flask_wechat's pytest plugin uses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from flask_wechat.sandbox import Sandbox

from . import create_app, models

AES_KEY = "siteSiteSiteSiteSiteSiteSiteSiteSiteSiteS43"


@pytest.fixture(scope="module")
def wechat_api() -> Iterator[Sandbox]:
    """WeChat's API, played on loopback."""
    with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def app(wechat_api: Sandbox) -> Iterator[Flask]:
    wechat_api.reset(data=True)
    models.reset()
    app = create_app(
        {
            "TESTING": True,
            **wechat_api.flask_config("mp"),
            "WECHAT_TOKEN": "site-token",
            "WECHAT_ENCODING_AES_KEY": AES_KEY,
        }
    )
    yield app
    models.reset()
