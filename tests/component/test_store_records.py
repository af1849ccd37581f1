"""The store's durable records: ``keep`` (no expiry) and ``scan`` (keys by prefix)."""

from __future__ import annotations

import time

import pytest
import redis
from cachelib import SimpleCache

from flask_wechat.store import CacheStore, MemoryStore, RedisStore


def test_memory_keeps_without_expiry_and_scans() -> None:
    store = MemoryStore()
    store.keep("a:1", {"x": 1})
    store.keep("a:2", {"x": 2})
    store.set("a:3", 3, 0.01)
    store.set("b:1", 1, 60)
    time.sleep(0.02)
    assert sorted(store.scan("a:")) == ["a:1", "a:2"]  # a:3 expired
    store._next_sweep = 0
    store.set("c", 1, 60)
    assert store.get("a:1") == {"x": 1}


@pytest.mark.redis
def test_redis_keeps_without_expiry_and_scans_literally(redis_db: str) -> None:
    store = RedisStore.from_url(redis_db)
    store.keep("comp:[x]*:1", {"x": 1})
    store.keep("comp:[x]*:2", {"x": 2})
    store.keep("comp:y:1", {"y": 1})
    assert sorted(store.scan("comp:[x]*:")) == ["comp:[x]*:1", "comp:[x]*:2"]
    client = redis.Redis.from_url(redis_db)
    assert client.ttl("wechat:comp:y:1") == -1  # no expiry
    assert store.get("comp:y:1") == {"y": 1}


def test_a_cache_store_keeps_but_cannot_scan() -> None:
    store = CacheStore(SimpleCache())
    store.keep("k", [1])
    assert store.get("k") == [1]
    with pytest.raises(NotImplementedError, match="cannot list"):
        list(store.scan("k"))
