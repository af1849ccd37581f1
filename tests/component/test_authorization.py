"""Authorizing the platform, the ticket, and the component_access_token."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
import requests

from flask_wechat import signals
from flask_wechat.errors import TokenUnavailable
from flask_wechat.sandbox import Sandbox
from flask_wechat.testing import recording

from .conftest import AUTHORIZER, Site, connect


def test_no_component_token_before_a_ticket(site: Site) -> None:
    with site.app.app_context():
        component = site.wechat.component
        assert component is not None
        with pytest.raises(TokenUnavailable, match="component_verify_ticket"):
            _ = component.access_token
    assert site.component.component_token_requests == 0


def test_the_ticket_is_kept_and_signalled_without_a_payload(site: Site) -> None:
    with recording(signals.component_ticket_received, site.app) as received:
        assert site.component.push_ticket(site.app.test_client()) == 200
    assert received.calls == [{"sender": site.app}]
    with site.app.app_context():
        component = site.wechat.component
        assert component is not None
        assert component.ticket_age() is not None
        token = component.access_token
        assert component.access_token == token  # cached
    assert site.component.component_token_requests == 1


def test_a_newer_ticket_replaces_the_old_one(site: Site) -> None:
    client = site.app.test_client()
    for _ in range(3):  # the sandbox accepts only the latest two
        site.component.push_ticket(client)
    with site.app.app_context():
        assert site.wechat.component is not None
        assert site.wechat.component.access_token


def test_authorize_url_and_finish(site: Site, sandbox: Sandbox) -> None:
    site.component.push_ticket(site.app.test_client())
    with site.app.app_context():
        component = site.wechat.component
        assert component is not None
        url = component.authorize_url("https://site.example/done", auth_type=1)
        assert url.startswith(sandbox.url + "/cgi-bin/componentloginpage?")
        assert "component_appid=wxcomponent0000001" in url
        assert "auth_type=1" in url
        mobile = component.authorize_url("https://site.example/done", mobile=True)
        assert "bindcomponent" in mobile
        assert mobile.endswith("#wechat_redirect")
    # the sandbox's 授权页 authorizes and redirects back with an auth_code
    page = requests.get(url, allow_redirects=False, timeout=5)
    assert page.status_code == 302
    location = page.headers["Location"]
    assert location.startswith("https://site.example/done?auth_code=")
    code = location.split("auth_code=", 1)[1].split("&", 1)[0]
    again = requests.get(url, allow_redirects=False, timeout=5)
    assert again.status_code == 400  # a pre_auth_code is used once
    with site.app.app_context():
        component = site.wechat.component
        assert component is not None
        authorizer = component.finish_authorization(unquote(code))
        assert authorizer.app_id.startswith("wx")
        assert 1 in authorizer.permissions
        assert list(component.authorizers()) == [authorizer.app_id]


def test_authorizer_client_calls_the_api_on_its_own_token(site: Site, sandbox: Sandbox) -> None:
    connect(site)
    sandbox.user_wrote("oUser", app_id=AUTHORIZER)
    with site.app.app_context():
        client = site.wechat.client(AUTHORIZER)
        client.customer_service.send_text("oUser", "hello")
        assert site.wechat.component is not None
        assert site.wechat.component.client(AUTHORIZER) is client
    assert sandbox.sent[-1]["app_id"] == AUTHORIZER
    assert sandbox.sent[-1]["text"] == {"content": "hello"}
