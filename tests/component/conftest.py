"""A site serving authorizers through a third-party platform on the sandbox."""

from __future__ import annotations

import typing as t
from urllib.parse import unquote

import pytest
from flask import Flask

from flask_wechat import WeChat
from flask_wechat.sandbox import Sandbox
from flask_wechat.sandbox.component import FakeComponent
from flask_wechat.tasks import InlineRunner

COMPONENT_APP_ID = "wxcomponent0000001"
AUTHORIZER = "wx0123456789abcdef"


class Site(t.NamedTuple):
    app: Flask
    wechat: WeChat
    component: FakeComponent


def make_site(sandbox: Sandbox, *, wechat: WeChat | None = None, **config: t.Any) -> Site:
    """A site with only a third-party platform (no account of its own), tasks inline."""
    fake = sandbox.register_component(COMPONENT_APP_ID)
    app = Flask("component_site")
    app.config.update(TESTING=True, **fake.flask_config())
    app.config.update(config)
    wechat = wechat or WeChat(task_runner=InlineRunner(backoff=0.01))
    wechat.init_app(app)
    return Site(app, wechat, fake)


def connect(site: Site, app_id: str = AUTHORIZER, **grant: t.Any) -> str:
    """Push a ticket, then have ``app_id`` authorize the platform through the
    授权页 and the site finish it; returns the AppID."""
    client = site.app.test_client()
    assert site.component.push_ticket(client) == 200
    with site.app.app_context():
        component = site.wechat.component
        assert component is not None
        url = component.authorize_url("https://site.example/done")
        pre_auth_code = url.split("pre_auth_code=", 1)[1].split("&", 1)[0]
        code = site.component.authorize(unquote(pre_auth_code), app_id, **grant)
        component.finish_authorization(code)
    return app_id


@pytest.fixture
def site(sandbox: Sandbox) -> Site:
    return make_site(sandbox)
