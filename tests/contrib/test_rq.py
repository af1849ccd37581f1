"""Late work on a real RQ: real ``rq worker`` subprocesses on a real redis-server."""

from __future__ import annotations

import json
import time
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.scheduler import RQScheduler

from flask_wechat.contrib.rq import JOB_FUNCTION
from flask_wechat.sandbox import SANDBOX_OPENID, RelayPlatform, Sandbox
from flask_wechat.testing import WeChatTestClient

from .conftest import BIN, UPLOAD, Site, assert_no_secret, make_site, uploads, wait_for
from .queue_app import FAILED_KEY

SEND = "/cgi-bin/message/custom/send"

pytestmark = pytest.mark.redis


def rq_command(redis_url: str) -> t.Callable[[str], list[str]]:
    def command(queue: str) -> list[str]:
        return [str(BIN / "rq"), "worker", "--with-scheduler", "--url", redis_url, queue]

    return command


@pytest.fixture
def site(
    redis_db: str,
    sandbox: Sandbox,
    relay_platform: RelayPlatform,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Site]:
    with make_site(
        "rq", rq_command(redis_db), redis_db, sandbox, relay_platform, tmp_path, monkeypatch
    ) as site:
        yield site


def queued_jobs(site: Site) -> list[Job]:
    queue = Queue(site.queue, connection=site.redis)
    return [job for job in queue.jobs if job is not None]


def test_late_reply_and_relay_forward_delivered_once(site: Site) -> None:
    client = WeChatTestClient(site.app)
    assert client.text("late hello", FromUserName=SANDBOX_OPENID).status_code == 200
    assert client.text("to an agent", FromUserName=SANDBOX_OPENID).status_code == 200

    jobs = queued_jobs(site)
    assert len(jobs) == 2
    names = set()
    for job in jobs:
        task_json, app_import = job.args
        data = json.loads(task_json)  # the task is JSON text; the app named, not pickled
        assert app_import == "tests.contrib.queue_app:create_app"
        names.add(data["name"])
        for key in site.redis.scan_iter(f"*{job.id}*"):
            if site.redis.type(key) == b"hash":
                for value in site.redis.hgetall(key).values():
                    assert_no_secret(t.cast(bytes, value))
        assert_no_secret(task_json.encode())
    assert names == {"send_reply", "relay_to_platform"}

    worker = site.worker()
    wait_for("the late reply", lambda: site.sandbox.sent, log=worker.log)
    wait_for("the relay forward", lambda: site.relay.accepted, log=worker.log)
    wait_for("both jobs finished", lambda: all(j.get_status() == "finished" for j in jobs))
    assert [m["text"]["content"] for m in site.sandbox.sent] == ["late answer to late hello"]
    assert len(site.relay.accepted) == 1
    assert site.sandbox.token_requests == 1

    # The same task delivered again (a redelivery) is recognised as done.
    again = Queue(site.queue, connection=site.redis).enqueue(JOB_FUNCTION, *jobs[0].args)
    wait_for("the re-run", lambda: again.get_status() == "finished")
    assert again.return_value() == "skipped"
    assert len(site.sandbox.sent) == 1
    assert len(site.relay.accepted) == 1


def test_worker_killed_mid_task_loses_nothing(site: Site) -> None:
    site.sandbox.delay(UPLOAD, 30)  # the worker dies uploading, before it sends
    client = WeChatTestClient(site.app)
    client.text("picture please", FromUserName=SANDBOX_OPENID)
    (job,) = queued_jobs(site)
    worker = site.worker()
    started = StartedJobRegistry(site.queue, connection=site.redis)
    wait_for("the job to start", lambda: job.id in started.get_job_ids(), log=worker.log)
    wait_for("the send to be under way", lambda: uploads(site), log=worker.log)
    worker.kill()
    site.sandbox.delay(UPLOAD, 0)
    # RQ declares the job abandoned once the dead worker's heartbeat expires
    # (monitoring interval + 60 s) and retries it at its next maintenance pass;
    # the dead worker's scheduler lock expires after its interval + 60 s. Run
    # that pass now with the cutoff it would have then, and let the lock go.
    site.redis.delete(RQScheduler.get_locking_key(site.queue))
    started.cleanup(timestamp=time.time() + 3600)
    worker = site.worker()
    wait_for("the retried reply", lambda: site.sandbox.sent, log=worker.log)
    wait_for("the job to finish", lambda: job.get_status() == "finished")
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
    closed = "http://127.0.0.1:9"  # discard port: connection refused
    with make_site(
        "rq",
        rq_command(redis_db),
        redis_db,
        sandbox,
        relay_platform,
        tmp_path,
        monkeypatch,
        api_url=closed,
    ) as site:
        WeChatTestClient(site.app).text("late nobody home", FromUserName=SANDBOX_OPENID)
        (job,) = queued_jobs(site)
        worker = site.worker()
        wait_for("the failure report", lambda: site.redis.lrange(FAILED_KEY, 0, -1), log=worker.log)
        wait_for("the job to end", lambda: job.get_status() == "failed", log=worker.log)
        assert site.redis.lrange(FAILED_KEY, 0, -1) == [json.loads(job.args[0])["id"].encode()]
        job.refresh()  # type: ignore[no-untyped-call]
        assert job.retries_left == 0  # RQ retried it twice before
        # It sits where operators look: RQ's own failed registry, with the reason.
        failed = FailedJobRegistry(site.queue, connection=site.redis)
        assert failed.get_job_ids() == [job.id]
        assert "DeliveryFailed" in (job.latest_result().exc_string or "")  # type: ignore[union-attr]
        log = worker.log_text()
        assert "retry" in log


def test_rate_limited_send_waits_for_the_next_minute(site: Site) -> None:
    """45011: RQ retries the job when WeChat counts again, not at its usual interval."""
    if time.time() % 60 > 40:  # keep the coming minute well apart from the 1 s interval
        time.sleep(61 - time.time() % 60)
    site.sandbox.fail(SEND, 45011)
    WeChatTestClient(site.app).text("late and limited", FromUserName=SANDBOX_OPENID)
    (job,) = queued_jobs(site)
    worker = site.worker()
    scheduled = ScheduledJobRegistry(site.queue, connection=site.redis)  # type: ignore[no-untyped-call]
    wait_for("the retry to be scheduled", lambda: job.id in scheduled.get_job_ids(), log=worker.log)
    failed_at = time.time()
    next_minute = failed_at - failed_at % 60 + 60
    when = scheduled.get_scheduled_time(job).timestamp()
    assert next_minute - 1 <= when <= next_minute + 2
    time.sleep(2.5)  # past the queue's usual 1 s interval: nothing was sent again
    assert site.sandbox.count(SEND) == 1


def test_refused_for_good_ends_failed_at_once_without_retry(site: Site) -> None:
    """WeChat refusing a send (40003: the user never wrote) cannot be helped by a
    retry: the job is reported once and ends in RQ's failed registry, its retries
    unused."""
    WeChatTestClient(site.app).text("late to a stranger", FromUserName="o-never-wrote")
    (job,) = queued_jobs(site)
    worker = site.worker()
    wait_for("the job to fail", lambda: job.get_status() == "failed", log=worker.log)
    failed = FailedJobRegistry(site.queue, connection=site.redis)
    assert failed.get_job_ids() == [job.id]
    assert site.redis.lrange(FAILED_KEY, 0, -1) == [json.loads(job.args[0])["id"].encode()]
    time.sleep(1.5)  # longer than the retry interval: nothing comes back
    assert job.get_status() == "failed"
    sends = [call for call in site.sandbox.calls if "/message/custom/send" in call.path]
    assert len(sends) == 1
    assert site.sandbox.sent == []
