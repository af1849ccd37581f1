"""The shared cache behind dedup (and, for the API client, tokens and locks)."""

from __future__ import annotations

import threading
import time
import typing as t

from cachelib import RedisCache as CachelibRedisCache
from cachelib import SimpleCache as CachelibSimpleCache
from flask_caching import Cache

from .errors import ConfigError

if t.TYPE_CHECKING:
    from flask import Flask


def resolve_cache(app: Flask) -> Cache:
    """``WECHAT_CACHE`` when given, else a cache built from the app's ``CACHE_*`` keys.

    Without any ``CACHE_TYPE`` this is an in-process SimpleCache: right for one
    process. Several processes or machines need a shared one (``RedisCache``) so
    that a retry landing on another worker is still recognised.
    """
    configured = app.config.get("WECHAT_CACHE")
    if configured is not None:
        for method in ("get", "set", "add", "delete"):
            if not callable(getattr(configured, method, None)):
                raise ConfigError("WECHAT_CACHE", "must be a flask_caching.Cache (or None)")
        return t.cast(Cache, configured)
    config = {k: v for k, v in app.config.items() if k.startswith("CACHE_")}
    config.setdefault("CACHE_TYPE", "SimpleCache")
    if config["CACHE_TYPE"] in ("SimpleCache", "simple"):
        # Dedup remembers every message id for WECHAT_DEDUP_TTL; the default
        # threshold of 500 entries would forget ids under modest load.
        config.setdefault("CACHE_THRESHOLD", 100_000)
    cache = Cache()
    cache.init_app(app, config=config)
    return cache


# Deletes KEYS[1] only while it still holds ARGV[1]: a lock is released by its owner only.
_DELETE_IF_EQUAL = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class SharedCache:
    """The extension's cache, with the two atomic operations locks and dedup need.

    Built by :func:`shared_cache` for the cache's back-end:

    * Redis: cachelib's ``add`` is ``SETNX`` then ``EXPIRE``, so a process dying
      between the two leaves a key that never expires, a lock held forever. Here
      ``add`` is one ``SET NX EX`` and owners release with a compare-and-delete.
    * an in-process SimpleCache: a dict with expiry times, without cachelib's
      pickling, behind one lock; it is per process either way.
    * anything else (memcached, files...): the cache's own ``add``, under a lock.
    """

    #: whether other processes see the same entries.
    is_shared: bool = True

    def __init__(self, backend: t.Any) -> None:
        #: the cachelib back-end behind the flask-caching ``Cache``.
        self.cache = backend
        self._lock = threading.Lock()

    def get(self, key: str) -> t.Any:
        return self.cache.get(key)

    def set(self, key: str, value: t.Any, timeout: float) -> None:
        self.cache.set(key, value, timeout=_seconds(timeout))

    def delete(self, key: str) -> None:
        self.cache.delete(key)

    def add(self, key: str, value: t.Any, timeout: float) -> bool:
        """Store ``value`` unless ``key`` exists, atomically, with its expiry."""
        with self._lock:
            return bool(self.cache.add(key, value, timeout=_seconds(timeout)))

    def delete_if_equal(self, key: str, value: t.Any) -> bool:
        """Delete ``key`` only while it holds ``value`` (release a lock one owns)."""
        with self._lock:
            if self.cache.get(key) != value:
                return False
            self.cache.delete(key)
            return True


class _RedisCache(SharedCache):
    def __init__(self, backend: t.Any) -> None:
        super().__init__(backend)
        self._backend = backend
        self._redis = backend._write_client

    def _name(self, key: str) -> str:
        return str(self._backend._get_prefix()) + key

    def add(self, key: str, value: t.Any, timeout: float) -> bool:
        dump = self._backend.serializer.dumps(value)
        return bool(self._redis.set(self._name(key), dump, nx=True, ex=_seconds(timeout)))

    def delete_if_equal(self, key: str, value: t.Any) -> bool:
        dump = self._backend.serializer.dumps(value)
        return bool(self._redis.eval(_DELETE_IF_EQUAL, 1, self._name(key), dump))


class _LocalCache(SharedCache):
    is_shared = False
    _SWEEP_INTERVAL = 5.0

    def __init__(self, backend: t.Any) -> None:
        super().__init__(backend)
        self._entries: dict[str, tuple[float, t.Any]] = {}
        self._next_sweep = time.monotonic() + self._SWEEP_INTERVAL

    def _live(self, key: str, now: float) -> tuple[float, t.Any] | None:
        entry = self._entries.get(key)
        if entry is not None and entry[0] <= now:
            del self._entries[key]
            return None
        return entry

    def _sweep(self, now: float) -> None:
        if now >= self._next_sweep:
            self._next_sweep = now + self._SWEEP_INTERVAL
            expired = [k for k, (expires, _) in self._entries.items() if expires <= now]
            for k in expired:
                del self._entries[k]

    def get(self, key: str) -> t.Any:
        with self._lock:
            entry = self._live(key, time.monotonic())
        return None if entry is None else entry[1]

    def set(self, key: str, value: t.Any, timeout: float) -> None:
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            self._entries[key] = (now + timeout, value)

    def delete(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def add(self, key: str, value: t.Any, timeout: float) -> bool:
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            if self._live(key, now) is not None:
                return False
            self._entries[key] = (now + timeout, value)
            return True

    def delete_if_equal(self, key: str, value: t.Any) -> bool:
        with self._lock:
            entry = self._live(key, time.monotonic())
            if entry is None or entry[1] != value:
                return False
            del self._entries[key]
            return True


def shared_cache(cache: Cache, app: Flask) -> SharedCache:
    """Wrap ``app``'s back-end of ``cache`` (see :class:`SharedCache`).

    The back-end is looked up with ``app`` itself, not ``current_app``: an app
    may be initialised inside another app's context.
    """
    backend: t.Any = app.extensions.get("cache", {}).get(cache)
    if backend is None:
        backend = cache if callable(getattr(cache, "add", None)) else None
    if backend is None:  # pragma: no cover - resolve_cache checked the methods
        raise ConfigError("WECHAT_CACHE", "is not initialised on this app (cache.init_app(app))")
    if isinstance(backend, CachelibRedisCache):
        return _RedisCache(backend)
    if isinstance(backend, CachelibSimpleCache):
        return _LocalCache(backend)
    return SharedCache(backend)


def _seconds(timeout: float) -> int:
    return max(1, int(timeout + 0.999))
