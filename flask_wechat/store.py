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


def _pack(commands: list[tuple[t.Any, ...]]) -> bytes:
    """Commands in Redis's wire format (RESP): our arguments are only str, bytes
    and int, so this is all the encoding there is."""
    out: list[bytes] = []
    for command in commands:
        out.append(b"*%d\r\n" % len(command))
        for arg in command:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _dumps(value: t.Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _loads(raw: bytes | None) -> t.Any:
    return None if raw is None else json.loads(raw)


class RedisStore(Store):
    """The store in Redis, through redis-py (a connection pool per process).

    :param client: a ``redis.Redis`` (or a Sentinel master, or a ``RedisCluster``:
        every key of one claim shares a hash tag).
    :param prefix: prepended to every key.
    """

    def __init__(self, client: t.Any, prefix: str = "wechat:") -> None:
        import redis  # noqa: PLC0415 - an optional dependency, needed only here

        self.redis = client
        self.prefix = prefix
        self._errors = (redis.RedisError, OSError)
        self._no_script = redis.exceptions.NoScriptError
        self._response_error = redis.exceptions.ResponseError
        # "Connection closed by server" and friends, but not a timeout: a command
        # that timed out may have run.
        self._closed = (redis.exceptions.ConnectionError,)
        self._claim = client.register_script(_CLAIM)
        self._delete_if_equal = client.register_script(_DELETE_IF_EQUAL)
        # set_soon's writes, sent along with the next claim or get, or by a thread
        # of this process within _FLUSH_AFTER.
        self._pending: list[tuple[t.Any, ...]] = []
        self._pending_lock = threading.Lock()
        self._wake = threading.Event()
        self._flusher_pid = 0
        # The hot commands (claim, get, the queued writes) go straight down one
        # connection per thread, taken from the client's pool and kept: redis-py's
        # pipeline objects and per-command pool checkout cost more than the round
        # trip itself. Clients without a plain pool (Cluster) use pipelines.
        self._pool = (
            getattr(client, "connection_pool", None) if isinstance(client, redis.Redis) else None
        )
        self._local = threading.local()

    @classmethod
    def from_url(cls, url: str, prefix: str = "wechat:") -> RedisStore:
        """A store on the Redis at ``url`` (short timeouts: an outage fails fast)."""
        import redis  # noqa: PLC0415 - an optional dependency, needed only here

        client = redis.Redis.from_url(
            url, socket_connect_timeout=1.0, socket_timeout=2.0, health_check_interval=30
        )
        return cls(client, prefix)

    def _call(self, func: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> t.Any:
        try:
            return func(*args, **kwargs)
        except self._errors as exc:
            raise StoreUnavailable(f"Redis did not answer ({type(exc).__name__})") from None

    _FLUSH_AFTER = 0.005

    def get(self, key: str) -> t.Any:
        return _loads(self._with_pending(("GET", self.prefix + key)))

    def set_soon(self, key: str, value: t.Any, ttl: float) -> None:
        """Queue the ``SET``: it travels in the same round trip as this process's
        next claim or get (a pipeline), or within 5 ms on a thread of its own, so
        remembering a callback's answer costs no round trip of its own."""
        command = ("SET", self.prefix + key, _dumps(value), "PX", _ms(ttl))
        with self._pending_lock:
            self._pending.append(command)
            if self._flusher_pid != os.getpid():  # none yet, or we are a forked child
                self._flusher_pid = os.getpid()
                self._pending = [command]
                threading.Thread(
                    target=self._flush_loop, name="flask_wechat-store", daemon=True
                ).start()
        self._wake.set()

    def _take_pending(self) -> list[tuple[t.Any, ...]]:
        with self._pending_lock:
            pending, self._pending = self._pending, []
        return pending

    def _flush_loop(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(self._FLUSH_AFTER)  # a request's own command may take them first
            self._wake.clear()
            pending = self._take_pending()
            if pending:
                try:
                    self._pipeline(pending)
                except StoreUnavailable as exc:
                    logger.warning("could not store %d answer(s) in Redis: %s", len(pending), exc)

    def _connection(self) -> t.Any:
        held = getattr(self._local, "held", None)
        if held is not None and held[0] == os.getpid():
            return held[1]
        pool = t.cast(t.Any, self._pool)
        try:
            connection = pool.get_connection()
        except TypeError:  # redis-py before 5.3 wants a command name
            connection = pool.get_connection("_")
        self._local.held = (os.getpid(), connection)
        return connection

    def _send(self, packed: bytes, count: int) -> list[t.Any]:
        connection = self._connection()
        try:
            connection.send_packed_command([packed])
            answers: list[t.Any] = []
            for _ in range(count):
                try:
                    answers.append(connection.read_response())
                except self._response_error as exc:
                    answers.append(exc)
            return answers
        except BaseException:
            connection.disconnect()  # reconnects on the next command
            raise

    def _pipeline(self, commands: list[tuple[t.Any, ...]]) -> list[t.Any]:
        if self._pool is not None:
            packed = _pack(commands)
            for attempt in (1, 2):
                try:
                    return self._send(packed, len(commands))
                except self._closed as exc:
                    # A connection Redis closed (it restarted): the commands never
                    # ran, so they are sent once more on a fresh connection.
                    if attempt == 2:
                        raise StoreUnavailable(
                            f"Redis did not answer ({type(exc).__name__})"
                        ) from None
                except self._errors as exc:
                    raise StoreUnavailable(f"Redis did not answer ({type(exc).__name__})") from None
        pipe = self.redis.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        try:
            return list(pipe.execute(raise_on_error=False))
        except self._errors as exc:
            raise StoreUnavailable(f"Redis did not answer ({type(exc).__name__})") from None

    def _with_pending(self, command: tuple[t.Any, ...]) -> t.Any:
        """``command``'s answer, sent in one round trip after the pending writes."""
        result = self._pipeline([*self._take_pending(), command])[-1]
        if isinstance(result, self._no_script):  # Redis restarted or flushed its scripts
            result = self._call(
                self._claim,
                keys=list(command[3 : 3 + command[2]]),
                args=list(command[3 + command[2] :]),
            )
        elif isinstance(result, Exception):
            raise StoreUnavailable(f"Redis refused a command ({type(result).__name__})")
        return result

    def set(self, key: str, value: t.Any, ttl: float) -> None:
        self._call(self.redis.set, self.prefix + key, _dumps(value), px=_ms(ttl))

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

    def claim(self, key: str, value: t.Any, ttl: float, guard: Guard | None = None) -> Claim:
        keys = [self.prefix + key]
        args: list[t.Any] = [_dumps(value), _ms(ttl) if ttl else 0]
        if guard is not None:
            keys.append(self.prefix + guard.key)
            args += [guard.value, _ms(guard.ttl)]
        result = self._with_pending(("EVALSHA", self._claim.sha, len(keys), *keys, *args))
        status = result[0].decode() if isinstance(result[0], bytes) else str(result[0])
        stored = _loads(result[1]) if len(result) > 1 else None
        return Claim(t.cast(ClaimStatus, status), stored)


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
    client = getattr(backend, "_write_client", None)
    if client is not None and hasattr(client, "register_script"):
        return RedisStore(client)
    if type(backend).__name__ == "SimpleCache":
        return MemoryStore()
    return CacheStore(backend)
