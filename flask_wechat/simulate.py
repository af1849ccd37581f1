"""``flask wechat simulate``: send one message or event to a callback as WeChat would.

The request is built by :class:`flask_wechat.testing.WeChatTestClient` — signed,
and encrypted for accounts with an EncodingAESKey — and sent through the app's
test client, or over real HTTP to a running site (``--url``). The answer is
printed decrypted, field by field; with ``--sandbox`` the WeChat API is played by
a :class:`flask_wechat.sandbox.Sandbox` for the command's duration and what the
app sent through it is printed too. Nothing printed holds a secret: not the
token, the AES key, the AppSecret or an access_token.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import typing as t

import click
import requests

from .api import Client
from .sandbox import Sandbox
from .store import MemoryStore
from .tasks import InlineRunner
from .testing import WeChatTestClient

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from flask import Flask

    from .parsing import Fields
    from .state import WeChatState


class Outcome(t.NamedTuple):
    """What one simulated request got back."""

    status: int
    reply: Fields | None
    encrypted: bool
    body: str
    sent: list[dict[str, t.Any]] | None


def build_fields(
    client: WeChatTestClient,
    msg_type: str,
    text: str | None = None,
    *,
    key: str | None = None,
    media_id: str | None = None,
    fields: t.Mapping[str, str] = {},
) -> Fields:
    """The fields of a message of ``msg_type`` (``"event"``: ``text`` is the event's
    name) as WeChat sends them; ``fields`` use WeChat's names and win."""
    extra: dict[str, t.Any] = {}
    if media_id is not None:
        extra["MediaId"] = media_id
    if msg_type == "event":
        if not text:
            raise click.UsageError("an event needs its name: simulate event subscribe")
        if key is not None:
            extra["EventKey"] = key
        return client.event_message(text, **extra, **fields)
    if text is not None:
        extra["Content" if msg_type == "text" else "Description"] = text
    if key is not None:
        extra["EventKey"] = key
    return client.message(msg_type, **extra, **fields)


@contextlib.contextmanager
def sandboxed(app: Flask, account: str, user: str) -> Iterator[list[dict[str, t.Any]]]:
    """Point ``account``'s API client at a fresh sandbox, with tasks run inline,
    for the block; yields the sandbox's record of sent messages (filled after).

    As in WeChat, ``user`` has just written to the account, so it may be answered
    by customer-service message."""
    state: WeChatState = app.extensions["wechat"]
    real = state.account(account)
    sent: list[dict[str, t.Any]] = []
    with Sandbox() as sandbox:
        config = sandbox.flask_config(real.kind)
        fake = dataclasses.replace(
            real,
            app_id=config["WECHAT_APP_ID"],
            app_secret=config["WECHAT_APP_SECRET"],
            api_base_url=sandbox.url,
        )
        sandbox.user_wrote(user, config["WECHAT_APP_ID"])
        saved_client, saved_runner = state.client(real.name), state.task_runner
        state.clients[real.name] = Client(fake, MemoryStore())
        state.task_runner = InlineRunner(attempts=2, backoff=0.05)
        try:
            yield sent
        finally:
            state.clients[real.name], state.task_runner = saved_client, saved_runner
            sent.extend(sandbox.sent)


def simulate(
    app: Flask,
    fields_of: t.Callable[[WeChatTestClient], Fields],
    *,
    account: str | None = None,
    mode: str | None = None,
    user: str | None = None,
    url: str | None = None,
    sandbox: bool = False,
) -> Outcome:
    """Send one message built by ``fields_of`` to ``app``'s callback (or ``url``)."""
    options: dict[str, t.Any] = {"mode": mode}
    if user:
        options["user"] = user
    client = WeChatTestClient(app, account, **options)
    message = fields_of(client)
    with contextlib.ExitStack() as stack:
        sent = (
            stack.enter_context(sandboxed(app, client.account.name, client.user))
            if sandbox
            else None
        )
        if url is None:
            response = client.send(message)
            status, body = response.status_code, response.response.get_data()
        else:
            data, query = client.encode(message)
            content_type = "application/json" if client.is_json else "text/xml"
            try:
                answer = requests.post(
                    url, params=query, data=data, headers={"Content-Type": content_type}, timeout=10
                )
            except requests.RequestException as exc:
                raise click.ClickException(f"could not reach {url}: {type(exc).__name__}") from None
            status, body = answer.status_code, answer.content
    reply, encrypted = client.decode_body(status, body)
    return Outcome(status, reply, encrypted, body.decode("utf-8", "replace"), sent)


def print_outcome(outcome: Outcome) -> None:
    """Print the status, the reply's fields and what was sent through the API."""
    click.echo(f"HTTP {outcome.status}")
    if outcome.reply is not None:
        click.echo("reply (decrypted):" if outcome.encrypted else "reply:")
        for name, value in outcome.reply.items():
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            click.echo(f"  {name}: {shown}")
    elif outcome.status == 200:
        click.echo(f"answer: {outcome.body.strip() or '(empty)'}")
    else:
        click.echo(f"answer: {outcome.body.strip()[:200]}")
    if outcome.sent is not None:
        click.echo(f"sent through the API ({len(outcome.sent)}):")
        for body in outcome.sent:
            click.echo("  " + json.dumps(body, ensure_ascii=False, sort_keys=True))
