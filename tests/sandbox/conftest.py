"""Fixtures for the sandbox's own tests: a fresh sandbox per test, driven over
real HTTP on loopback with ``requests``."""

from __future__ import annotations

import re
import typing as t
from collections.abc import Iterator

import pytest
import requests

from flask_wechat.sandbox import (
    SANDBOX_APP_ID,
    SANDBOX_APP_SECRET,
    SANDBOX_CORP_ID,
    SANDBOX_CORP_SECRET,
    Sandbox,
)

JSON = dict[str, t.Any]


def no_rid(answer: JSON) -> JSON:
    """An error answer without the `` rid: …`` WeChat (and the sandbox) end
    ``errmsg`` with; fails if the rid is missing."""
    errmsg, found, rid = str(answer["errmsg"]).rpartition(" rid: ")
    assert found, f"no rid in {answer['errmsg']!r}"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}", rid)
    return {**answer, "errmsg": errmsg}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class Api:
    """Calls one sandbox the way the WeChat API is called."""

    def __init__(self, sandbox: Sandbox, session: requests.Session) -> None:
        self.sandbox = sandbox
        self.session = session
        self._tokens: dict[str, str] = {}

    def raw(self, method: str, path: str, **kwargs: t.Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.sandbox.url + path, **kwargs)

    def token(self, app_id: str = SANDBOX_APP_ID, secret: str = SANDBOX_APP_SECRET) -> str:
        data = self.raw(
            "GET",
            "/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": app_id, "secret": secret},
        ).json()
        return t.cast(str, data["access_token"])

    def work_token(self) -> str:
        data = self.raw(
            "GET",
            "/cgi-bin/gettoken",
            params={"corpid": SANDBOX_CORP_ID, "corpsecret": SANDBOX_CORP_SECRET},
        ).json()
        return t.cast(str, data["access_token"])

    def _auth(self, params: dict[str, t.Any], work: bool) -> dict[str, t.Any]:
        if "access_token" not in params:
            key = "work" if work else "mp"
            if key not in self._tokens:
                self._tokens[key] = self.work_token() if work else self.token()
            params["access_token"] = self._tokens[key]
        return params

    def get(self, path: str, *, work: bool = False, **params: t.Any) -> JSON:
        response = self.raw("GET", path, params=self._auth(params, work))
        return t.cast(JSON, response.json())

    def post(self, path: str, body: t.Any = None, *, work: bool = False, **params: t.Any) -> JSON:
        response = self.raw("POST", path, params=self._auth(params, work), json=body)
        return t.cast(JSON, response.json())


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


@pytest.fixture
def api(sandbox: Sandbox, session: requests.Session) -> Api:
    return Api(sandbox, session)


def errcode(answer: JSON) -> int:
    return int(answer.get("errcode", 0))
