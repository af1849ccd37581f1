"""Agent media is fetched only from allowed, public hosts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from flask_wechat.errors import PermanentFailure
from flask_wechat.relay import fetch_media, media_hosts
from flask_wechat.sandbox import RelayPlatform, Sandbox

from ..relay.conftest import USER, Relay, relay_app
from ..relay.conftest import platform as platform
from ..relay.conftest import relay as relay
from ..relay.test_agent_messages import JPEG

# == SSRF through the relay ================================================================


@pytest.fixture
def internal() -> Iterator[RelayPlatform]:
    """A server inside the network (another loopback port): must never be fetched."""
    with RelayPlatform("unused") as server:
        yield server


def agent_sends(relay: Relay, url: str) -> None:
    response = relay.platform.reply(relay.callback_url, USER, "image", url)
    assert response.status_code == 200


def assert_refused(relay: Relay, reason: str) -> None:
    [failure] = relay.failed.calls
    assert isinstance(failure["exception"], PermanentFailure)
    assert reason in str(failure["exception"])
    assert relay.sandbox.count("/cgi-bin/media/upload") == 0


def test_media_from_the_relay_platform_itself_is_fetched(relay: Relay) -> None:
    url = relay.platform.add_file("ok.jpg", JPEG, "image/jpeg")
    agent_sends(relay, url)
    assert relay.failed.calls == []
    assert relay.platform.downloads("ok.jpg") == 1
    assert relay.sandbox.count("/cgi-bin/media/upload") == 1


def test_media_on_another_loopback_port_is_refused(relay: Relay, internal: RelayPlatform) -> None:
    url = internal.add_file("secret.jpg", JPEG, "image/jpeg")
    agent_sends(relay, url)
    assert_refused(relay, "non-public address")
    assert internal.downloads("secret.jpg") == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:{port}/files/secret.jpg",
        "http://internal.corp.example/files/secret.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/files/secret.jpg",
        "http://2130706433:{port}/files/secret.jpg",
    ],
)
def test_media_on_a_host_not_allowed_is_refused(
    relay: Relay, internal: RelayPlatform, url: str
) -> None:
    internal.add_file("secret.jpg", JPEG, "image/jpeg")
    port = internal.url.rsplit(":", 1)[1]
    agent_sends(relay, url.format(port=port))
    assert_refused(relay, "host is not allowed")
    assert internal.downloads("secret.jpg") == 0


def test_a_redirect_to_loopback_is_refused(relay: Relay, internal: RelayPlatform) -> None:
    target = internal.add_file("secret.jpg", JPEG, "image/jpeg")
    url = relay.platform.add_redirect("hop.jpg", target)
    agent_sends(relay, url)
    assert_refused(relay, "non-public address")
    assert relay.platform.downloads("hop.jpg") == 1
    assert internal.downloads("secret.jpg") == 0


def test_redirects_within_the_platform_are_followed_up_to_three(relay: Relay) -> None:
    final = relay.platform.add_file("final.jpg", JPEG, "image/jpeg")
    hop = final
    for i in range(3):
        hop = relay.platform.add_redirect(f"hop{i}.jpg", hop)
    agent_sends(relay, hop)
    assert relay.failed.calls == []
    assert relay.platform.downloads("final.jpg") == 1

    too_far = relay.platform.add_redirect("hop3.jpg", hop)
    agent_sends(relay, too_far)
    [failure] = relay.failed.calls
    assert isinstance(failure["exception"], PermanentFailure)
    assert "too many times" in str(failure["exception"])
    assert relay.platform.downloads("final.jpg") == 1
    assert relay.sandbox.count("/cgi-bin/media/upload") == 1


def test_allowed_hosts_resolving_inside_the_network_are_refused(
    sandbox: Sandbox, internal: RelayPlatform
) -> None:
    """``localhost`` and a private literal are allowed by name but resolve inside."""
    app, _wechat = relay_app(
        sandbox,
        internal,
        WECHAT_RELAY_URL="https://relay.example.com/Icallback",
        WECHAT_RELAY_MEDIA_HOSTS=["localhost", "10.1.2.3", "media.example.com"],
    )
    account = app.extensions["wechat"].account()
    assert media_hosts(account) == {"relay.example.com", "localhost", "10.1.2.3",
                                    "media.example.com"}  # fmt: skip
    port = internal.url.rsplit(":", 1)[1]
    internal.add_file("x.jpg", JPEG, "image/jpeg")
    for url in (f"http://localhost:{port}/files/x.jpg", "http://10.1.2.3/files/x.jpg"):
        with pytest.raises(PermanentFailure, match="non-public address"):
            fetch_media(url, "image", account)
    for url in ("ftp://relay.example.com/x.jpg", "http://user@relay.example.com/x.jpg"):
        with pytest.raises(PermanentFailure, match="not an http"):
            fetch_media(url, "image", account)
    assert internal.downloads("x.jpg") == 0


def test_proxied_media_never_runs_in_a_browser(relay: Relay) -> None:
    media_id = relay.upload("voice", b"#!AMR\n<script>alert(1)</script>", "x.amr")
    relay.client.send(relay.client.message("voice", MediaId=media_id))
    url = relay.platform.accepted[0]["mediaUrl"]
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in answer.headers["Content-Security-Policy"]
