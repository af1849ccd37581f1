"""Pushes to ``auth_url``: authorization events; and the 全网发布 checks."""

from __future__ import annotations

import time

import pytest

from flask_wechat import signals
from flask_wechat.component import RELEASE_TEST_APP_IDS
from flask_wechat.errors import NotAuthorized
from flask_wechat.messages import Message
from flask_wechat.sandbox import Sandbox
from flask_wechat.testing import DEFAULT_USER, WeChatTestClient, recording

from .conftest import AUTHORIZER, Site, connect, make_site

TEST_MP = "wx570bc396a51b8ff8"


def test_authorized_push_saves_the_authorizer_without_the_site(site: Site) -> None:
    client = site.app.test_client()
    site.component.push_ticket(client)
    site.component.grant(AUTHORIZER, permissions=(1, 15))
    with recording(signals.authorizer_authorized, site.app) as authorized:
        assert site.component.push_authorized(client, AUTHORIZER) == 200
    assert authorized.calls[0]["app_id"] == AUTHORIZER
    assert authorized.calls[0]["authorizer"].permissions == (1, 15)
    with site.app.app_context():
        assert site.wechat.component is not None
        assert list(site.wechat.component.authorizers()) == [AUTHORIZER]
        assert site.wechat.client(AUTHORIZER).access_token


def test_updateauthorized_push(site: Site) -> None:
    connect(site)
    client = site.app.test_client()
    with recording(signals.authorizer_updated, site.app) as updated:
        site.component.push_authorized(client, AUTHORIZER, update=True)
    assert [call["app_id"] for call in updated.calls] == [AUTHORIZER]


def test_unauthorized_push_removes_the_authorizer(site: Site) -> None:
    connect(site)
    WeChatTestClient(site.app, AUTHORIZER).text("warm the caches")
    with recording(signals.authorizer_unauthorized, site.app) as gone:
        assert site.component.push_unauthorized(site.app.test_client(), AUTHORIZER) == 200
    assert gone.calls == [{"sender": site.app, "app_id": AUTHORIZER}]
    with site.app.app_context():
        component = site.wechat.component
        assert component is not None
        assert list(component.authorizers()) == []
        with pytest.raises(NotAuthorized, match=AUTHORIZER):
            component.client(AUTHORIZER)
    response = site.app.test_client().post(f"/wechat/component/{AUTHORIZER}", data=b"<xml/>")
    assert response.status_code == 404


def test_a_repeated_push_is_processed_once(site: Site) -> None:
    client = site.app.test_client()
    site.component.push_ticket(client)
    body, query = site.component.envelope(
        {"AppId": site.component.app_id, "CreateTime": 1, "InfoType": "unauthorized",
         "AuthorizerAppid": AUTHORIZER}
    )  # fmt: skip
    with recording(signals.authorizer_unauthorized, site.app) as gone:
        for _ in range(2):
            response = client.post("/wechat/component", query_string=query, data=body)
            assert response.get_data() == b"success"
    assert len(gone.calls) == 1


def test_bad_input_on_auth_url_is_4xx(site: Site) -> None:
    client = site.app.test_client()
    body, query = site.component.envelope(
        {"AppId": site.component.app_id, "CreateTime": 1, "InfoType": "component_verify_ticket",
         "ComponentVerifyTicket": "ticket@@@x"}
    )  # fmt: skip
    no_info, no_info_query = site.component.envelope({"AppId": site.component.app_id})
    bad = [
        (body, {**query, "msg_signature": "f" * 40}),
        (body, {k: v for k, v in query.items() if k != "encrypt_type"}),
        (body, {**query, "timestamp": str(int(time.time()) - 3600)}),
        (b"<xml><AppId>x</AppId><Encrypt>%%%</Encrypt></xml>", query),
        (b"<!DOCTYPE xml [<!ENTITY e 'x'>]><xml>&e;</xml>", query),
        (b"x" * (1024 * 1024 + 10), query),
        (no_info, no_info_query),
    ]
    with recording(signals.request_rejected, site.app) as rejected:
        for data, args in bad:
            response = client.post("/wechat/component", query_string=args, data=data)
            assert 400 <= response.status_code < 500, response.status_code
    assert len(rejected.calls) == len(bad)
    # a replayed request with another body is refused too
    client.post("/wechat/component", query_string=query, data=body)
    replay = client.post("/wechat/component", query_string=query, data=no_info)
    assert 400 <= replay.status_code < 500


def test_release_checks_pass_with_no_code_of_the_site(site: Site, sandbox: Sandbox) -> None:
    assert TEST_MP in RELEASE_TEST_APP_IDS
    site.component.push_ticket(site.app.test_client())

    @site.wechat.on()
    def never(message: Message) -> str:
        raise AssertionError("the release checks never reach the site's handlers")

    test = WeChatTestClient(site.app, TEST_MP)
    assert test.text("TESTCOMPONENT_MSG_TYPE_TEXT").content == (
        "TESTCOMPONENT_MSG_TYPE_TEXT_callback"
    )
    assert test.event("LOCATION", Latitude="1", Longitude="2").content == "LOCATIONfrom_callback"
    # QUERY_AUTH_CODE: answer success, then api_query_auth and a customer-service text
    code = site.component.grant(TEST_MP)
    sandbox.user_wrote(DEFAULT_USER, app_id=TEST_MP)
    result = test.text("QUERY_AUTH_CODE:" + code)
    assert result.is_success
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        sent = [entry for entry in sandbox.sent if entry.get("app_id") == TEST_MP]
        if sent:
            break
        time.sleep(0.02)
    assert sent[-1]["text"] == {"content": f"{code}_from_api"}
    assert sent[-1]["touser"] == DEFAULT_USER


def test_release_test_off_leaves_test_accounts_to_the_site(sandbox: Sandbox) -> None:
    site = make_site(sandbox)
    site.app.config["WECHAT_COMPONENT"]
    off = make_site(
        sandbox,
        WECHAT_COMPONENT={**site.component.flask_config()["WECHAT_COMPONENT"],
                          "release_test": False},
    )  # fmt: skip
    response = off.app.test_client().post(f"/wechat/component/{TEST_MP}", data=b"<xml/>")
    assert response.status_code == 404
