"""Token central control (中控): access_token and jsapi_ticket in the shared cache.

WeChat keeps one valid access_token per account; fetching a new one retires the
old one within minutes, and the daily quota of fetches is small (errcode 45009).
So every process and machine must share one token and exactly one of them may
refresh it at a time (seed ``wecom-jssdk-and-official-account-api.txt``: "建议公众号
使用统一的中控服务器来获取和刷新access_token").

The protocol, over any :class:`~flask_wechat.store.Store`:

* read the cached credential; use it while it is before its refresh time (a margin
  before ``expires_in``) and is not the one a call just saw fail;
* past the refresh time but still valid: one process takes the refresh lock and
  refreshes on a background thread, and every request — that one's too — goes on
  with the old credential; nobody waits;
* missing or expired: take the refresh lock (atomic add with expiry, released only
  by its owner), read again (someone may have refreshed meanwhile), fetch, store;
  processes that do not get the lock poll the store for a bounded time;
* the store unreachable: :class:`~flask_wechat.errors.TokenUnavailable` at once.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
import typing as t

from ..errors import StoreUnavailable, TokenUnavailable

if t.TYPE_CHECKING:
    from ..store import Store

logger = logging.getLogger("flask_wechat")

#: Fetches a credential from WeChat: returns ``(value, expires_in)``.
Fetcher = t.Callable[[bool], tuple[str, float]]

_POLL_INTERVAL = 0.05
#: After a failed background refresh, this process waits this long before the next.
_RETRY_AFTER = 5.0


class Credential(t.NamedTuple):
    """A cached access_token or ticket."""

    value: str
    issued_at: float
    refresh_at: float
    expires_at: float


class CredentialStore:
    """One credential (e.g. an account's access_token) shared through the cache.

    :param fetch: called with ``force`` to get ``(value, expires_in)`` from WeChat.
    :param margin: refresh this many seconds before ``expires_in`` runs out (at
        most a fifth of the lifetime, so short-lived tokens in tests still work).
    :param lock_timeout: how long a refresh lock lives if its owner dies.
    :param wait: how long a process without the lock waits for the refresh.
    """

    def __init__(
        self,
        cache: Store,
        key: str,
        fetch: Fetcher,
        *,
        margin: float = 300.0,
        lock_timeout: float = 30.0,
        wait: float = 20.0,
        on_refresh: t.Callable[[], None] | None = None,
    ) -> None:
        self.cache = cache
        self.key = key
        self.lock_key = key + ":lock"
        self.fetch = fetch
        self.margin = margin
        self.lock_timeout = lock_timeout
        self.wait = wait
        self.on_refresh = on_refresh
        self._next_background = 0.0
        self._background_lock = threading.Lock()

    def peek(self) -> Credential | None:
        """The cached credential, fresh or not, without fetching."""
        try:
            value = self.cache.get(self.key)
        except StoreUnavailable as exc:
            raise TokenUnavailable(f"the shared store is unavailable: {exc}") from None
        if isinstance(value, (tuple, list)) and len(value) == 4:
            return Credential(str(value[0]), *map(float, value[1:]))
        return None

    def get(self) -> str:
        """A valid credential: the cached one (refreshed in the background once it
        nears its end), or a fresh one."""
        current = self.peek()
        if current is not None:
            now = time.time()
            if now < current.refresh_at:
                return current.value
            if now < current.expires_at:  # still valid: nobody waits for the new one
                self._refresh_in_background()
                return current.value
        return self.refresh()

    def _refresh_in_background(self) -> None:
        """Start one refresh on a thread, if no process is refreshing already."""
        now = time.monotonic()
        with self._background_lock:
            if now < self._next_background:
                return
            self._next_background = now + _RETRY_AFTER
        owner = secrets.token_hex(8)
        try:
            if not self.cache.add(self.lock_key, owner, self.lock_timeout):
                return  # another process is refreshing
        except StoreUnavailable:
            return

        def run() -> None:
            try:
                current = self.peek()
                if current is None or time.time() >= current.refresh_at:
                    self._fetch_and_store(False)
            except Exception as exc:
                logger.warning("a background refresh of %s failed: %s", self.key, exc)
            finally:
                with contextlib.suppress(StoreUnavailable):
                    self.cache.delete_if_equal(self.lock_key, owner)

        threading.Thread(target=run, name="flask_wechat-refresh", daemon=True).start()

    def refresh(self, failed: str | None = None, *, force: bool = False) -> str:
        """Make sure the cache holds a good credential and return it.

        :param failed: a value WeChat just refused (40001...): a cached credential
            equal to it is replaced; a different one (refreshed meanwhile by another
            process) is returned as is.
        :param force: fetch anew even if the cached one is fresh, unless another
            process already refreshed after this call began.
        """
        started = time.time()
        deadline = time.monotonic() + self.wait
        owner = secrets.token_hex(8)
        while True:
            current = self.peek()
            if self._usable(current, failed, started if force else None):
                return t.cast(Credential, current).value
            try:
                locked = self.cache.add(self.lock_key, owner, self.lock_timeout)
            except StoreUnavailable as exc:
                raise TokenUnavailable(f"the shared store is unavailable: {exc}") from None
            if locked:
                try:
                    current = self.peek()  # double-checked: refreshed while we queued?
                    if self._usable(current, failed, started if force else None):
                        return t.cast(Credential, current).value
                    return self._fetch_and_store(force)
                finally:
                    with contextlib.suppress(StoreUnavailable):  # it expires on its own
                        self.cache.delete_if_equal(self.lock_key, owner)
            if time.monotonic() >= deadline:
                raise TokenUnavailable(
                    f"no fresh credential for {self.key!r} within {self.wait:g}s; "
                    "another process holds the refresh lock"
                )
            time.sleep(_POLL_INTERVAL)

    def invalidate(self, failed: str) -> bool:
        """Drop the cached credential, but only while it is still ``failed``."""
        current = self.peek()
        if current is None or current.value != failed:
            return False
        return self.cache.delete_if_equal(self.key, list(current))

    def _usable(
        self, current: Credential | None, failed: str | None, issued_after: float | None
    ) -> bool:
        if current is None or time.time() >= current.refresh_at:
            return False
        if failed is not None and current.value == failed:
            return False
        return issued_after is None or current.issued_at >= issued_after

    def _fetch_and_store(self, force: bool) -> str:
        issued_at = time.time()
        value, expires_in = self.fetch(force)
        expires_in = max(1.0, float(expires_in))
        margin = min(self.margin, expires_in / 5)
        record = Credential(
            value, issued_at, issued_at + expires_in - margin, issued_at + expires_in
        )
        latest = self.peek()
        # A credential issued after ours (a lock that expired under a slow fetch)
        # is newer: never overwrite it with an older one.
        if latest is None or latest.issued_at <= issued_at:
            self.cache.set(self.key, list(record), expires_in)
        else:
            value = latest.value
        if self.on_refresh is not None:
            self.on_refresh()
        return value
