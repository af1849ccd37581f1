"""flask_wechat.store.RedisStore on the wire: the RESP2 replies it parses itself, and
what it does when Redis closes the connection, times out or answers nonsense.

Reply types against the session's real redis-server; split, cut off, late or
malformed replies from a tiny real TCP server that speaks just enough RESP.
"""

from __future__ import annotations

import inspect
import socket
import struct
import threading
import time
import typing as t
from collections.abc import Callable, Iterator

import pytest
import redis

from flask_wechat.errors import StoreUnavailable
from flask_wechat.store import Claim, Guard, RedisStore

pytestmark = pytest.mark.redis

TTL = 60.0


def pack(*args: str | bytes | int) -> bytes:
    """One command in RESP."""
    parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


def client(url: str, **options: t.Any) -> redis.Redis:
    """A redis-py client speaking RESP2 (redis-py 8 defaults to RESP3)."""
    if "protocol" in inspect.signature(redis.Redis.__init__).parameters:
        options["protocol"] = 2
    return redis.Redis.from_url(url, **options)


@pytest.fixture
def store(redis_db: str) -> Iterator[RedisStore]:
    redis_store = RedisStore.from_url(redis_db, prefix="test:")
    yield redis_store
    redis_store.redis.close()


def send(store: RedisStore, *commands: bytes) -> list[t.Any]:
    """The answers to ``commands``, in one round trip on the store's connection."""
    return store._send(b"".join(commands), len(commands))


# == every reply type, from a real redis-server =========================================


def test_the_direct_path_is_the_one_in_use(store: RedisStore) -> None:
    assert type(store._connection()).__name__ == "_Wire"


class ReadsItsOwn(redis.Connection):
    """A connection class with its own reply reading, as Sentinel's has."""

    def read_response(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        return super().read_response(*args, **kwargs)


@pytest.mark.parametrize("kind", ["resp3", "own-reading"])
def test_otherwise_redis_py_reads_the_replies(redis_db: str, kind: str) -> None:
    if kind == "resp3":
        if "protocol" not in inspect.signature(redis.Redis.__init__).parameters:
            pytest.skip("redis-py before 5 speaks only RESP2")
        client = redis.Redis.from_url(redis_db, protocol=3)
    else:
        pool = redis.ConnectionPool.from_url(redis_db, connection_class=ReadsItsOwn)
        client = redis.Redis(connection_pool=pool)
    store = RedisStore(client, prefix="test:")
    assert type(store._connection()).__name__ == "_Stock"
    store.set_soon("k", [1], TTL)
    assert store.claim("m", "pending", TTL) == Claim("new")
    assert store.get("k") == [1]
    # A connection Redis closed is replaced here too.
    admin = redis.Redis.from_url(redis_db)
    assert admin.client_kill_filter(_type="normal", skipme=True) >= 1
    assert store.claim("m", "x", TTL) == Claim("duplicate", "pending")
    admin.close()
    client.close()


def test_simple_strings_integers_and_bulk_strings(store: RedisStore) -> None:
    answers = send(
        store,
        pack("PING"),
        pack("SET", "test:a", "中文"),
        pack("INCRBY", "test:n", -5),
        pack("GET", "test:a"),
        pack("SET", "test:empty", ""),
        pack("GET", "test:empty"),
        pack("GET", "test:missing"),
    )
    assert answers == [b"PONG", b"OK", -5, "中文".encode(), b"OK", b"", None]


def test_nested_arrays_nil_and_empty_ones(store: RedisStore) -> None:
    script = "return {1, {2, {'a', 'b'}, {}}, 'c', false}"
    (answer,) = send(store, pack("EVAL", script, 0))
    # Lua's false is a nil bulk string; an array ends at it.
    assert answer == [1, [2, [b"a", b"b"], []], b"c", None]
    # BLPOP that times out answers a nil array.
    assert send(store, pack("BLPOP", "test:no-list", "0.01")) == [None]
    assert send(store, pack("LRANGE", "test:no-list", 0, -1)) == [[]]


def test_error_replies_are_exceptions_among_the_answers(store: RedisStore) -> None:
    no_script, unknown, ping = send(
        store, pack("EVALSHA", "0" * 40, 0), pack("NO-SUCH-COMMAND"), pack("PING")
    )
    assert isinstance(no_script, redis.exceptions.NoScriptError)
    assert type(unknown) is redis.exceptions.ResponseError
    assert "NO-SUCH-COMMAND" in str(unknown)
    assert ping == b"PONG"  # the connection goes on after an error
    # An error answering get or claim: the store refuses.
    assert send(store, pack("RPUSH", "test:list", "a")) == [1]
    with pytest.raises(StoreUnavailable, match=r"^Redis refused a command \(ResponseError\)$"):
        store.get("list")  # WRONGTYPE


def test_a_reply_larger_than_the_buffer(store: RedisStore) -> None:
    big = "x" * 300_000 + "中文"
    store.set("big", big, TTL)
    assert store.get("big") == big
    many = send(store, pack("EVAL", "local t = {} for i = 1, 20000 do t[i] = i end return t", 0))
    assert many == [list(range(1, 20_001))]


def test_after_scripts_are_flushed_the_claim_loads_it_again(store: RedisStore) -> None:
    assert store.claim("msg:1", "pending", TTL, Guard("g:1", "d", TTL)) == Claim("new")
    store.redis.script_flush()
    assert store.claim("msg:1", "x", TTL, Guard("g:1", "d", TTL)) == Claim("duplicate", "pending")
    assert store.claim("msg:2", "pending", TTL) == Claim("new")


def test_a_connection_redis_closed_is_replaced(store: RedisStore, redis_db: str) -> None:
    """As after a restart: the held connection is dead, the next command goes on a
    fresh one (and the queued write with it)."""
    assert store.get("k") is None
    admin = redis.Redis.from_url(redis_db)
    assert admin.client_kill_filter(_type="normal", skipme=True) >= 1
    store.set_soon("k", {"v": 1}, TTL)
    assert store.claim("msg:1", "pending", TTL) == Claim("new")
    assert store.get("k") == {"v": 1}
    admin.close()


# == a misbehaving peer =================================================================

CLOSE = b""  # in a FakeRedis answer: close the connection here
RESET = b"!"  # close it with a TCP reset


class FakeRedis:
    """A real TCP server that speaks just enough RESP: redis-py's handshake (AUTH,
    CLIENT SETINFO, PING…) gets +OK, every other command ``answer(command)``:
    chunks sent one by one with a pause between them (or CLOSE, RESET)."""

    HANDSHAKE = (b"AUTH", b"CLIENT", b"SELECT", b"PING", b"HELLO")

    def __init__(self, answer: Callable[[list[bytes]], list[bytes]]) -> None:
        self.answer = answer
        self.commands: list[list[bytes]] = []
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, auth: str = "") -> str:
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = conn.makefile("rb")
        with conn, reader:
            while (command := self._command(reader)) is not None:
                if command[0].upper() in self.HANDSHAKE:
                    conn.sendall(b"+PONG\r\n" if command[0].upper() == b"PING" else b"+OK\r\n")
                    continue
                self.commands.append(command)
                for chunk in self.answer(command):
                    if chunk in (CLOSE, RESET):
                        if chunk == RESET:
                            conn.setsockopt(
                                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                            )
                        return
                    conn.sendall(chunk)
                    time.sleep(0.002)

    @staticmethod
    def _command(reader: t.BinaryIO) -> list[bytes] | None:
        line = reader.readline()
        if not line:
            return None
        assert line.startswith(b"*"), line
        args = []
        for _ in range(int(line[1:])):
            size = int(reader.readline()[1:])
            args.append(reader.read(size + 2)[:-2])
        return args


@pytest.fixture
def fake() -> Iterator[Callable[..., FakeRedis]]:
    servers: list[FakeRedis] = []

    def start(answer: Callable[[list[bytes]], list[bytes]]) -> FakeRedis:
        servers.append(FakeRedis(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def fake_store(server: FakeRedis, auth: str = "", timeout: float = 2.0) -> RedisStore:
    return RedisStore(client(server.url(auth), socket_timeout=timeout), prefix="")


def byte_by_byte(reply: bytes) -> list[bytes]:
    return [reply[i : i + 1] for i in range(len(reply))]


def test_replies_split_across_many_reads(fake: Callable[..., FakeRedis]) -> None:
    replies = {
        b"GET": b'$15\r\n{"n":[1,"\xe4\xb8\xad"]}\r\n',
        b"EVALSHA": b'*2\r\n$9\r\nduplicate\r\n$9\r\n"pending"\r\n',
    }
    server = fake(lambda command: byte_by_byte(replies[command[0]]))
    store = fake_store(server)
    assert store.get("k") == {"n": [1, "中"]}
    assert store.claim("m", "pending", TTL, Guard("g", "d", TTL)) == Claim("duplicate", "pending")
    # and the +OK of a queued write, sent along with the claim
    replies[b"SET"] = b"+OK\r\n"
    store.set_soon("x", 1, TTL)
    assert store.claim("m", "pending", TTL) == Claim("duplicate", "pending")
    assert [c[0] for c in server.commands][-2:] == [b"SET", b"EVALSHA"]


def test_a_large_reply_in_pieces(fake: Callable[..., FakeRedis]) -> None:
    value = b'"' + b"y" * 200_000 + b'"'
    reply = b"$%d\r\n%s\r\n" % (len(value), value)
    server = fake(lambda command: [reply[i : i + 50_000] for i in range(0, len(reply), 50_000)])
    assert fake_store(server).get("k") == "y" * 200_000


@pytest.mark.parametrize("how", [CLOSE, RESET], ids=["closed", "reset"])
def test_a_connection_closed_before_the_reply_is_retried_once(
    fake: Callable[..., FakeRedis], how: bytes
) -> None:
    """The command never ran: it is sent once more on a fresh connection."""
    answers = iter([[how], [b'$3\r\n"v"\r\n']])
    server = fake(lambda command: next(answers))
    store = fake_store(server)
    assert store.get("k") == "v"
    assert [c[0] for c in server.commands] == [b"GET", b"GET"]
    assert server.connections == 2


def test_a_connection_closed_twice_is_unavailable(fake: Callable[..., FakeRedis]) -> None:
    server = fake(lambda command: [CLOSE])
    store = fake_store(server)
    with pytest.raises(StoreUnavailable, match=r"^Redis did not answer \(ConnectionError\)$"):
        store.get("k")
    assert len(server.commands) == 2


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param([b"$10\r\n01234", CLOSE], id="cut-off"),
        pytest.param([b"*2\r\n$3\r\nnew\r\n", RESET], id="cut-off-array"),
        pytest.param([b"?what\r\n"], id="not-resp"),
        pytest.param([b"$abc\r\n"], id="bad-length"),
        pytest.param([b"$3\r\nabcde\r\n"], id="bad-bulk"),
    ],
)
def test_a_broken_reply_is_unavailable_and_not_retried(
    fake: Callable[..., FakeRedis], reply: list[bytes]
) -> None:
    """Redis had begun to answer: the command may have run, it is not sent again."""
    server = fake(lambda command: reply)
    store = fake_store(server)
    with pytest.raises(StoreUnavailable, match=r"^Redis did not answer \(Connection\w+Error\)$"):
        store.get("k")
    assert len(server.commands) == 1
    # The connection was dropped: the next command goes on a fresh one.
    server.answer = lambda command: [b"$-1\r\n"]
    assert store.get("k") is None
    assert server.connections == 2


def test_a_timeout_is_unavailable_and_not_retried(fake: Callable[..., FakeRedis]) -> None:
    server = fake(lambda command: [])  # never answers
    store = fake_store(server, timeout=0.2)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match=r"^Redis did not answer \(TimeoutError\)$"):
        store.claim("m", "pending", TTL, Guard("g", "d", TTL))
    assert 0.2 <= time.monotonic() - started < 1.5
    assert [c[0] for c in server.commands] == [b"EVALSHA"]
    server.answer = lambda command: [b"$-1\r\n"]
    assert store.get("k") is None
    assert server.connections == 2


def test_redis_errors_that_mean_reconnect_are_retried(fake: Callable[..., FakeRedis]) -> None:
    """As redis-py raises them: LOADING (a restart loading its data) and the like."""
    answers = iter([[b"-LOADING Redis is loading the dataset in memory\r\n"], [b"$-1\r\n"]])
    server = fake(lambda command: next(answers))
    assert fake_store(server).get("k") is None
    assert server.connections == 2


def test_no_url_or_password_in_any_failure(fake: Callable[..., FakeRedis]) -> None:
    secret = "s3cret-passw0rd"
    for reply in ([CLOSE], [b"$10\r\n01", CLOSE], [b"?\r\n"], [], [b"-ERR no\r\n"]):
        server = fake(lambda command, reply=reply: reply)
        store = fake_store(server, auth=f"admin:{secret}@", timeout=0.2)
        for call in (store.get, lambda key, store=store: store.claim(key, 1, TTL)):
            with pytest.raises(StoreUnavailable) as caught:
                call("k")
            text = f"{caught.value} {caught.value!r}"
            assert secret not in text
            assert "127.0.0.1" not in text
            assert str(server.port) not in text
            # nor in what a traceback shows of its context
            assert caught.value.__cause__ is None
            assert caught.value.__context__ is None or caught.value.__suppress_context__
