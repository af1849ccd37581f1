"""Small helpers shared by test files in several directories."""

from __future__ import annotations

import typing as t

from flask import Flask

from flask_wechat import Message, WeChat
from flask_wechat.sandbox import SANDBOX_APP_ID, Sandbox
from flask_wechat.tasks import TaskRunner
from flask_wechat.testing import DEFAULT_USER


def stringify(value: t.Any) -> t.Any:
    """What sent fields look like after the XML round trip: every leaf a string."""
    if isinstance(value, dict):
        return {key: stringify(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [stringify(item) for item in value]
    return str(value)


def custom_text(content: str, user: str = DEFAULT_USER) -> dict[str, t.Any]:
    """A text customer-service message as the sandbox records it."""
    return {
        "touser": user,
        "msgtype": "text",
        "text": {"content": content},
        "kind": "custom",
        "app_id": SANDBOX_APP_ID,
    }


class Counter:
    """A handler that answers which call it is."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def __call__(self, message: Message) -> str:
        self.messages.append(message)
        return f"call {len(self.messages)}"


def sandbox_app(
    sandbox: Sandbox,
    kind: str,
    *,
    token: str | None,
    aes_key: str | None = None,
    task_runner: TaskRunner | None = None,
    **config: t.Any,
) -> tuple[Flask, WeChat]:
    """An app with flask_wechat for the sandbox's account of ``kind``, plus ``config``."""
    app = Flask(f"{kind}_sandbox_app")
    app.config.update(sandbox.flask_config(kind))
    app.config.update(TESTING=True, WECHAT_TOKEN=token, WECHAT_ENCODING_AES_KEY=aes_key)
    app.config.update(config)
    return app, WeChat(app, task_runner=task_runner)
