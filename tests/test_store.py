"""flask_wechat.store: the same contract from MemoryStore and from RedisStore (a real
redis-server on loopback): get/set/add/delete, compare-and-delete, claim, expiry."""

from __future__ import annotations

import inspect
import time
import typing as t
from collections.abc import Iterator

import pytest
import redis

from flask_wechat.errors import StoreUnavailable
from flask_wechat.store import Claim, Guard, MemoryStore, RedisStore, Store

from .conftest import _free_port

TTL = 60.0
SHORT = 0.05  # seconds: long enough to be there right after, short enough to wait out


@pytest.fixture(params=["memory", "redis", "redis-resp3"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    url = request.getfixturevalue("redis_db")
    if request.param == "redis":
        redis_store = RedisStore.from_url(url, prefix="test:")
    else:
        # A client of the site's own in RESP3 (redis-py 8's default): redis-py reads
        # the replies (push messages), not the store's RESP2 parser.
        if "protocol" not in inspect.signature(redis.Redis.__init__).parameters:
            pytest.skip("redis-py before 5 speaks only RESP2")
        redis_store = RedisStore(redis.Redis.from_url(url, protocol=3), prefix="test:")
    yield redis_store
    redis_store.redis.close()


def wait_until_gone(store: Store, key: str, timeout: float = 5.0) -> None:
    """Poll until ``key`` has expired (bounded: a key that never expires fails)."""
    deadline = time.monotonic() + timeout
    while store.get(key) is not None:
        assert time.monotonic() < deadline, f"{key!r} did not expire"
        time.sleep(0.01)


# == get / set / add / delete ============================================================

VALUES = [
    pytest.param("text 中文", id="str"),
    pytest.param(42, id="int"),
    pytest.param(1.5, id="float"),
    pytest.param(True, id="bool"),
    pytest.param(["a", 1, None], id="list"),
    pytest.param({"mode": "safe", "digest": "ab12", "n": [1, {"x": None}]}, id="dict"),
]


@pytest.mark.parametrize("value", VALUES)
def test_set_then_get_gives_the_value_back(store: Store, value: t.Any) -> None:
    assert store.get("k") is None
    store.set("k", value, TTL)
    assert store.get("k") == value


def test_set_overwrites(store: Store) -> None:
    store.set("k", "first", TTL)
    store.set("k", {"second": 2}, TTL)
    assert store.get("k") == {"second": 2}


def test_add_stores_only_when_absent(store: Store) -> None:
    assert store.add("k", "first", TTL) is True
    assert store.add("k", "second", TTL) is False
    assert store.get("k") == "first"
    store.delete("k")
    assert store.get("k") is None
    assert store.add("k", "third", TTL) is True
    assert store.get("k") == "third"


def test_delete_of_a_missing_key_is_harmless(store: Store) -> None:
    store.delete("never-set")
    assert store.get("never-set") is None


def test_delete_if_equal_deletes_only_the_value_one_holds(store: Store) -> None:
    store.set("lock", "owner-1", TTL)
    assert store.delete_if_equal("lock", "owner-2") is False
    assert store.get("lock") == "owner-1"
    assert store.delete_if_equal("lock", "owner-1") is True
    assert store.get("lock") is None
    assert store.delete_if_equal("lock", "owner-1") is False


def test_keys_are_separate(store: Store) -> None:
    store.set("a", 1, TTL)
    store.set("b", 2, TTL)
    store.delete("a")
    assert (store.get("a"), store.get("b")) == (None, 2)


# == claim ===============================================================================


def test_claim_without_a_guard(store: Store) -> None:
    assert store.claim("msg:1", {"answer": "hi"}, TTL) == Claim("new")
    assert store.claim("msg:1", {"answer": "other"}, TTL) == Claim("duplicate", {"answer": "hi"})
    assert store.get("msg:1") == {"answer": "hi"}
    assert store.claim("msg:2", "x", TTL) == Claim("new")


def test_claim_with_ttl_zero_claims_nothing(store: Store) -> None:
    assert store.claim("msg:1", "v", 0) == Claim("new")
    assert store.claim("msg:1", "v", 0) == Claim("new")
    assert store.get("msg:1") is None


def test_claim_with_a_guard(store: Store) -> None:
    guard = Guard("replay:ts:nonce", "safe:digest-1", TTL)
    assert store.claim("msg:1", "first", TTL, guard) == Claim("new")
    # The very same request again: a retry.
    assert store.claim("msg:1", "second", TTL, guard) == Claim("duplicate", "first")
    # The same timestamp and nonce carrying something else: a forgery.
    forged = Guard("replay:ts:nonce", "safe:digest-2", TTL)
    assert store.claim("msg:1", "third", TTL, forged) == Claim("replayed")
    assert store.claim("msg:9", "fourth", TTL, forged) == Claim("replayed")
    assert store.get("msg:9") is None
    # The guard kept its first value: the first request's retry is still a retry.
    assert store.claim("msg:1", "fifth", TTL, guard) == Claim("duplicate", "first")


def test_a_guarded_request_is_a_duplicate_even_after_its_key_is_gone(store: Store) -> None:
    guard = Guard("replay:1", "plain:d", TTL)
    assert store.claim("msg:1", "first", TTL, guard).status == "new"
    store.delete("msg:1")
    assert store.claim("msg:1", "again", TTL, guard) == Claim("duplicate", None)
    assert store.get("msg:1") is None


def test_a_guard_with_ttl_zero_still_guards(store: Store) -> None:
    guard = Guard("replay:1", "plain:d", TTL)
    assert store.claim("msg:1", "v", 0, guard) == Claim("new")
    assert store.claim("msg:1", "v", 0, guard) == Claim("duplicate", None)
    assert store.claim("msg:1", "v", 0, Guard("replay:1", "other", TTL)) == Claim("replayed")
    assert store.get("msg:1") is None


def test_a_new_guard_on_a_claimed_key_is_a_duplicate(store: Store) -> None:
    """A retry with another nonce: the guard is new, the message is not."""
    assert store.claim("msg:1", "first", TTL, Guard("replay:a", "d", TTL)).status == "new"
    assert store.claim("msg:1", "x", TTL, Guard("replay:b", "d", TTL)) == Claim(
        "duplicate", "first"
    )
    # The new guard was stored on the way: its nonce cannot carry something else now.
    assert store.claim("msg:2", "y", TTL, Guard("replay:b", "other", TTL)) == Claim("replayed")


# == expiry ==============================================================================


def test_set_expires(store: Store) -> None:
    store.set("k", "v", SHORT)
    wait_until_gone(store, "k")
    assert store.add("k", "again", TTL) is True


def test_add_expires(store: Store) -> None:
    assert store.add("k", "v", SHORT) is True
    wait_until_gone(store, "k")
    assert store.add("k", "w", TTL) is True
    assert store.get("k") == "w"


def test_a_claim_expires_and_the_key_is_new_again(store: Store) -> None:
    assert store.claim("msg:1", "first", SHORT).status == "new"
    wait_until_gone(store, "msg:1")
    assert store.claim("msg:1", "second", TTL) == Claim("new")
    assert store.get("msg:1") == "second"


def test_a_guard_expires(store: Store) -> None:
    assert store.claim("msg:0", "v", TTL, Guard("replay:1", "d1", SHORT)).status == "new"
    # Another value under the guard is a replay while it lives, and new once it expired.
    deadline = time.monotonic() + 5.0
    for n in range(1, 10_000):
        claim = store.claim(f"msg:{n}", "v", TTL, Guard("replay:1", "d2", TTL))
        if claim.status == "new":
            break
        assert claim == Claim("replayed")
        assert time.monotonic() < deadline, "the guard did not expire"
        time.sleep(0.01)
    assert store.claim("msg:x", "v", TTL, Guard("replay:1", "d2", TTL)) == Claim("duplicate", None)


def test_delete_if_equal_of_an_expired_value_is_false(store: Store) -> None:
    store.set("lock", "me", SHORT)
    wait_until_gone(store, "lock")
    assert store.delete_if_equal("lock", "me") is False


# == what is particular to each ==========================================================


def test_memory_store_is_not_shared_and_redis_is() -> None:
    assert MemoryStore.is_shared is False
    assert RedisStore.is_shared is True


def test_redis_store_keeps_json_under_its_prefix(redis_db: str) -> None:
    store = RedisStore.from_url(redis_db, prefix="site-a:")
    other = RedisStore.from_url(redis_db, prefix="site-b:")
    store.set("k", {"n": 1, "s": "中文"}, TTL)
    raw = redis.Redis.from_url(redis_db)
    assert raw.get("site-a:k") == '{"n":1,"s":"中文"}'.encode()
    assert 0 < raw.pttl("site-a:k") <= TTL * 1000
    assert other.get("k") is None
    assert other.add("k", "b", TTL) is True
    assert store.get("k") == {"n": 1, "s": "中文"}
    raw.close()


def test_redis_store_unreachable_is_store_unavailable() -> None:
    store = RedisStore.from_url(f"redis://127.0.0.1:{_free_port()}/0")
    for call in (
        lambda: store.get("k"),
        lambda: store.set("k", 1, TTL),
        lambda: store.add("k", 1, TTL),
        lambda: store.delete("k"),
        lambda: store.delete_if_equal("k", 1),
        lambda: store.claim("k", 1, TTL, Guard("g", "v", TTL)),
    ):
        with pytest.raises(StoreUnavailable, match="Redis did not answer"):
            call()
