"""What every API domain object is: a view of one account's API caller.

The domain objects (``client.menus``, ``client.media``…) call through
:class:`Caller`, the part of :class:`~flask_wechat.api.Client` they use, so they
depend on this module alone and the client on them, never the other way round.
"""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from ..config import Account
    from ..platform import Platform

#: A decoded JSON answer of the WeChat API.
JSON = dict[str, t.Any]


class Parameters(t.Protocol):
    """What a domain object asks of the account's API profile
    (:class:`~flask_wechat.api.profiles.APIProfile`)."""

    def menu_params(self, account: Account) -> dict[str, t.Any]: ...

    def authorize_params(self, account: Account) -> dict[str, t.Any]: ...


class Caller(t.Protocol):
    """What a domain object needs of its account's client."""

    account: Account
    platform: Platform

    @property
    def profile(self) -> Parameters: ...

    base_url: str
    #: fetch tokens from ``/cgi-bin/stable_token``.
    stable_token: bool

    def get(
        self, path: str, params: t.Mapping[str, t.Any] | None = None, **kwargs: t.Any
    ) -> JSON: ...

    def post(
        self,
        path: str,
        json: t.Any = None,
        *,
        params: t.Mapping[str, t.Any] | None = None,
        **kwargs: t.Any,
    ) -> JSON: ...

    def request(
        self,
        method: str,
        path: str,
        *,
        params: t.Mapping[str, t.Any] | None = None,
        json: t.Any = None,
        files: t.Any = None,
        data: t.Any = None,
        token: bool = True,
        idempotent: bool | None = None,
        stream: bool = False,
    ) -> t.Any: ...

    def trade_code(self, path: str, name: str, code: str) -> JSON: ...


class APIModule:
    """One domain of the WeChat API (``client.menus``, ``client.media``…), calling
    through its account's client."""

    def __init__(self, client: Caller) -> None:
        self.client = client
