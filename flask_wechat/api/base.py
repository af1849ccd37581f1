"""What every API domain object is: a view of one :class:`~flask_wechat.api.Client`."""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from .client import Client


class APIModule:
    """One domain of the WeChat API (``client.menus``, ``client.media``…), calling
    through its account's client."""

    def __init__(self, client: Client) -> None:
        self.client = client
