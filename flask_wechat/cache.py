"""The shared cache behind dedup (and, for the API client, tokens and locks)."""

from __future__ import annotations

import contextlib
import threading
import typing as t

from cachelib import RedisCache as CachelibRedisCache
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
    """The extension's cache, plus the two atomic operations locks and dedup need.

    cachelib's ``RedisCache.add`` is ``SETNX`` followed by ``EXPIRE``: a process
    dying between the two leaves a key that never expires, a lock held forever.
    With Redis this uses ``SET NX EX`` (one command) and a compare-and-delete
    script instead; in-process caches are made atomic with a lock.
    """

    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        backend: t.Any = getattr(cache, "cache", cache)
        self._backend = backend
        self._redis: t.Any = None
        self._lock: threading.Lock | None = threading.Lock()
        if isinstance(backend, CachelibRedisCache):
            self._redis = backend._write_client
            self._lock = None
        elif "Memcache" in type(backend).__name__:
            self._lock = None  # memcached's add is atomic and takes its expiry along

    @property
    def is_shared(self) -> bool:
        """Whether other processes see this cache (Redis or memcached)."""
        return self._lock is None

    def get(self, key: str) -> t.Any:
        return self.cache.get(key)

    def set(self, key: str, value: t.Any, timeout: float) -> None:
        self.cache.set(key, value, timeout=_seconds(timeout))

    def delete(self, key: str) -> None:
        self.cache.delete(key)

    def add(self, key: str, value: t.Any, timeout: float) -> bool:
        """Store ``value`` unless ``key`` exists, atomically, with its expiry."""
        if self._redis is not None:
            name = self._backend._get_prefix() + key
            dump = self._backend.serializer.dumps(value)
            return bool(self._redis.set(name, dump, nx=True, ex=_seconds(timeout)))
        if self._lock is None:
            return bool(self.cache.add(key, value, timeout=_seconds(timeout)))
        with self._lock:
            return bool(self.cache.add(key, value, timeout=_seconds(timeout)))

    def delete_if_equal(self, key: str, value: t.Any) -> bool:
        """Delete ``key`` only while it holds ``value`` (release a lock one owns)."""
        if self._redis is not None:
            name = self._backend._get_prefix() + key
            dump = self._backend.serializer.dumps(value)
            return bool(self._redis.eval(_DELETE_IF_EQUAL, 1, name, dump))
        lock = self._lock or _NO_LOCK
        with lock:
            if self.cache.get(key) != value:
                return False
            self.cache.delete(key)
            return True


def _seconds(timeout: float) -> int:
    return max(1, int(timeout + 0.999))


_NO_LOCK = contextlib.nullcontext()
