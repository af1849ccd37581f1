"""Remembering message ids so that WeChat's retries never run a handler twice.

WeChat retries a callback three times when it gets no answer within 5 seconds
(seed ``wecom-callback-mode-crypto.txt``): messages are recognised by ``MsgId``,
events by ``FromUserName`` + ``CreateTime`` (+ ``Event`` + ``EventKey``). The
first delivery claims the id with an atomic ``add`` in the extension's cache, so
with a Redis cache exactly one process of many runs the handler; later
deliveries get the first one's answer.
"""

from __future__ import annotations

import hashlib
import time
import typing as t

if t.TYPE_CHECKING:
    from .cache import SharedCache

_PENDING = "pending"
_POLL_INTERVAL = 0.05


class Answer(t.NamedTuple):
    """A callback answer as remembered for retries."""

    body: bytes
    mimetype: str
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()


class DedupStore:
    """Claims and remembers callback answers in the extension's shared cache."""

    def __init__(self, cache: SharedCache, prefix: str = "wechat:dedup:") -> None:
        self._cache = cache
        self._prefix = prefix

    def key(self, account: str, dedup_key: str) -> str:
        """The cache key of a message; hashed, as ids contain arbitrary text."""
        digest = hashlib.sha1(f"{account}\x1f{dedup_key}".encode()).hexdigest()  # noqa: S324
        return self._prefix + digest

    def claim(self, key: str, ttl: float) -> bool:
        """Try to become the one delivery that runs the handler for ``key``."""
        return self._cache.add(key, _PENDING, ttl)

    def finish(self, key: str, answer: Answer, ttl: float) -> None:
        """Remember the answer of the claimed delivery for its retries."""
        self._cache.set(key, tuple(answer), ttl)

    def wait(self, key: str, timeout: float) -> Answer | None:
        """The first delivery's answer, waiting up to ``timeout`` while it runs."""
        deadline = time.monotonic() + timeout
        while True:
            value = self._cache.get(key)
            if isinstance(value, (tuple, list)) and len(value) == len(Answer._fields):
                return Answer(*value)
            if value is None or time.monotonic() >= deadline:
                return None
            time.sleep(_POLL_INTERVAL)
