"""The one check of a refused callback request, shared by the platform test files."""

from __future__ import annotations

import typing as t

from flask import Flask

from flask_wechat import Message
from flask_wechat.testing import Recorder


def assert_refused(
    response: t.Any,
    status: int | None,
    keywords: tuple[str, ...],
    *,
    app: Flask,
    account: str,
    rejected: Recorder,
    handled: list[Message],
    received: Recorder,
) -> str:
    """``response`` is a 4xx (``status`` if given) with a short plain-text reason naming
    one of ``keywords``; ``request_rejected`` fired once with it and nothing ran."""
    assert 400 <= response.status_code < 500
    if status is not None:
        assert response.status_code == status
    assert response.mimetype == "text/plain"
    reason: str = response.get_data(as_text=True)
    assert 0 < len(reason) <= 80
    assert any(word.lower() in reason.lower() for word in keywords), reason
    assert [(c["sender"], c["reason"], c["account"]) for c in rejected.calls] == [
        (app, reason, account)
    ]
    assert handled == []
    assert received.calls == []
    return reason
