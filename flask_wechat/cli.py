"""The ``flask wechat`` command group."""

from __future__ import annotations

import datetime
import json
import re
import typing as t

import click
from flask import current_app
from flask.cli import AppGroup

from .component_cli import component_cli
from .errors import WeChatError

if t.TYPE_CHECKING:
    from flask import Flask

    from .api import Client
    from .state import WeChatState

wechat_cli = AppGroup("wechat", help="WeChat accounts, callbacks and the WeChat API.")

wechat_cli.add_command(component_cli)

account_option = click.option(
    "--account", "-a", default=None, help="The account name (default: the default account)."
)


def _state() -> WeChatState:
    return t.cast("WeChatState", current_app.extensions["wechat"])


def _client(account: str | None) -> Client:
    try:
        return _state().client(account)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None


def _echo_json(value: t.Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


@wechat_cli.command("accounts")
def accounts_command() -> None:
    """List the configured accounts and their callback URLs (no secrets)."""
    for account in _state().accounts.values():
        mode = "safe/compatible" if account.encoding_aes_key else "plaintext"
        url = account.callback_url or "(no callback)"
        click.echo(f"{account.name}\t{account.kind}\t{account.app_id or '-'}\t{url}\t{mode}")


@wechat_cli.command("token")
@account_option
@click.option("--refresh", is_flag=True, help="Fetch a new access_token now.")
def token_command(account: str | None, refresh: bool) -> None:
    """Show the access_token's expiry (never the token itself)."""
    client = _client(account)
    try:
        if refresh:
            client.refresh_access_token()
        else:
            _ = client.access_token  # fetched (and cached) if not held yet
    except WeChatError as exc:
        raise click.ClickException(str(exc)) from None
    credential = client.tokens.peek()
    click.echo(f"account:    {client.account.name}")
    if credential is not None:
        age = max(0, int(datetime.datetime.now().timestamp() - credential.issued_at))
        click.echo(f"token:      held (fetched {age} s ago; never shown)")
        expires = datetime.datetime.fromtimestamp(credential.expires_at, datetime.timezone.utc)
        left = max(0, int(credential.expires_at - datetime.datetime.now().timestamp()))
        click.echo(f"expires at: {expires:%Y-%m-%d %H:%M:%S} UTC ({left} s left)")


@wechat_cli.group("menu")
def menu_group() -> None:
    """The account's custom menu."""


@menu_group.command("push")
@account_option
@click.argument("file", type=click.File("rb"))
def menu_push(account: str | None, file: t.IO[bytes]) -> None:
    """Replace the menu with the JSON in FILE (``{"button": [...]}``)."""
    try:
        menu = json.loads(file.read().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise click.ClickException(f"{file.name} is not UTF-8 JSON: {exc}") from None
    try:
        _client(account).menus.create(menu)
    except (WeChatError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("menu pushed")


@menu_group.command("show")
@account_option
def menu_show(account: str | None) -> None:
    """Print the current menu as JSON."""
    try:
        _echo_json(_client(account).menus.get())
    except WeChatError as exc:
        raise click.ClickException(str(exc)) from None


@menu_group.command("delete")
@account_option
@click.confirmation_option(prompt="Delete the menu (conditional menus too)?")
def menu_delete(account: str | None) -> None:
    """Delete the menu, conditional menus included."""
    try:
        _client(account).menus.delete()
    except WeChatError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("menu deleted")


#: ``name=value`` and ``"name": "value"`` pairs whose value is a credential.
_CREDENTIAL = re.compile(
    r"""(?i)\b((?:\w+_)?(?:access_token|secret|corpsecret|refresh_token|code|js_code|ticket))"""
    r"""(\\?["']?\s*[:=]\s*\\?["']?)([^"'&\s,}\\]*)"""
)


def hide_credentials(text: str) -> str:
    """``text`` with every credential value replaced by ``***`` (WeChat's rid
    lookup echoes the failed request: its query string and body)."""
    return _CREDENTIAL.sub(lambda found: f"{found[1]}{found[2]}***", text)


@wechat_cli.command("quota")
@account_option
@click.argument("cgi_path")
def quota_command(account: str | None, cgi_path: str) -> None:
    """Show today's quota of one API (CGI_PATH like /cgi-bin/message/custom/send).

    \b
    A used-up daily quota answers 45009: raise it in the admin console, wait for
    tomorrow, or reset all counts with clear_quota (10 times a month).
    """
    try:
        quota = _client(account).operations.get_api_quota(cgi_path)
    except WeChatError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"api:         {cgi_path}")
    for name in ("daily_limit", "used", "remain"):
        click.echo(f"{name + ':':<12} {quota.get(name, '-')}")


@wechat_cli.command("rid")
@account_option
@click.argument("rid")
def rid_command(account: str | None, rid: str) -> None:
    """Look up a failed API call by the rid in its errmsg (the last 7 days).

    Credentials in the call's URL and body are shown as ***.
    """
    try:
        found = _client(account).operations.get_rid_info(rid)
    except WeChatError as exc:
        raise click.ClickException(str(exc)) from None
    for name, value in found.items():
        shown = str(value)
        if name == "invoke_time" and isinstance(value, int):
            when = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
            shown = f"{value} ({when:%Y-%m-%d %H:%M:%S} UTC)"
        click.echo(f"{name + ':':<15} {hide_credentials(shown)}")


@wechat_cli.command("callback-ip")
@account_option
def callback_ip_command(account: str | None) -> None:
    """List the IP addresses WeChat sends callbacks from (for firewalls)."""
    try:
        for ip in _client(account).callback_ip():
            click.echo(ip)
    except WeChatError as exc:
        raise click.ClickException(str(exc)) from None


def _field_pair(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    fields: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{value!r} is not Name=value", ctx, param)
        fields[name] = text
    return fields


@wechat_cli.command("simulate")
@click.argument("msg_type", metavar="TYPE")
@click.argument("text", required=False)
@click.option("--key", default=None, help="EventKey (events; e.g. qrscene_1, V1001_GOOD).")
@click.option("--media-id", default=None, help="MediaId (image, voice, video...).")
@click.option(
    "--field",
    "fields",
    multiple=True,
    callback=_field_pair,
    metavar="Name=value",
    help="Any field with WeChat's name; repeatable.",
)
@account_option
@click.option("--user", default=None, help="The sender's OpenID / UserID.")
@click.option(
    "--mode",
    type=click.Choice(["plain", "compatible", "safe"]),
    default=None,
    help="Default: safe with an EncodingAESKey, else plain.",
)
@click.option("--url", default=None, help="POST to this running site instead of in-process.")
@click.option(
    "--sandbox", is_flag=True, help="Play the WeChat API with a sandbox and show what was sent."
)
def simulate_command(
    msg_type: str,
    text: str | None,
    key: str | None,
    media_id: str | None,
    fields: dict[str, str],
    account: str | None,
    user: str | None,
    mode: str | None,
    url: str | None,
    sandbox: bool,
) -> None:
    """Send a message as WeChat would and show the answer.

    \b
    flask wechat simulate text "hello"
    flask wechat simulate event subscribe --key qrscene_1
    flask wechat simulate image --media-id MEDIA_ID
    flask wechat simulate text hi --url http://127.0.0.1:5000/wechat
    """
    # Here, not at the top: `import flask_wechat` (which registers this group) must not
    # load the testing helpers and the sandbox that simulating needs.
    from .simulate import build_fields, print_outcome, simulate  # noqa: PLC0415

    app = t.cast("Flask", current_app._get_current_object())  # type: ignore[attr-defined]
    if url is not None and sandbox:
        raise click.UsageError("--sandbox plays the API of this process; it cannot with --url")
    try:
        outcome = simulate(
            app,
            lambda client: build_fields(
                client, msg_type, text, key=key, media_id=media_id, fields=fields
            ),
            account=account,
            mode=mode,
            user=user,
            url=url,
            sandbox=sandbox,
        )
    except (LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    print_outcome(outcome)
    if outcome.status >= 400:
        # A refusal (403 for a bad signature, 404 for a wrong URL) is a failed run:
        # scripts and CI see it in the exit status.
        reason = outcome.body.strip()[:200] or "(no reason given)"
        raise click.ClickException(f"the site refused the message: HTTP {outcome.status}: {reason}")
