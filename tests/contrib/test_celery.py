"""Late work on a real Celery: real ``celery worker`` subprocesses, Redis broker."""

from __future__ import annotations

import base64
import json
import re
import time
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest

from flask_wechat.sandbox import SANDBOX_OPENID, RelayPlatform, Sandbox
from flask_wechat.testing import WeChatTestClient

from .celery_worker import CELERY_FAILURES_KEY
from .conftest import BIN, UPLOAD, Site, assert_no_secret, make_site, uploads, wait_for
from .queue_app import FAILED_KEY

SEND = "/cgi-bin/message/custom/send"

pytestmark = pytest.mark.redis


def celery_command(queue: str) -> list[str]:
    return [
        str(BIN / "celery"),
        "-A",
        "tests.contrib.celery_worker",
        "worker",
        "--loglevel",
        "INFO",
        "--concurrency",
        "1",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


@pytest.fixture
def site(
    redis_db: str,
    sandbox: Sandbox,
    relay_platform: RelayPlatform,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Site]:
    with make_site(
        "celery", celery_command, redis_db, sandbox, relay_platform, tmp_path, monkeypatch
    ) as site:
        yield site


def queued_messages(site: Site) -> list[tuple[bytes, list[t.Any]]]:
    """The raw messages waiting in the queue's Redis list, and their decoded bodies."""
    found = []
    for raw in site.redis.lrange(site.queue, 0, -1):
        envelope = json.loads(raw)
        assert envelope["content-type"] == "application/json"
        body = json.loads(base64.b64decode(envelope["body"]))
        found.append((t.cast(bytes, raw), t.cast(list[t.Any], body)))
    return found


def test_late_reply_and_relay_forward_delivered_once(site: Site) -> None:
    client = WeChatTestClient(site.app)
    assert client.text("late hello", FromUserName=SANDBOX_OPENID).status_code == 200
    assert client.text("to an agent", FromUserName=SANDBOX_OPENID).status_code == 200

    messages = queued_messages(site)
    assert len(messages) == 2
    names = set()
    for raw, (args, kwargs, _embed) in messages:
        data, app_import = args
        assert app_import == "tests.contrib.queue_app:create_app"
        assert kwargs == {}
        names.add(data["name"])
        assert_no_secret(raw)
        assert_no_secret(base64.b64decode(json.loads(raw)["body"]))
    assert names == {"send_reply", "relay_to_platform"}

    worker = site.worker()
    wait_for("the late reply", lambda: site.sandbox.sent, log=worker.log)
    wait_for("the relay forward", lambda: site.relay.accepted, log=worker.log)
    assert [m["text"]["content"] for m in site.sandbox.sent] == ["late answer to late hello"]

    # The very same message delivered again: recognised as done, nothing sent.
    site.redis.rpush(site.queue, messages[0][0])
    wait_for("the redelivery to run", lambda: "skips" in worker.log_text(), log=worker.log)
    assert len(site.sandbox.sent) == 1
    assert len(site.relay.accepted) == 1
    assert site.sandbox.token_requests == 1


def test_worker_killed_mid_task_loses_nothing(site: Site) -> None:
    site.sandbox.delay(UPLOAD, 30)  # the worker dies uploading, before it sends
    WeChatTestClient(site.app).text("picture please", FromUserName=SANDBOX_OPENID)
    worker = site.worker()
    wait_for("the send to be under way", lambda: uploads(site), log=worker.log)
    worker.kill()
    site.sandbox.delay(UPLOAD, 0)
    worker = site.worker()
    # The unacknowledged message comes back after the visibility timeout.
    wait_for("the redelivered reply", lambda: site.sandbox.sent, log=worker.log)
    (sent,) = site.sandbox.sent
    assert sent["msgtype"] == "image"
    assert uploads(site) == 2  # the killed attempt's, and the one that went on to send


def test_wechat_down_retried_then_reported_once(
    redis_db: str,
    sandbox: Sandbox,
    relay_platform: RelayPlatform,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with make_site(
        "celery",
        celery_command,
        redis_db,
        sandbox,
        relay_platform,
        tmp_path,
        monkeypatch,
        api_url="http://127.0.0.1:9",  # the discard port: connection refused
    ) as site:
        WeChatTestClient(site.app).text("late nobody home", FromUserName=SANDBOX_OPENID)
        ((_raw, (args, _kwargs, _embed)),) = queued_messages(site)
        worker = site.worker()
        failed = wait_for(
            "the failure report", lambda: site.redis.lrange(FAILED_KEY, 0, -1), log=worker.log
        )
        assert failed == [args[0]["id"].encode()]
        # Celery marks it FAILURE (what its monitoring lists), once, no retry after.
        (failure,) = wait_for(
            "Celery's FAILURE",
            lambda: site.redis.lrange(CELERY_FAILURES_KEY, 0, -1),
            log=worker.log,
        )
        assert failure.decode().endswith(" DeliveryFailed")
        log = worker.log_text()
        assert log.count("will retry") == 2  # max_retries=2, then reported
        assert "DeliveryFailed" in log


def test_rate_limited_send_waits_for_the_next_minute(site: Site) -> None:
    """45011: Celery retries the task when WeChat counts again, not after its backoff."""
    if time.time() % 60 > 40:  # keep the coming minute well apart from the backoff
        time.sleep(61 - time.time() % 60)
    site.sandbox.fail(SEND, 45011)
    WeChatTestClient(site.app).text("late and limited", FromUserName=SANDBOX_OPENID)
    worker = site.worker()

    def retry_in() -> float | None:
        found = re.search(r"Retry in ([\d.]+)s", worker.log_text())
        return float(found[1]) if found else None

    countdown = wait_for("the retry", retry_in, log=worker.log)
    failed_at = time.time()
    assert abs(countdown - (60 - failed_at % 60)) <= 2
    time.sleep(3)  # past the usual backoff: nothing was sent again
    assert site.sandbox.count(SEND) == 1
    assert site.sandbox.sent == []


def test_refused_for_good_ends_failure_at_once_without_retry(site: Site) -> None:
    """WeChat refusing a send (40003: the user never wrote) cannot be helped by a
    retry: reported once, FAILURE in Celery, its retries unused."""
    WeChatTestClient(site.app).text("late to a stranger", FromUserName="o-never-wrote")
    worker = site.worker()
    (failure,) = wait_for(
        "Celery's FAILURE", lambda: site.redis.lrange(CELERY_FAILURES_KEY, 0, -1), log=worker.log
    )
    assert failure.decode().endswith(" DeliveryFailed")
    assert len(site.redis.lrange(FAILED_KEY, 0, -1)) == 1
    time.sleep(1.5)  # past the first retry's countdown: nothing comes back
    assert len(site.redis.lrange(CELERY_FAILURES_KEY, 0, -1)) == 1
    assert "will retry" not in worker.log_text()
    sends = [call for call in site.sandbox.calls if "/message/custom/send" in call.path]
    assert len(sends) == 1
