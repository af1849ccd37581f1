"""WeCom (企业微信) application callbacks: always encrypted.

URL verification answers the *decrypted* echostr; POSTs carry
``<ToUserName/><AgentID/><Encrypt/>`` signed into ``msg_signature``; passive
replies are encrypted XML addressed back (UserID ← CorpID). The app is configured
for a :class:`~flask_wechat.sandbox.Sandbox` WeCom corp; what every platform does
is in tests/callback/."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask

from flask_wechat import (
    Message,
    WeChat,
)
from flask_wechat.sandbox import Sandbox
from flask_wechat.testing import WeChatTestClient

from ...helpers import sandbox_app

TOKEN = "wecom-callback-token"
# 43 characters, as the WeCom admin console generates an EncodingAESKey.
AES_KEY = "abcdefghijABCDEFGHIJ0123456789klmnopqrstuvw"
AGENT_ID = 1000002
USER = "ZhangSan"


def answering(log: list[str], answer: str) -> t.Callable[[Message], str]:
    """A handler that notes ``answer`` in ``log`` and replies with it."""

    def handler(message: Message) -> str:
        log.append(answer)
        return answer

    return handler


class Work(t.NamedTuple):
    """A WeCom app on the sandbox's corp, and a client playing WeCom against it."""

    app: Flask
    wechat: WeChat
    client: WeChatTestClient


def make_work(sandbox: Sandbox, **config: t.Any) -> Work:
    app, wechat = sandbox_app(
        sandbox, "work", token=TOKEN, aes_key=AES_KEY, **{"WECHAT_AGENT_ID": AGENT_ID, **config}
    )
    return Work(app, wechat, WeChatTestClient(app, user=USER))


@pytest.fixture
def work(sandbox: Sandbox) -> Work:
    return make_work(sandbox)
