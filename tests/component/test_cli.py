"""``flask wechat component``: ages and expiry, never a secret."""

from __future__ import annotations

from flask_wechat.sandbox import Sandbox

from .conftest import AUTHORIZER, Site, connect, make_site


def test_status_before_and_after_a_ticket(site: Site) -> None:
    runner = site.app.test_cli_runner()
    result = runner.invoke(args=["wechat", "component", "status"])
    assert result.exit_code == 0, result.output
    assert "ticket:       none yet" in result.output
    assert "authorizers:  0" in result.output
    connect(site)
    result = runner.invoke(args=["wechat", "component", "status"])
    assert "received 0 s ago" in result.output
    assert "s left" in result.output
    assert "authorizers:  1" in result.output


def test_authorizers_and_tokens_show_no_secret(site: Site, sandbox: Sandbox) -> None:
    connect(site)
    runner = site.app.test_cli_runner()
    outputs = [
        runner.invoke(args=["wechat", "component", "token", AUTHORIZER, "--refresh"]).output,
        runner.invoke(args=["wechat", "component", "authorizers"]).output,
        runner.invoke(args=["wechat", "component", "token", "--refresh"]).output,
    ]
    assert f"{AUTHORIZER}: expires" in outputs[0]
    assert outputs[1].startswith(f"{AUTHORIZER}\tmp\t1,2,3")
    assert outputs[2].startswith("component: expires")
    fake = site.component
    values = [fake.secret, *fake.tickets, *fake.tokens, *fake.retired_refresh_tokens]
    values += [grant.refresh_token for grant in fake.authorizers.values()]
    values += [token.value for token in sandbox.tokens.values()]
    joined = "\n".join(outputs)
    for value in values:
        assert value not in joined
        assert value[:4] + "…" not in joined


def test_without_a_platform_the_commands_say_so(sandbox: Sandbox) -> None:
    site = make_site(sandbox)
    site.app.extensions["wechat"].component = None
    result = site.app.test_cli_runner().invoke(args=["wechat", "component", "status"])
    assert result.exit_code != 0
    assert "no third-party platform" in result.output
