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

import inspect
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


# The hot commands in Redis's wire format (RESP), as format strings over their
# arguments' lengths and bytes: one formatting per command. A bulk string is
# "$<length>\r\n<bytes>\r\n".
_BULK = b"$%d\r\n%s\r\n"
_SET = b"*5\r\n$3\r\nSET\r\n" + _BULK * 2 + b"$2\r\nPX\r\n" + _BULK
_GET = b"*2\r\n$3\r\nGET\r\n" + _BULK


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


# Built once: json.dumps with arguments other than its defaults builds an encoder per call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _dumps(value: t.Any) -> bytes:
    return _encode(value).encode()


def _loads(raw: bytes | None) -> t.Any:
    return None if raw is None else json.loads(raw)


# The claim script's first answer → the Claim (bytes; str from a client that decodes).
_CLAIMED: dict[bytes | str, Claim] = {
    form: Claim(status) for status in t.get_args(ClaimStatus) for form in (status, status.encode())
}
# Enough for every reply of a callback's round trip in one recv; larger ones take more.
_READ_SIZE = 65536


class _Wire:
    """A redis-py connection, spoken to directly on its socket.

    redis-py connects it (AUTH, SELECT, TLS, timeouts); the packed commands then go
    down ``connection._sock`` and their RESP2 replies are parsed here. redis-py's
    own reply path (a health check, its SocketBuffer and parser, a ``try`` per
    reply) costs more CPU per call than the round trip itself.
    """

    __slots__ = ("connection", "data", "error", "pos", "received", "sock")

    def __init__(self, connection: t.Any, error: t.Callable[[str], Exception]) -> None:
        self.connection = connection
        #: what an error reply becomes (it may raise instead, as redis-py does)
        self.error = error
        self.sock: t.Any = None
        self.data = b""  # what was received and not parsed yet, from self.pos
        self.pos = 0
        self.received = False  # whether any byte of the replies came

    def roundtrip(self, packed: bytes, count: int) -> list[t.Any]:
        """Send ``packed`` and parse its ``count`` replies; an error reply is an
        exception object in the list. Socket errors propagate (``received`` tells
        whether the server had begun answering); so does a reply that is not RESP2,
        as a ConnectionAbortedError."""
        if self.connection._sock is None:  # disconnected after a failure
            self.connection.connect()
        sock = self.sock = self.connection._sock  # with redis-py's socket_timeout on it
        self.received = False
        sock.sendall(packed)
        self.data, self.pos = sock.recv(_READ_SIZE), 0  # all the replies, as a rule
        if not self.data:
            raise ConnectionResetError("connection closed by the server")
        self.received = True
        try:
            return [self._reply() for _ in range(count)]
        except ValueError:  # a length or an integer that is none
            raise ConnectionAbortedError("not a RESP2 reply") from None

    def _reply(self) -> t.Any:
        data, pos = self.data, self.pos
        end = data.find(b"\r\n", pos)
        while end < 0:
            self._fill(0)
            data, pos = self.data, self.pos
            end = data.find(b"\r\n", pos)
        first, self.pos = data[pos], end + 2  # the type byte
        if first == 36:  # $: a bulk string, or nil
            size = int(data[pos + 1 : end])
            start = end + 2
            if size >= 0 and data.startswith(b"\r\n", start + size):  # all here already
                self.pos = start + size + 2
                return data[start : start + size]
            return None if size < 0 else self._take(size)
        if first == 42:  # *: an array (nested ones too), or nil
            size = int(data[pos + 1 : end])
            return None if size < 0 else [self._reply() for _ in range(size)]
        if first == 43:  # +: a simple string
            return data[pos + 1 : end]
        if first == 58:  # :: an integer
            return int(data[pos + 1 : end])
        if first == 45:  # -: an error
            return self.error(data[pos + 1 : end].decode(errors="replace"))
        raise ConnectionAbortedError("not a RESP2 reply")

    def _take(self, size: int) -> bytes:
        """A bulk string's ``size`` bytes and its CRLF, from ``self.pos``."""
        missing = self.pos + size + 2 - len(self.data)
        if missing > 0:
            self._fill(missing)
        start = self.pos
        if not self.data.startswith(b"\r\n", start + size):
            raise ConnectionAbortedError("not a RESP2 reply")
        self.pos = start + size + 2
        return self.data[start : start + size]

    def _fill(self, need: int) -> None:
        """Receive what comes, or ``need`` bytes more; ``self.data`` then starts at
        ``self.pos`` 0."""
        rest = self.data[self.pos :]
        if need <= 0:
            chunk = self.sock.recv(_READ_SIZE)
        else:  # the rest of a large reply, in one buffer however many reads it takes
            buffer = bytearray(need)
            view, got = memoryview(buffer), 0
            while got < need:
                size = self.sock.recv_into(view[got:])
                if not size:
                    break
                self.received, got = True, got + size
            chunk = bytes(buffer) if got == need else b""
        if not chunk:
            raise ConnectionResetError("connection closed by the server")
        self.received = True
        self.data, self.pos = rest + chunk, 0


class _Stock:
    """A redis-py connection whose own reply reading is needed: a Sentinel's turns
    a READONLY reply (a failover) into a reconnection; RESP3 has push messages."""

    __slots__ = ("connection", "error", "received")

    def __init__(self, connection: t.Any, error: type[Exception]) -> None:
        self.connection = connection
        self.error = error
        self.received = True  # redis-py tells a closed connection itself

    def roundtrip(self, packed: bytes, count: int) -> list[t.Any]:
        self.connection.send_packed_command([packed])
        answers: list[t.Any] = []
        for _ in range(count):
            try:
                answers.append(self.connection.read_response())
            except self.error as exc:
                answers.append(exc)
        return answers


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
        self._closed = redis.exceptions.ConnectionError
        # redis-py's table of error replies (a classmethod from 5.0, a method before).
        base: t.Any = redis.connection.BaseParser  # type: ignore[attr-defined]
        self._parse_error: t.Callable[[str], Exception] = (
            base.parse_error if inspect.ismethod(base.parse_error) else base().parse_error
        )
        self._stock_reader = redis.connection.AbstractConnection.read_response
        self._claim = client.register_script(_CLAIM)
        self._delete_if_equal = client.register_script(_DELETE_IF_EQUAL)
        # EVALSHA <sha> <number of keys> and then 3 bulk strings (the claim's key,
        # value, ttl) or 6 (its key, the guard's, value, ttl, the guard's value, ttl).
        sha = self._claim.sha.encode()
        self._claim_1 = b"*6\r\n$7\r\nEVALSHA\r\n" + _BULK % (len(sha), sha) + b"$1\r\n1\r\n"
        self._claim_1 += _BULK * 3
        self._claim_2 = b"*9\r\n$7\r\nEVALSHA\r\n" + _BULK % (len(sha), sha) + b"$1\r\n2\r\n"
        self._claim_2 += _BULK * 6
        # set_soon's writes, sent along with the next claim or get, or by a thread
        # of this process within _FLUSH_AFTER: packed (bytes) for a pool's
        # connection, command tuples for a pipeline.
        self._pending: list[t.Any] = []
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

        options: dict[str, t.Any] = {}
        if "protocol" in inspect.signature(redis.Redis.__init__).parameters:
            # RESP2, which the hot path parses itself (redis-py 8 defaults to RESP3,
            # and redis-py before 5 speaks only RESP2).
            options["protocol"] = 2
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=1.0,
            socket_timeout=2.0,
            health_check_interval=30,
            **options,
        )
        return cls(client, prefix)

    def _call(self, func: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> t.Any:
        try:
            return func(*args, **kwargs)
        except self._errors as exc:
            raise StoreUnavailable(f"Redis did not answer ({type(exc).__name__})") from None

    _FLUSH_AFTER = 0.005

    def get(self, key: str) -> t.Any:
        name = (self.prefix + key).encode()
        return _loads(self._with_pending(("GET", name), _GET % (len(name), name)))

    def set_soon(self, key: str, value: t.Any, ttl: float) -> None:
        """Queue the ``SET``: it travels in the same round trip as this process's
        next claim or get (a pipeline), or within 5 ms on a thread of its own, so
        remembering a callback's answer costs no round trip of its own."""
        name, raw, ms = (self.prefix + key).encode(), _dumps(value), b"%d" % _ms(ttl)
        if self._pool is not None:
            command: t.Any = _SET % (len(name), name, len(raw), raw, len(ms), ms)
        else:
            command = ("SET", name, raw, "PX", ms)
        pid = os.getpid()
        with self._pending_lock:
            if self._flusher_pid == pid:
                self._pending.append(command)
            else:  # none yet, or we are a forked child (the parent's writes are its own)
                self._flusher_pid = pid
                self._pending = [command]
                threading.Thread(
                    target=self._flush_loop, name="flask_wechat-store", daemon=True
                ).start()
        # Event.set takes a lock. A flag still set is enough: the flusher clears it
        # before it takes the writes, so it will take this one.
        if not self._wake.is_set():
            self._wake.set()

    def _take_pending(self) -> list[t.Any]:
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

    def _connection(self) -> _Wire | _Stock:
        """This thread's connection, taken from the pool once (again in a forked
        child: the parent's socket is not ours)."""
        pid = os.getpid()
        held = getattr(self._local, "held", None)
        if held is not None and held[0] == pid:
            return t.cast("_Wire | _Stock", held[1])
        pool = t.cast(t.Any, self._pool)
        try:
            connection = pool.get_connection()
        except TypeError:  # redis-py before 5.3 wants a command name
            connection = pool.get_connection("_")
        # Our parser speaks RESP2 where redis-py's reply reading is the stock one; a
        # connection class with its own (Sentinel's) or RESP3 keeps redis-py's.
        wire: _Wire | _Stock
        if (
            type(connection).read_response is self._stock_reader
            and getattr(connection, "protocol", None) in (None, 2, "2")
            and hasattr(connection, "_sock")
        ):
            wire = _Wire(connection, self._error_reply)
        else:
            wire = _Stock(connection, self._response_error)
        self._local.held = (pid, wire)
        return wire

    def _error_reply(self, message: str) -> Exception:
        """An error reply as redis-py makes it: those it raises as a ConnectionError
        (LOADING, NOAUTH…) are raised, and the commands go once more on a fresh
        connection, as they did through redis-py."""
        error = self._parse_error(message)
        if isinstance(error, self._closed):
            raise error
        return error

    def _exchange(self, packed: bytes, count: int) -> list[t.Any]:
        """The answers to ``packed`` (``count`` commands) on this thread's connection;
        a redis-py ConnectionError when Redis had closed it."""
        wire = self._connection()
        try:
            return wire.roundtrip(packed, count)
        except OSError as exc:
            wire.connection.disconnect()  # reconnects on the next command
            if wire.received or isinstance(exc, TimeoutError):
                raise  # the commands may have run
            raise self._closed("connection closed by the server") from None
        except BaseException:
            wire.connection.disconnect()
            raise

    def _send(self, packed: bytes, count: int) -> list[t.Any]:
        try:
            return self._exchange(packed, count)
        except self._closed:
            # A connection Redis closed (it restarted) fails before any byte of an
            # answer came: the commands never ran, so they are sent once more on a
            # fresh connection. Not after a timeout: they may have run.
            pass
        except self._errors as exc:
            raise StoreUnavailable(f"Redis did not answer ({type(exc).__name__})") from None
        try:
            return self._exchange(packed, count)
        except self._errors as exc:
            raise StoreUnavailable(f"Redis did not answer ({type(exc).__name__})") from None

    def _pipeline(self, commands: list[t.Any]) -> list[t.Any]:
        if self._pool is not None:
            return self._send(b"".join(commands), len(commands))
        pipe = self.redis.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        try:
            return list(pipe.execute(raise_on_error=False))
        except self._errors as exc:
            raise StoreUnavailable(f"Redis did not answer ({type(exc).__name__})") from None

    def _with_pending(self, command: tuple[t.Any, ...], packed: bytes) -> t.Any:
        """``command``'s answer (``packed``: it in RESP), sent in one round trip after
        the pending writes."""
        # Unlocked: a write queued meanwhile goes with the next command, or the flusher.
        pending = self._take_pending() if self._pending else []
        if self._pool is None:
            result = self._pipeline([*pending, command])[-1]
        else:
            result = self._send(b"".join([*pending, packed]), len(pending) + 1)[-1]
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

    def keep(self, key: str, value: t.Any) -> None:
        self._call(self.redis.set, self.prefix + key, _dumps(value))

    def scan(self, prefix: str) -> t.Iterator[str]:
        pattern = _glob_escape(self.prefix + prefix) + "*"
        start = len(self.prefix)
        keys = self._call(lambda: list(self.redis.scan_iter(match=pattern, count=1000)))
        return (k.decode()[start:] if isinstance(k, bytes) else str(k)[start:] for k in keys)

    def claim(self, key: str, value: t.Any, ttl: float, guard: Guard | None = None) -> Claim:
        raw = _dumps(value)
        name, ms = (self.prefix + key).encode(), b"%d" % (_ms(ttl) if ttl else 0)
        if guard is None:
            command: tuple[t.Any, ...] = ("EVALSHA", self._claim.sha, 1, name, raw, ms)
            packed = self._claim_1 % (len(name), name, len(raw), raw, len(ms), ms)
        else:
            guarded = (self.prefix + guard.key).encode()
            seen, kept = guard.value.encode(), b"%d" % _ms(guard.ttl)
            command = ("EVALSHA", self._claim.sha, 2, name, guarded, raw, ms, seen, kept)
            packed = self._claim_2 % (
                len(name), name, len(guarded), guarded, len(raw), raw,
                len(ms), ms, len(seen), seen, len(kept), kept,
            )  # fmt: skip
        result = self._with_pending(command, packed)
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
    client = getattr(backend, "_write_client", None)
    if client is not None and hasattr(client, "register_script"):
        return RedisStore(client)
    if type(backend).__name__ == "SimpleCache":
        return MemoryStore()
    return CacheStore(backend)
