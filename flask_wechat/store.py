"""The shared store: where dedup claims, replay guards, tokens, locks and cursors live.

A small interface (:class:`Store`: ``get``/``set``/``add``/``delete``, a
compare-and-delete for locks, and :meth:`Store.claim` for callbacks) with three
back-ends:

* :class:`MemoryStore` — a dict with expiry times in this process (the default;
  right for one process);
* :class:`RedisStore` — redis-py directly: JSON values, ``SET NX PX`` and one
  Lua script, so a callback claims its message in one round trip; shared by every
  process and machine;
* :class:`CacheStore` — any other flask-caching back-end (memcached, files…),
  through its own ``add``.

:func:`make_store` picks one for an app: ``WECHAT_REDIS_URL``, else the Redis
behind the site's flask-caching configuration, else memory.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import typing as t
from urllib.parse import quote

from .errors import ConfigError, StoreUnavailable

if t.TYPE_CHECKING:
    from flask import Flask

    from .config import AppSettings

logger = logging.getLogger("flask_wechat")

#: What :meth:`Store.claim` found: ``"new"`` (this delivery runs the handler),
#: ``"duplicate"`` (a retry: ``value`` is what the first one stored), or
#: ``"replayed"`` (the guard holds another value: a forgery).
ClaimStatus = t.Literal["new", "duplicate", "replayed"]


class Claim(t.NamedTuple):
    """The outcome of :meth:`Store.claim`."""

    status: ClaimStatus
    value: t.Any = None


#: The outcomes that carry no value, made once.
CLAIMED = Claim("new")
REPLAYED = Claim("replayed")


class Guard(t.NamedTuple):
    """A value ``key`` must keep for ``ttl`` seconds once first stored."""

    key: str
    value: str
    ttl: float


class Store:
    """The interface; values are JSON-compatible (str, numbers, lists, dicts)."""

    #: whether other processes see the same entries.
    is_shared: t.ClassVar[bool] = True

    def get(self, key: str) -> t.Any:
        """The value of ``key``, or ``None``."""
        raise NotImplementedError

    def set(self, key: str, value: t.Any, ttl: float) -> None:
        """Store ``value`` for ``ttl`` seconds."""
        raise NotImplementedError

    def add(self, key: str, value: t.Any, ttl: float) -> bool:
        """Store ``value`` unless ``key`` exists, atomically; whether it was stored."""
        raise NotImplementedError

    def set_soon(self, key: str, value: t.Any, ttl: float) -> None:
        """:meth:`set`, but it may reach a remote store a few milliseconds later
        (with this process's next command); for values nobody needs this instant."""
        self.set(key, value, ttl)

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        raise NotImplementedError

    def delete_if_equal(self, key: str, value: t.Any) -> bool:
        """Delete ``key`` only while it holds ``value`` (release a lock one owns)."""
        raise NotImplementedError

    # -- durable records (the third-party platform's authorizers) -----------------

    def keep(self, key: str, value: t.Any) -> None:
        """Store ``value`` without expiry: durable data, not a cache entry."""
        raise NotImplementedError(f"{type(self).__name__} cannot keep entries without expiry")

    def scan(self, prefix: str) -> t.Iterator[str]:
        """Every key that starts with ``prefix`` (in no particular order)."""
        raise NotImplementedError(f"{type(self).__name__} cannot list its keys")

    def claim(self, key: str, value: t.Any, ttl: float, guard: Guard | None = None) -> Claim:
        """Claim ``key`` for one delivery of a callback, atomically.

        With a ``guard`` (the request's timestamp and nonce → a digest of what it
        carried): a guard holding another value means ``"replayed"``; one holding
        the same value means the very same request came again, a ``"duplicate"``
        even after ``key`` expired. Otherwise ``key`` is added with ``value``
        (``"new"``), or is there already (``"duplicate"`` with its value). A
        ``ttl`` of 0 claims nothing but the guard.
        """
        if guard is not None:
            seen = self.get(guard.key)
            if seen is None:
                self.set(guard.key, guard.value, guard.ttl)
            elif seen != guard.value:
                return Claim("replayed")
            else:
                return Claim("duplicate", self.get(key) if ttl else None)
        if not ttl or self.add(key, value, ttl):
            return Claim("new")
        return Claim("duplicate", self.get(key))


class MemoryStore(Store):
    """Entries in this process, with expiry; one lock, no serialisation."""

    is_shared = False
    _SWEEP_INTERVAL = 5.0

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, t.Any]] = {}
        self._lock = threading.Lock()
        self._next_sweep = time.monotonic() + self._SWEEP_INTERVAL

    def _live(self, key: str, now: float) -> tuple[float, t.Any] | None:
        entry = self._entries.get(key)
        if entry is not None and entry[0] <= now:
            del self._entries[key]
            return None
        return entry

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + self._SWEEP_INTERVAL
        for key in [k for k, (expires, _) in self._entries.items() if expires <= now]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> t.Any:
        with self._lock:
            entry = self._live(key, time.monotonic())
        return None if entry is None else entry[1]

    def set(self, key: str, value: t.Any, ttl: float) -> None:
        now = time.monotonic()
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            self._entries[key] = (now + ttl, value)

    set_soon = set

    def add(self, key: str, value: t.Any, ttl: float) -> bool:
        now = time.monotonic()
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            if self._live(key, now) is not None:
                return False
            self._entries[key] = (now + ttl, value)
            return True

    def delete(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def delete_if_equal(self, key: str, value: t.Any) -> bool:
        with self._lock:
            entry = self._live(key, time.monotonic())
            if entry is None or entry[1] != value:
                return False
            del self._entries[key]
            return True

    def keep(self, key: str, value: t.Any) -> None:
        with self._lock:
            self._entries[key] = (float("inf"), value)

    def scan(self, prefix: str) -> t.Iterator[str]:
        now = time.monotonic()
        with self._lock:
            keys = [k for k, (expires, _) in self._entries.items() if k.startswith(prefix)]
            found = [k for k in keys if self._entries[k][0] > now]
        return iter(found)

    def claim(self, key: str, value: t.Any, ttl: float, guard: Guard | None = None) -> Claim:
        # Store.claim's rules, in one pass under the lock (the hot path of every callback).
        now = time.monotonic()
        entries = self._entries
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            if guard is not None:
                seen = entries.get(guard.key)
                if seen is None or seen[0] <= now:
                    entries[guard.key] = (now + guard.ttl, guard.value)
                elif seen[1] != guard.value:
                    return REPLAYED
                else:
                    entry = self._live(key, now) if ttl else None
                    return Claim("duplicate", None if entry is None else entry[1])
            if not ttl:
                return CLAIMED
            entry = entries.get(key)
            if entry is not None and entry[0] > now:
                return Claim("duplicate", entry[1])
            entries[key] = (now + ttl, value)
            return CLAIMED


# KEYS[1] the claim, KEYS[2] the guard (optional); ARGV: value, ttl ms, guard value,
# guard ttl ms. One round trip for the whole of Store.claim.
_CLAIM = """
if #KEYS > 1 then
  local seen = redis.call('GET', KEYS[2])
  if not seen then
    redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
  elseif seen ~= ARGV[3] then
    return {'replayed'}
  elseif ARGV[2] == '0' then
    return {'duplicate'}
  else
    return {'duplicate', redis.call('GET', KEYS[1])}
  end
end
if ARGV[2] == '0' or redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {'new'}
end
return {'duplicate', redis.call('GET', KEYS[1])}
"""

_DELETE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


# Built once: json.dumps with arguments other than its defaults builds an encoder per call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _dumps(value: t.Any) -> bytes:
    return _encode(value).encode()


def _loads(raw: bytes | str | None) -> t.Any:
    return None if raw is None else json.loads(raw)


# The claim script's first answer → the Claim (bytes; str from a client that decodes).
_CLAIMED: dict[bytes | str, Claim] = {
    form: Claim(status) for status in t.get_args(ClaimStatus) for form in (status, status.encode())
}

#: Connections one process may hold to Redis when flask_wechat makes the client
#: (``WECHAT_REDIS_URL``; ``?max_connections=N`` in the URL changes it). A thread
#: that finds them all busy waits up to :data:`POOL_TIMEOUT` seconds for one.
MAX_CONNECTIONS = 50
POOL_TIMEOUT = 2.0


class RedisStore(Store):
    """The store in Redis, through redis-py's public API.

    A callback's claim is one ``EVALSHA`` of a Lua script (redis-py's ``Script``
    loads it again after a Redis restart): one round trip. Answers remembered for
    retries are queued and written by a thread of this process in pipelines, a
    few milliseconds later, so they cost a callback no round trip of their own.
    Every command checks a connection out of the client's pool and returns it:
    a process holds no more connections than it runs commands at once, bounded by
    a ``BlockingConnectionPool`` when flask_wechat makes the client.

    :param client: a ``redis.Redis`` (or a Sentinel master, or a ``RedisCluster``:
        there the replay guard and the claim are two commands, as their keys lie
        in different slots).
    :param prefix: prepended to every key.
    """

    def __init__(self, client: t.Any, prefix: str = "wechat:") -> None:
        import redis  # noqa: PLC0415 - an optional dependency, needed only here
        from redis.cluster import RedisCluster  # noqa: PLC0415

        self.redis = client
        self.prefix = prefix
        self._errors = (redis.RedisError, OSError)
        self._claim = client.register_script(_CLAIM)
        self._delete_if_equal = client.register_script(_DELETE_IF_EQUAL)
        self._cluster = isinstance(client, RedisCluster)
        # set_soon's writes, for the writer thread of this process.
        self._pending: list[tuple[str, bytes, int]] = []
        self._pending_lock = threading.Lock()
        self._wake = threading.Event()
        self._writer_pid = 0

    @classmethod
    def from_url(cls, url: str, prefix: str = "wechat:", **options: t.Any) -> RedisStore:
        """A store on the Redis at ``url``: a bounded, blocking pool, short
        timeouts (an outage fails fast), redis-py's health checks, and one retry
        of a command whose connection Redis had closed (a restart)."""
        import redis  # noqa: PLC0415 - an optional dependency, needed only here
        from redis.backoff import NoBackoff  # noqa: PLC0415
        from redis.retry import Retry  # noqa: PLC0415

        settings: dict[str, t.Any] = {
            "max_connections": MAX_CONNECTIONS,
            "timeout": POOL_TIMEOUT,
            "socket_connect_timeout": 1.0,
            "socket_timeout": 2.0,
            "health_check_interval": 30,
            "retry": Retry(NoBackoff(), 1),
            "retry_on_error": [redis.exceptions.ConnectionError],
        }
        settings.update(options)
        pool = redis.BlockingConnectionPool.from_url(url, **settings)
        return cls(redis.Redis(connection_pool=pool), prefix)

    def _call(self, func: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> t.Any:
        try:
            return func(*args, **kwargs)
        except self._errors as exc:
            raise StoreUnavailable(f"Redis did not answer ({type(exc).__name__})") from None

    #: how long a queued write waits for others to share its round trip.
    _FLUSH_AFTER = 0.005

    def get(self, key: str) -> t.Any:
        return _loads(self._call(self.redis.get, self.prefix + key))

    def set(self, key: str, value: t.Any, ttl: float) -> None:
        self._call(self.redis.set, self.prefix + key, _dumps(value), px=_ms(ttl))

    def set_soon(self, key: str, value: t.Any, ttl: float) -> None:
        """Queue the ``SET`` for this process's writer thread, which sends what
        has queued in one pipeline within a few milliseconds."""
        command = (self.prefix + key, _dumps(value), _ms(ttl))
        pid = os.getpid()
        with self._pending_lock:
            if self._writer_pid == pid:
                self._pending.append(command)
            else:  # none yet, or we are a forked child (the parent's writes are its own)
                self._writer_pid = pid
                self._pending = [command]
                threading.Thread(
                    target=self._write_loop, name="flask_wechat-store", daemon=True
                ).start()
        if not self._wake.is_set():  # a flag still set is enough: the writer clears it first
            self._wake.set()

    def _write_loop(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(self._FLUSH_AFTER)  # let the writes of other requests join
            self._wake.clear()
            with self._pending_lock:
                pending, self._pending = self._pending, []
            if pending:
                try:
                    self.write(pending)
                except StoreUnavailable as exc:
                    logger.warning("could not store %d answer(s) in Redis: %s", len(pending), exc)

    def write(self, commands: list[tuple[str, bytes, int]]) -> None:
        """``SET key value PX ms`` for each of ``commands``, in one pipeline."""
        pipe = self.redis.pipeline(transaction=False)
        for name, raw, ms in commands:
            pipe.set(name, raw, px=ms)
        self._call(pipe.execute)

    def add(self, key: str, value: t.Any, ttl: float) -> bool:
        return bool(
            self._call(self.redis.set, self.prefix + key, _dumps(value), nx=True, px=_ms(ttl))
        )

    def delete(self, key: str) -> None:
        self._call(self.redis.delete, self.prefix + key)

    def delete_if_equal(self, key: str, value: t.Any) -> bool:
        return bool(
            self._call(self._delete_if_equal, keys=[self.prefix + key], args=[_dumps(value)])
        )

    def keep(self, key: str, value: t.Any) -> None:
        self._call(self.redis.set, self.prefix + key, _dumps(value))

    def scan(self, prefix: str) -> t.Iterator[str]:
        pattern = _glob_escape(self.prefix + prefix) + "*"
        start = len(self.prefix)
        keys = self._call(lambda: list(self.redis.scan_iter(match=pattern, count=1000)))
        return (k.decode()[start:] if isinstance(k, bytes) else str(k)[start:] for k in keys)

    def claim(self, key: str, value: t.Any, ttl: float, guard: Guard | None = None) -> Claim:
        if self._cluster:
            return super().claim(key, value, ttl, guard)
        keys = [self.prefix + key]
        args: list[t.Any] = [_dumps(value), _ms(ttl) if ttl else 0]
        if guard is not None:
            keys.append(self.prefix + guard.key)
            args += [guard.value, _ms(guard.ttl)]
        result = self._call(self._claim, keys=keys, args=args)
        if len(result) == 1:
            return _CLAIMED[result[0]]
        return Claim(_CLAIMED[result[0]].status, _loads(result[1]))


class CacheStore(Store):
    """Any cachelib back-end (flask-caching's ``Cache``), through its own ``add``.

    ``add`` is atomic only as far as the back-end's is; :meth:`claim` and the
    compare-and-delete hold a lock of this process around two calls.
    """

    def __init__(self, backend: t.Any) -> None:
        self.backend = backend
        self._lock = threading.Lock()

    def get(self, key: str) -> t.Any:
        return self.backend.get(key)

    def set(self, key: str, value: t.Any, ttl: float) -> None:
        self.backend.set(key, value, timeout=max(1, int(ttl + 0.999)))

    def add(self, key: str, value: t.Any, ttl: float) -> bool:
        with self._lock:
            return bool(self.backend.add(key, value, timeout=max(1, int(ttl + 0.999))))

    def delete(self, key: str) -> None:
        self.backend.delete(key)

    def delete_if_equal(self, key: str, value: t.Any) -> bool:
        with self._lock:
            if self.backend.get(key) != value:
                return False
            self.backend.delete(key)
            return True

    def claim(self, key: str, value: t.Any, ttl: float, guard: Guard | None = None) -> Claim:
        with self._lock:
            return super().claim(key, value, ttl, guard)

    def keep(self, key: str, value: t.Any) -> None:
        self.backend.set(key, value, timeout=0)  # cachelib: 0 is "never expires"


def _glob_escape(text: str) -> str:
    """``text`` as a literal in a Redis ``MATCH`` pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _cache_backend(app: Flask, cache: t.Any) -> t.Any:
    """The cachelib back-end of a flask-caching ``Cache`` on ``app`` (or ``cache``
    itself when it already is one)."""
    backend = app.extensions.get("cache", {}).get(cache)
    if backend is None and callable(getattr(cache, "add", None)):
        backend = getattr(cache, "cache", None) or cache
    if backend is None:
        raise ConfigError("WECHAT_CACHE", "is not initialised on this app (cache.init_app(app))")
    return backend


def make_store(
    app: Flask, settings: AppSettings, cache: t.Any = None, redis: t.Any = None
) -> Store:
    """The store for ``app``: a given redis client, ``WECHAT_REDIS_URL``, the Redis
    behind ``WECHAT_CACHE``/``CACHE_*``, another flask-caching back-end, or memory."""
    if redis is not None:
        return RedisStore(redis)
    if settings.redis_url:
        return RedisStore.from_url(settings.redis_url)
    cache = cache if cache is not None else settings.cache
    if cache is None and app.config.get("CACHE_TYPE") not in (None, "", "null", "NullCache"):
        from flask_caching import Cache  # noqa: PLC0415 - only for sites that configure it

        cache = Cache()
        cache.init_app(app, config={k: v for k, v in app.config.items() if k.startswith("CACHE_")})
    if cache is None:
        return MemoryStore()
    for method in ("get", "set", "add", "delete"):
        if not callable(getattr(cache, method, None)):
            raise ConfigError("WECHAT_CACHE", "must be a flask_caching.Cache (or None)")
    backend = _cache_backend(app, cache)
    # flask-caching's Redis back-end keeps its client to itself: a store of our
    # own on the same Redis, from the same configuration keys.
    config = {**app.config, **(getattr(cache, "config", None) or {})}
    url = _redis_url(config) if type(backend) is _redis_cache_class() else None
    if url is not None:
        return RedisStore.from_url(url)
    if type(backend).__name__ == "SimpleCache":
        return MemoryStore()
    return CacheStore(backend)


def _redis_cache_class() -> type | None:
    try:
        from flask_caching.backends import RedisCache  # noqa: PLC0415
    except ImportError:  # pragma: no cover - flask-caching always has it
        return None
    return t.cast(type, RedisCache)


def _redis_url(config: t.Mapping[str, t.Any]) -> str | None:
    """The URL of the Redis a flask-caching ``RedisCache`` configuration names."""
    url = config.get("CACHE_REDIS_URL")
    if url:
        return str(url)
    host = config.get("CACHE_REDIS_HOST") or "localhost"
    if not isinstance(host, str):  # a client object: nothing to build a URL from
        return None
    port = config.get("CACHE_REDIS_PORT") or 6379
    db = config.get("CACHE_REDIS_DB") or 0
    password = config.get("CACHE_REDIS_PASSWORD")
    auth = f":{quote(str(password), safe='')}@" if password else ""
    return f"redis://{auth}{host}:{port}/{db}"
