"""An LLM bot for an Official Account: every text goes to a chat model.

A model may take 30 seconds to answer; WeChat waits five. flask_wechat answers the
callback by ``WECHAT_REPLY_DEADLINE`` and delivers the handler's reply later, as a
customer-service message, whenever the model is done. The handler is written as if
time did not matter.

Run with ``flask --app mysite run`` (or gunicorn, see the next recipe), with
``FLASK_WECHAT_TOKEN``, ``FLASK_WECHAT_APP_ID``, ``FLASK_WECHAT_APP_SECRET``,
``LLM_URL`` (an OpenAI-compatible ``/v1/chat/completions`` endpoint), ``LLM_MODEL``
and ``LLM_API_KEY`` in the environment.
"""

import os

import requests
from flask import Flask

from flask_wechat import WeChat

LLM_URL = os.environ.get("LLM_URL", "https://api.openai.com/v1/chat/completions")
LLM_MODEL = os.environ.get("LLM_MODEL", "gpt-4o-mini")
SYSTEM = "You answer followers of an Official Account, briefly and in their language."

wechat = WeChat()


def ask(question):
    """The model's answer to ``question`` (any OpenAI-compatible chat API)."""
    response = requests.post(
        LLM_URL,
        headers={"Authorization": f"Bearer {os.environ['LLM_API_KEY']}"},
        json={
            "model": LLM_MODEL,
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": question},
            ],
        },
        timeout=60,  # far past WeChat's 5 s: the reply goes out as a message
    )
    response.raise_for_status()
    return response.json()["choices"][0]["message"]["content"]


@wechat.on("text")
def answer(message):
    return ask(message.content)  # a str is a TextReply, however late it comes


@wechat.on("subscribe")
def welcome(message):
    return "你好! Ask me anything."


def create_app():
    app = Flask(__name__)
    # FLASK_WECHAT_* variables; each is parsed as JSON, so quote an all-digit
    # token: FLASK_WECHAT_TOKEN='"123456"'.
    app.config.from_prefixed_env()
    wechat.init_app(app)
    return app
