"""The ``flask wechat`` command group."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

wechat_cli = AppGroup("wechat", help="WeChat accounts, callbacks and the WeChat API.")


@wechat_cli.command("accounts")
def accounts_command() -> None:
    """List the configured accounts and their callback URLs (no secrets)."""
    state = current_app.extensions["wechat"]
    for account in state.accounts.values():
        mode = "safe/compatible" if account.encoding_aes_key else "plaintext"
        url = account.callback_url or "(no callback)"
        click.echo(f"{account.name}\t{account.kind}\t{account.app_id or '-'}\t{url}\t{mode}")
