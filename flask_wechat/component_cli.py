"""``flask wechat component``: the third-party platform's ticket, tokens and
authorizers. Nothing here prints a secret: no ticket, token or refresh token,
not even a part of one — only ages and expiry times."""

from __future__ import annotations

import datetime
import time
import typing as t

import click
from flask import current_app
from flask.cli import AppGroup

from .errors import WeChatError

if t.TYPE_CHECKING:
    from .api.tokens import CredentialStore
    from .component import Component

component_cli = AppGroup(
    "component", help="The third-party platform (开放平台) and its authorizers."
)


def _component() -> Component:
    component = current_app.extensions["wechat"].component
    if component is None:
        raise click.ClickException("this app has no third-party platform (WECHAT_COMPONENT)")
    return t.cast("Component", component)


def _expiry(tokens: CredentialStore) -> str:
    credential = tokens.peek()
    if credential is None:
        return "none cached"
    left = int(credential.expires_at - time.time())
    when = datetime.datetime.fromtimestamp(credential.expires_at, datetime.timezone.utc)
    return f"expires {when:%Y-%m-%d %H:%M:%S} UTC ({max(0, left)} s left)"


@component_cli.command("status")
def status_command() -> None:
    """The platform's AppID, URLs, ticket age and component_access_token expiry."""
    component = _component()
    age = component.ticket_age()
    click.echo(f"component:    {component.app_id}")
    click.echo(f"auth_url:     {component.settings.auth_url}")
    click.echo(f"callback_url: {component.settings.callback_url}")
    if age is None:
        click.echo("ticket:       none yet (WeChat pushes one every 10 minutes)")
    else:
        click.echo(f"ticket:       received {int(age)} s ago")
    click.echo(f"token:        {_expiry(component.tokens)}")
    click.echo(f"authorizers:  {sum(1 for _ in component.authorizers())}")


@component_cli.command("authorizers")
def authorizers_command() -> None:
    """Every authorizer: AppID, kind, granted permission sets, token expiry."""
    component = _component()
    for app_id in sorted(component.authorizers()):
        authorizer = component.authorizer(app_id)
        if authorizer is None:  # removed meanwhile
            continue
        permissions = ",".join(map(str, authorizer.permissions)) or "-"
        tokens = component.client(app_id).tokens
        click.echo(f"{app_id}\t{authorizer.kind}\t{permissions}\t{_expiry(tokens)}")


@component_cli.command("token")
@click.argument("app_id", required=False)
@click.option("--refresh", is_flag=True, help="Fetch a new token now.")
def token_command(app_id: str | None, refresh: bool) -> None:
    """The expiry of the component_access_token, or of APP_ID's authorizer token."""
    component = _component()
    try:
        tokens = component.tokens if app_id is None else component.client(app_id).tokens
        if refresh:
            tokens.refresh(force=True)
    except WeChatError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{app_id or 'component'}: {_expiry(tokens)}")
