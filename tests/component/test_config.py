"""``WECHAT_COMPONENT``: checked at init_app, with or without accounts of the site's own."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask

from flask_wechat import WeChat
from flask_wechat.errors import ConfigError
from flask_wechat.sandbox import Sandbox
from flask_wechat.testing import WeChatTestClient

from ..conftest import AES_KEY, create_app
from .conftest import AUTHORIZER, connect, make_site

GOOD = {"app_id": "wxc", "app_secret": "s", "token": "t", "encoding_aes_key": AES_KEY}


def _init(**component: t.Any) -> Flask:
    app = Flask("config_check")
    app.config["WECHAT_COMPONENT"] = component
    WeChat(app)
    return app


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({**GOOD, "app_secret": None}, "WECHAT_COMPONENT['app_secret']"),
        ({**GOOD, "encoding_aes_key": "short"}, "WECHAT_COMPONENT['encoding_aes_key']"),
        ({**GOOD, "apppid": "x"}, "WECHAT_COMPONENT['apppid']"),
        ({**GOOD, "callback_url": "/wechat/component"}, "WECHAT_COMPONENT['callback_url']"),
        ({**GOOD, "auth_url": "wechat"}, "WECHAT_COMPONENT['auth_url']"),
        ({**GOOD, "release_test": "yes"}, "WECHAT_COMPONENT['release_test']"),
    ],
)
def test_mistakes_name_the_key(settings: dict[str, t.Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        _init(**settings)


def test_not_a_dict() -> None:
    app = Flask("config_check")
    app.config["WECHAT_COMPONENT"] = "wxc"
    with pytest.raises(ConfigError, match="WECHAT_COMPONENT"):
        WeChat(app)


def test_without_a_component_it_is_none() -> None:
    app, wechat = create_app()
    with app.app_context():
        assert wechat.component is None
    assert wechat.component is None  # outside an app context: the only app's


def test_only_the_component_no_account_of_its_own() -> None:
    app = _init(**GOOD)
    state = app.extensions["wechat"]
    assert state.accounts == {}
    with pytest.raises(LookupError, match="no WeChat account of its own"):
        state.account()
    assert {rule.rule for rule in app.url_map.iter_rules()} >= {
        "/wechat/component",
        "/wechat/component/<app_id>",
    }


def test_beside_the_sites_own_account(sandbox: Sandbox) -> None:
    site = make_site(
        sandbox,
        WECHAT_TOKEN="own-token",
        WECHAT_APP_ID="wxownaccount0000001",
        WECHAT_APP_SECRET="own-secret",
    )
    connect(site)

    @site.wechat.on("text")
    def who(message: t.Any) -> str:
        return str(message.account)

    assert WeChatTestClient(site.app).text("x").content == "default"
    assert WeChatTestClient(site.app, AUTHORIZER).text("x").content == AUTHORIZER
