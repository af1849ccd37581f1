"""Recognising WeChat's retries and refusing replayed requests.

WeChat retries a callback three times when it gets no answer within 5 seconds,
with an identical body (seed ``wecom-callback-mode-crypto.txt``). A message is
recognised by its ``MsgId``/``MsgID`` where it has one, otherwise by a digest of
the whole message: WeCom sends *different* ``sys`` events with the same sender,
second and event name, so nothing less than every field tells them apart.

Each accepted request also leaves a **replay guard**: its ``(timestamp, nonce)``
(which fix its ``signature``) → the mode and digest of what it carried, kept for
twice ``WECHAT_REPLAY_WINDOW``. The plaintext ``signature`` does not cover the
body, so without the guard one captured request would let anyone post any
plaintext message for the whole window; with it, the same signature with another
body or in another mode is refused, and the very same request is a duplicate
even after ``WECHAT_DEDUP_TTL``.

Both checks are one :meth:`~flask_wechat.store.Store.claim`: one round trip to Redis.
"""

from __future__ import annotations

import time
import typing as t

from .crypto import random_bytes
from .edge import Answer
from .store import CLAIMED, Claim, Guard

if t.TYPE_CHECKING:
    from .store import Store

#: What a claim holds while its first delivery runs, before a token of its own.
PENDING = "pending:"
_POLL_INTERVAL = 0.05


class Deduplicator:
    """Claims callbacks in the shared store and remembers their answers."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def key(account: str, message_id: str) -> str:
        """The store key of one message of ``account``."""
        return f"{{{account}}}:dedup:{message_id}"

    @staticmethod
    def guard(timestamp: str, nonce: str, seen: str, window: float) -> Guard | None:
        """The replay guard of a request (``None`` when the window is off).

        Keyed by what WeChat signs, the timestamp and nonce, and by no account:
        two accounts may share a callback Token, so a signature seen at one is
        refused at the other with anything but what it carried."""
        if not window:
            return None
        return Guard(f"replay:{timestamp}:{nonce}", seen, 2 * window)

    def claim(self, key: str, ttl: float, guard: Guard | None) -> Claim:
        """Claim ``key`` for this delivery (see :meth:`Store.claim`).

        The claim holds a token of this delivery's: a store client that sent the
        claim again (its connection dropped after Redis ran it) finds its own
        token, which is no duplicate."""
        token = PENDING + random_bytes(8).hex()
        claim = self.store.claim(key, token, ttl, guard)
        if claim.status == "duplicate" and claim.value == token:
            return CLAIMED
        return claim

    def finish(self, key: str, answer: Answer, ttl: float) -> None:
        """Remember the answer of the claimed delivery for its retries."""
        self.store.set_soon(key, answer.to_data(), ttl)

    def wait(self, key: str, found: t.Any, timeout: float) -> Answer | None:
        """The first delivery's answer: ``found`` if it is one, else polled for up
        to ``timeout`` seconds while the first delivery runs.

        :raises StoreUnavailable: the store failed while polling.
        """
        deadline = time.monotonic() + timeout
        while True:
            answer = Answer.from_data(found)
            if answer is not None:
                return answer
            if not (isinstance(found, str) and found.startswith(PENDING)):
                return None
            if time.monotonic() >= deadline:
                return None
            time.sleep(_POLL_INTERVAL)
            found = self.store.get(key)
