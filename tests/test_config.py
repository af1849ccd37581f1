"""Configuration: what ``init_app`` accepts, what it refuses, and the defaults it sets."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask

from flask_wechat import WeChat
from flask_wechat.errors import ConfigError, WeChatError
from flask_wechat.testing import WeChatTestClient

from .conftest import AES_KEY, APP_ID, TOKEN, AppFactory

RELAY_URL = "https://relay.example.com/Icallback"


def shop(**settings: t.Any) -> dict[str, t.Any]:
    """The settings of an account named ``shop`` inside ``WECHAT_ACCOUNTS``."""
    return {"token": "shop-token", "app_id": "wxshop0000000001", **settings}


BAD_CONFIGS: dict[str, tuple[dict[str, t.Any], tuple[str, ...]]] = {
    # id: (config on top of the default test account, words the message must name)
    "missing token": ({"WECHAT_TOKEN": None}, ("WECHAT_TOKEN",)),
    "empty token": ({"WECHAT_TOKEN": ""}, ("WECHAT_TOKEN",)),
    "aes key 42 chars": (
        {"WECHAT_ENCODING_AES_KEY": AES_KEY[:-1]},
        ("WECHAT_ENCODING_AES_KEY", "43"),
    ),
    "aes key 44 chars": (
        {"WECHAT_ENCODING_AES_KEY": AES_KEY + "H"},
        ("WECHAT_ENCODING_AES_KEY", "43"),
    ),
    "aes key not base64": (
        {"WECHAT_ENCODING_AES_KEY": "!" * 43},
        ("WECHAT_ENCODING_AES_KEY", "base64"),
    ),
    "unknown kind": ({"WECHAT_KIND": "minigame-ish"}, ("WECHAT_KIND", "minigame-ish")),
    "unknown format": ({"WECHAT_FORMAT": "yaml"}, ("WECHAT_FORMAT", "yaml")),
    "json on mp": ({"WECHAT_FORMAT": "json"}, ("WECHAT_FORMAT", "miniprogram")),
    "aes key without app id": (
        {"WECHAT_ENCODING_AES_KEY": AES_KEY, "WECHAT_APP_ID": None},
        ("WECHAT_APP_ID",),
    ),
    "non-numeric agent id": ({"WECHAT_AGENT_ID": "agent-7"}, ("WECHAT_AGENT_ID",)),
    "negative replay window": ({"WECHAT_REPLAY_WINDOW": -1}, ("WECHAT_REPLAY_WINDOW",)),
    "replay window not a number": (
        {"WECHAT_REPLAY_WINDOW": "300"},
        ("WECHAT_REPLAY_WINDOW",),
    ),
    "negative dedup ttl": ({"WECHAT_DEDUP_TTL": -5}, ("WECHAT_DEDUP_TTL",)),
    "relay url without relay token": ({"WECHAT_RELAY_URL": RELAY_URL}, ("WECHAT_RELAY_TOKEN",)),
    "unknown key inside WECHAT_ACCOUNTS": (
        {"WECHAT_ACCOUNTS": {"shop": shop(colour="red")}},
        ("WECHAT_ACCOUNTS", "shop", "colour"),
    ),
    "missing token inside WECHAT_ACCOUNTS": (
        {"WECHAT_ACCOUNTS": {"shop": shop(token=None)}},
        ("WECHAT_ACCOUNTS", "shop", "token"),
    ),
    "bad aes key inside WECHAT_ACCOUNTS": (
        {"WECHAT_ACCOUNTS": {"shop": shop(encoding_aes_key="short")}},
        ("WECHAT_ACCOUNTS", "shop", "encoding_aes_key"),
    ),
    "non-numeric agent id inside WECHAT_ACCOUNTS": (
        {"WECHAT_ACCOUNTS": {"shop": shop(agent_id="seven")}},
        ("WECHAT_ACCOUNTS", "shop", "agent_id"),
    ),
    "relay without token inside WECHAT_ACCOUNTS": (
        {"WECHAT_ACCOUNTS": {"shop": shop(relay_url=RELAY_URL)}},
        ("WECHAT_ACCOUNTS", "shop", "relay_token"),
    ),
    "two accounts on one url": (
        {
            "WECHAT_ACCOUNTS": {
                "shop": shop(callback_url="/hooks/wx"),
                "blog": {"token": "blog-token", "callback_url": "/hooks/wx"},
            }
        },
        ("callback_url", "/hooks/wx"),
    ),
    "account on the default account's url": (
        {"WECHAT_ACCOUNTS": {"shop": shop(callback_url="/wechat")}},
        ("WECHAT_CALLBACK_URL", "'/wechat'", "shop"),
    ),
    "relay callback on another account's url": (
        {
            "WECHAT_ACCOUNTS": {
                "shop": shop(relay_url=RELAY_URL, relay_token="relay-secret"),
                "blog": {"token": "blog-token", "callback_url": "/wechat/shop/relay"},
            }
        },
        ("callback_url", "/wechat/shop/relay"),
    ),
}


@pytest.mark.parametrize(
    ("config", "named"), list(BAD_CONFIGS.values()), ids=list(BAD_CONFIGS.keys())
)
def test_misconfiguration_names_the_key(
    make_app: AppFactory, config: dict[str, t.Any], named: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        make_app(**config)
    message = str(excinfo.value)
    for word in named:
        assert word in message
    # ConfigError is both the package's own error and a ValueError.
    assert isinstance(excinfo.value, WeChatError)
    assert isinstance(excinfo.value, ValueError)


def test_failed_init_registers_nothing() -> None:
    app = Flask("broken")
    app.config.update(WECHAT_APP_ID=APP_ID)  # no token
    with pytest.raises(ConfigError, match="WECHAT_TOKEN"):
        WeChat(app)
    assert "wechat" not in app.extensions
    assert not any(rule.endpoint.startswith("wechat.") for rule in app.url_map.iter_rules())


def test_no_callback_url_gives_an_api_only_account(make_app: AppFactory) -> None:
    app, wechat = make_app(WECHAT_CALLBACK_URL=None, WECHAT_TOKEN=None)
    with app.app_context():
        account = wechat.account()
    assert account.callback_url is None
    assert account.token is None
    assert account.app_id == APP_ID
    # Nothing is mounted, so nothing answers where the callback would be.
    assert app.test_client().get("/wechat").status_code == 404
    assert not any(rule.endpoint.startswith("wechat.") for rule in app.url_map.iter_rules())
    with pytest.raises(ValueError, match="callback"):
        WeChatTestClient(app)


def test_defaults_are_set_with_setdefault(make_app: AppFactory) -> None:
    app, wechat = make_app(WECHAT_DEDUP_TTL=5, WECHAT_CALLBACK_URL="/hooks/wechat")
    expected_defaults = {
        "WECHAT_KIND": "mp",
        "WECHAT_FORMAT": "xml",
        "WECHAT_ENCODING_AES_KEY": None,
        "WECHAT_REPLAY_WINDOW": 300,
        "WECHAT_REPLY_DEADLINE": 4.5,
        "WECHAT_CACHE": None,
        "WECHAT_RELAY_URL": None,
    }
    for key, value in expected_defaults.items():
        assert app.config[key] == value, key
    # What the app set is never overwritten.
    assert app.config["WECHAT_DEDUP_TTL"] == 5
    assert app.config["WECHAT_CALLBACK_URL"] == "/hooks/wechat"
    assert app.config["WECHAT_TOKEN"] == TOKEN
    with app.app_context():
        account = wechat.account()
    assert account.dedup_ttl == 5
    assert account.replay_window == 300
    assert account.callback_url == "/hooks/wechat"


@pytest.mark.parametrize(
    ("kind_config", "base_url"),
    [
        ({}, "https://api.weixin.qq.com"),
        ({"WECHAT_API_BASE_URL": "https://proxy.example.com/wx/"}, "https://proxy.example.com/wx"),
    ],
    ids=["default", "custom"],
)
def test_api_base_url(make_app: AppFactory, kind_config: dict[str, t.Any], base_url: str) -> None:
    app, wechat = make_app(**kind_config)
    with app.app_context():
        assert wechat.account().api_base_url == base_url


def test_flat_shared_settings_apply_to_every_account(make_app: AppFactory) -> None:
    app, wechat = make_app(
        WECHAT_TOKEN=None,
        WECHAT_APP_ID=None,
        WECHAT_APP_SECRET=None,
        WECHAT_REPLAY_WINDOW=30,
        WECHAT_ACCOUNTS={"shop": shop(), "blog": {"token": "blog-token", "replay_window": 0}},
    )
    with app.app_context():
        assert wechat.account("shop").replay_window == 30
        assert wechat.account("blog").replay_window == 0
        with pytest.raises(LookupError):
            wechat.account("default")


def test_a_token_from_the_environment_parsed_as_json_says_why_and_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``from_prefixed_env()`` turns an all-digit token into an int: the error says
    so, and how to quote it, without showing the value."""
    monkeypatch.setenv("FLASK_WECHAT_TOKEN", "20240917")
    app = Flask("env_app")
    app.config.from_prefixed_env()
    assert app.config["WECHAT_TOKEN"] == 20240917
    with pytest.raises(ConfigError) as caught:
        WeChat(app)
    message = str(caught.value)
    assert message.startswith("WECHAT_TOKEN: must be a string, got an int; ")
    assert "from_prefixed_env() is parsed as JSON — quote it" in message
    assert "20240917" not in message
