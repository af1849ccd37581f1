"""The shared access_token (中控): one fetch across processes, refresh rules, locks.

The race tests run real worker processes (see ``token_worker.py``) sharing a real
redis-server and the sandbox, which answers over real HTTP.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue as queue_module
import typing as t
from collections.abc import Iterator

import pytest
import redis

from flask_wechat import signals
from flask_wechat.api.tokens import CredentialStore
from flask_wechat.errors import AccessTokenExpired, APIError, QuotaExceeded
from flask_wechat.sandbox import SANDBOX_APP_ID, SANDBOX_APP_SECRET, SANDBOX_OPENID

from . import token_worker
from .token_worker import BARRIER_TIMEOUT, Report, build_app

if t.TYPE_CHECKING:
    from multiprocessing.context import SpawnProcess
    from multiprocessing.queues import Queue

    from flask import Flask
    from flask_caching import Cache

    from flask_wechat.api import Client
    from flask_wechat.sandbox import Sandbox

WORKERS = 8
CALLBACK_IP = "/cgi-bin/getcallbackip"


@contextlib.contextmanager
def app_client(redis_url: str, sandbox: Sandbox, **config: t.Any) -> Iterator[tuple[Flask, Client]]:
    """An app sharing the Redis at ``redis_url``, its context pushed, and its client."""
    app, wechat = build_app(redis_url, sandbox.url, **config)
    with app.app_context():
        yield app, wechat.client()


def redis_key(key: str) -> str:
    """The Redis key the shared store keeps ``key`` under."""
    return "wechat:" + key


def collect(results: Queue[Report], count: int) -> list[Report]:
    reports = []
    for _ in range(count):
        try:
            reports.append(results.get(timeout=BARRIER_TIMEOUT))
        except queue_module.Empty:
            pytest.fail(f"only {len(reports)} of {count} worker reports arrived: {reports!r}")
    return reports


def stop_all(processes: list[SpawnProcess]) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join(10)


# -- several processes ------------------------------------------------------------------


@pytest.mark.redis
def test_cold_cache_race_fetches_one_token(redis_db: str, sandbox: Sandbox) -> None:
    """Eight processes asking at once on a cold cache: one token request, one token."""
    sandbox.delay("/cgi-bin/token", 0.5)  # the fetch is slow: everyone else piles up
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(WORKERS)
    results: Queue[Report] = ctx.Queue()
    processes = [
        ctx.Process(
            target=token_worker.fetch_token,
            args=(i, redis_db, sandbox.url, start, results),
            daemon=True,
        )
        for i in range(WORKERS)
    ]
    try:
        for process in processes:
            process.start()
        reports = collect(results, WORKERS)
        for process in processes:
            process.join(BARRIER_TIMEOUT)
            assert process.exitcode == 0
    finally:
        stop_all(processes)
        results.close()
    assert sorted(r[0] for r in reports) == list(range(WORKERS))
    assert all(r[2] == "ok" for r in reports), reports
    tokens = {r[3] for r in reports}
    assert len(tokens) == 1
    assert sandbox.token_requests == 1
    sandbox.delay("/cgi-bin/token", 0)
    # The one token is the one WeChat issued and it works.
    assert sandbox.authenticate(tokens.pop()).app_id == SANDBOX_APP_ID


@pytest.mark.redis
def test_token_expired_mid_run_is_refreshed_once(redis_db: str, sandbox: Sandbox) -> None:
    """All processes see 42001 at once: exactly one of them fetches the new token."""
    sandbox.delay("/cgi-bin/token", 0.5)
    ctx = multiprocessing.get_context("spawn")
    step = ctx.Barrier(WORKERS + 1)  # the workers and this test
    results: Queue[Report] = ctx.Queue()
    processes = [
        ctx.Process(
            target=token_worker.call_twice,
            args=(i, redis_db, sandbox.url, step, results),
            daemon=True,
        )
        for i in range(WORKERS)
    ]
    try:
        for process in processes:
            process.start()
        step.wait(BARRIER_TIMEOUT)  # go: first round
        step.wait(BARRIER_TIMEOUT)  # first round done
        before = collect(results, WORKERS)
        assert sandbox.token_requests == 1
        assert sandbox.count(CALLBACK_IP) == WORKERS
        sandbox.expire_tokens()
        step.wait(BARRIER_TIMEOUT)  # go: second round
        after = collect(results, WORKERS)
        for process in processes:
            process.join(BARRIER_TIMEOUT)
            assert process.exitcode == 0
    finally:
        step.abort()  # frees any worker still waiting if this test failed early
        stop_all(processes)
        results.close()
    assert all(r[1] == "before" and r[2] == "ok" for r in before), before
    assert all(r[1] == "after" and r[2] == "ok" for r in after), after
    old_tokens = {r[3] for r in before}
    new_tokens = {r[3] for r in after}
    assert len(old_tokens) == 1
    assert len(new_tokens) == 1
    assert old_tokens != new_tokens
    assert sandbox.token_requests == 2
    # Every worker's first try of round two failed with the old token, and
    # every one of them was retried (with the new token) and succeeded.
    assert sandbox.count(CALLBACK_IP) == 3 * WORKERS


# -- one process --------------------------------------------------------------------------


@pytest.mark.redis
def test_token_refused_forever_gives_up(redis_db: str, sandbox: Sandbox) -> None:
    """An API that keeps answering 40001: one refresh, one retry, then the error."""
    sandbox.fail(CALLBACK_IP, 40001, times=None)
    with app_client(redis_db, sandbox) as (_, client), pytest.raises(AccessTokenExpired) as caught:
        client.get(CALLBACK_IP)
    assert isinstance(caught.value, APIError)
    assert caught.value.errcode == 40001
    assert sandbox.token_requests == 2
    assert sandbox.count(CALLBACK_IP) == 2


@pytest.mark.redis
def test_warm_cache_fetches_nothing(redis_db: str, sandbox: Sandbox) -> None:
    with app_client(redis_db, sandbox) as (_, client):
        first = client.access_token
    assert sandbox.token_requests == 1
    # Another app (another process, as far as the cache can tell) finds it.
    with app_client(redis_db, sandbox) as (_, other):
        assert other.access_token == first
        assert other.callback_ip() == ["127.0.0.1", "::1"]
        assert other.access_token == first
    assert sandbox.token_requests == 1


@pytest.mark.redis
def test_refreshed_signal_and_forced_refresh(redis_db: str, sandbox: Sandbox) -> None:
    seen: list[tuple[object, dict[str, t.Any]]] = []

    def receiver(sender: object, **payload: t.Any) -> None:
        seen.append((sender, payload))

    with app_client(redis_db, sandbox) as (app, client):
        with signals.access_token_refreshed.connected_to(receiver, app):
            first = client.access_token
            assert client.access_token == first  # cached: no refresh, no signal
            assert len(seen) == 1
            second = client.refresh_access_token()
            assert second != first
            assert client.access_token == second
        assert seen == [(app, {"account": "default"}), (app, {"account": "default"})]
        assert sandbox.token_requests == 2
        # The forced refresh retired the old token; the new one works.
        assert client.callback_ip()
    assert sandbox.authenticate(second).value == second


@pytest.mark.redis
def test_token_quota_exceeded(redis_db: str, sandbox: Sandbox) -> None:
    sandbox.fail("/cgi-bin/token", 45009)
    with app_client(redis_db, sandbox) as (_, client), pytest.raises(QuotaExceeded) as caught:
        client.access_token  # noqa: B018 - the property fetches
    assert caught.value.errcode == 45009
    assert sandbox.token_requests == 1
    # Nothing was cached and the lock was released: the next call fetches at once.
    raw = redis.Redis.from_url(redis_db)
    try:
        assert raw.exists(redis_key(client.tokens.lock_key)) == 0
        assert raw.exists(redis_key(client.tokens.key)) == 0
    finally:
        raw.close()
    assert client.access_token
    assert sandbox.token_requests == 2


@pytest.mark.redis
def test_stable_token(redis_db: str, sandbox: Sandbox) -> None:
    with app_client(redis_db, sandbox, WECHAT_STABLE_TOKEN=True) as (_, client):
        first = client.access_token
        assert client.callback_ip()
        forced = client.refresh_access_token()
    assert forced != first
    assert sandbox.count("/cgi-bin/stable_token") == 2
    assert sandbox.count("/cgi-bin/token") == 0
    bodies = [c.json for c in sandbox.calls if c.path == "/cgi-bin/stable_token"]
    assert all(isinstance(b, dict) for b in bodies)
    assert [t.cast("dict[str, t.Any]", b)["force_refresh"] for b in bodies] == [False, True]
    # The secret went in the body, not in the URL.
    assert all("secret" not in c.params for c in sandbox.calls)


@pytest.mark.redis
def test_refresh_after_failure_keeps_a_newer_token(redis_db: str, sandbox: Sandbox) -> None:
    """A call that failed with the OLD token, after another process already
    refreshed it, takes the new one instead of fetching yet another."""
    with app_client(redis_db, sandbox) as (_, client):
        old = client.access_token
        with app_client(redis_db, sandbox) as (_, other):
            new = other.tokens.refresh(force=True)
        assert new != old
        assert sandbox.token_requests == 2
        assert client.tokens.refresh(failed=old) == new
        assert sandbox.token_requests == 2
        assert client.tokens.invalidate(old) is False  # not the cached one any more
        assert client.access_token == new
    assert sandbox.token_requests == 2


@pytest.mark.redis
def test_refresh_after_failure_replaces_the_same_token(redis_db: str, sandbox: Sandbox) -> None:
    with app_client(redis_db, sandbox) as (_, client):
        old = client.access_token
        new = client.tokens.refresh(failed=old)
        assert new != old
        assert client.access_token == new
    assert sandbox.token_requests == 2


@pytest.mark.redis
def test_lock_is_released_and_carries_an_expiry(redis_db: str, sandbox: Sandbox) -> None:
    raw = redis.Redis.from_url(redis_db)
    try:
        with app_client(redis_db, sandbox) as (_, client):
            lock = redis_key(client.tokens.lock_key)
            client.refresh_access_token()
            assert raw.exists(redis_key(client.tokens.key)) == 1
            assert raw.exists(lock) == 0
            # A lock taken through the store's cache always has a TTL, so one
            # whose owner died cannot block refreshes forever.
            assert client.tokens.cache.add(client.tokens.lock_key, "someone", 30)
            assert 0 < raw.ttl(lock) <= 30
            assert not client.tokens.cache.delete_if_equal(client.tokens.lock_key, "not-me")
            assert raw.exists(lock) == 1
            assert client.tokens.cache.delete_if_equal(client.tokens.lock_key, "someone")
            assert raw.exists(lock) == 0
    finally:
        raw.close()


@pytest.mark.redis
def test_stale_lock_of_a_dead_owner_expires(redis_db: str, sandbox: Sandbox) -> None:
    fetched: list[bool] = []

    def fetch(force: bool) -> tuple[str, float]:
        fetched.append(force)
        return f"value-{len(fetched)}", 7200.0

    app, _ = build_app(redis_db, sandbox.url)
    store = CredentialStore(
        app.extensions["wechat"].store,
        "test:credential",
        fetch,
        lock_timeout=1,
        wait=30,
    )
    raw = redis.Redis.from_url(redis_db)
    try:
        # A process took the lock and died before releasing it.
        assert store.cache.add(store.lock_key, "dead-owner", store.lock_timeout)
        assert 0 < raw.ttl(redis_key(store.lock_key)) <= 1
        assert store.get() == "value-1"  # waited for the lock to expire, then fetched
        assert fetched == [False]
        assert raw.exists(redis_key(store.lock_key)) == 0
        assert store.get() == "value-1"
        assert fetched == [False]
    finally:
        raw.close()


def _cache_of(app: Flask) -> Cache:
    """The flask-caching ``Cache`` flask_wechat built for ``app``."""
    caches = list(app.extensions["cache"])
    assert len(caches) == 1
    return t.cast("Cache", caches[0])


# -- logs ------------------------------------------------------------------------------------


@pytest.mark.redis
def test_logs_carry_no_secrets(
    redis_db: str, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "urllib3.connectionpool", "flask_wechat"):
        caplog.set_level(logging.DEBUG, logger=name)
    with app_client(redis_db, sandbox) as (_, client):
        token = client.access_token
        assert client.callback_ip()
        client.post(
            "/cgi-bin/message/custom/send",
            {"touser": SANDBOX_OPENID, "msgtype": "text", "text": {"content": "hi"}},
        )
    text = caplog.text + "".join(r.getMessage() for r in caplog.records)
    # The requests were logged (so the check below means something)...
    assert "/cgi-bin/token" in text
    assert CALLBACK_IP in text
    # ...but neither credential was.
    assert SANDBOX_APP_SECRET not in text
    assert token not in text
