"""Authorizer tokens: rotation, 61023 recovery, NotAuthorized, token refusal."""

from __future__ import annotations

import pytest

from flask_wechat.errors import NotAuthorized
from flask_wechat.sandbox import Sandbox

from .conftest import AUTHORIZER, Site, connect


def _refresh_token(site: Site) -> str:
    with site.app.app_context():
        component = site.wechat.component
        assert component is not None
        record = component.authorizer_store.get(AUTHORIZER)
        assert record is not None
        return str(record["refresh_token"])


def test_the_rotated_refresh_token_is_saved_every_time(site: Site, sandbox: Sandbox) -> None:
    connect(site)
    first = _refresh_token(site)
    with site.app.app_context():
        client = site.wechat.client(AUTHORIZER)
        client.refresh_access_token()
        second = _refresh_token(site)
        client.refresh_access_token()
        third = _refresh_token(site)
    assert len({first, second, third}) == 3
    assert third == site.component.authorizers[AUTHORIZER].refresh_token


def test_a_stale_refresh_token_is_recovered_from_the_list(site: Site) -> None:
    connect(site)
    current = site.component.rotate_refresh_token(AUTHORIZER)  # refreshed elsewhere
    with site.app.app_context():
        assert site.wechat.client(AUTHORIZER).access_token
    assert _refresh_token(site) == site.component.authorizers[AUTHORIZER].refresh_token
    assert current in site.component.retired_refresh_tokens  # rotated again since


def test_a_lost_record_is_recovered_from_the_list(site: Site) -> None:
    connect(site)
    with site.app.app_context():
        component = site.wechat.component
        assert component is not None
        component.authorizer_store.delete(AUTHORIZER)
        component.forget(AUTHORIZER)
        assert component.client(AUTHORIZER).access_token
        assert component.authorizer_store.get(AUTHORIZER) is not None


def test_revoked_without_a_push_raises_not_authorized(site: Site) -> None:
    connect(site)
    site.component.revoke(AUTHORIZER)  # the unauthorized push never arrived
    with site.app.app_context():
        client = site.wechat.client(AUTHORIZER)
        with pytest.raises(NotAuthorized) as raised:
            client.refresh_access_token()
        assert raised.value.app_id == AUTHORIZER
        assert site.wechat.component is not None
        assert list(site.wechat.component.authorizers()) == []


def test_a_refused_component_token_is_refreshed(site: Site) -> None:
    connect(site)
    with site.app.app_context():
        component = site.wechat.component
        assert component is not None
        before = component.access_token
        site.component.expire_tokens()
        assert component.pre_auth_code()
        assert component.access_token != before
    assert site.component.component_token_requests == 2
