"""The platform on a real Redis: restarts, and several processes at once."""

from __future__ import annotations

import json
import multiprocessing
import queue as queues

import pytest

from flask_wechat import TextReply
from flask_wechat.delivery import SEND_REPLY
from flask_wechat.sandbox import Sandbox
from flask_wechat.tasks import Task, perform

from . import component_worker
from .conftest import COMPONENT_APP_ID, Site, connect, make_site

WORKERS = 4
AUTHORIZERS = ["wx00000000000000a1", "wx00000000000000a2", "wx00000000000000a3"]


def _site(sandbox: Sandbox, redis_url: str) -> Site:
    return make_site(sandbox, WECHAT_REDIS_URL=redis_url)


@pytest.mark.redis
def test_ticket_and_refresh_tokens_survive_a_restart(redis_db: str, sandbox: Sandbox) -> None:
    before = _site(sandbox, redis_db)
    connect(before, AUTHORIZERS[0])
    with before.app.app_context():
        assert before.wechat.component is not None
        token = before.wechat.component.access_token
    # a new process: nothing in memory, the same Redis
    after = _site(sandbox, redis_db)
    with after.app.app_context():
        component = after.wechat.component
        assert component is not None
        assert component.access_token == token  # shared, not fetched again
        assert list(component.authorizers()) == [AUTHORIZERS[0]]
        assert after.wechat.client(AUTHORIZERS[0]).access_token
    assert after.component.component_token_requests == 1
    # the ticket itself survived: a fresh component_access_token needs no new push
    after.component.expire_tokens()
    with after.app.app_context():
        assert after.wechat.component is not None
        assert after.wechat.component.pre_auth_code()
    assert after.component.component_token_requests == 2


@pytest.mark.redis
def test_processes_refresh_each_authorizer_token_once(redis_db: str, sandbox: Sandbox) -> None:
    site = _site(sandbox, redis_db)
    for app_id in AUTHORIZERS:
        connect(site, app_id)
    config = site.app.config["WECHAT_COMPONENT"]
    # WeChat retired the cached component_access_token: every worker meets 42001
    site.component.expire_tokens()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(WORKERS)
    results: multiprocessing.Queue[component_worker.Report] = ctx.Queue()
    workers = [
        ctx.Process(
            target=component_worker.read_tokens,
            args=(i, redis_db, dict(config), sandbox.url, AUTHORIZERS, start, results),
        )
        for i in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    reports = []
    try:
        for _ in range(WORKERS * len(AUTHORIZERS)):
            reports.append(results.get(timeout=90))
    except queues.Empty:
        pytest.fail(f"workers did not report: {reports}")
    finally:
        for worker in workers:
            worker.join(30)
    assert [r for r in reports if r[2] != "ok"] == []
    for app_id in AUTHORIZERS:
        tokens = {r[3] for r in reports if r[1] == app_id}
        assert len(tokens) == 1, app_id  # everyone got the same token
    assert site.component.authorizer_token_requests == dict.fromkeys(AUTHORIZERS, 1)
    assert site.component.component_token_requests == 2  # the first, and one refresh
    assert site.component.app_id == COMPONENT_APP_ID


@pytest.mark.redis
def test_a_worker_app_performs_tasks_for_authorizers(redis_db: str, sandbox: Sandbox) -> None:
    web = _site(sandbox, redis_db)
    connect(web, AUTHORIZERS[0])
    sandbox.user_wrote("oWorkerUser", app_id=AUTHORIZERS[0])
    task = Task(
        SEND_REPLY,
        AUTHORIZERS[0],
        {"to_user": "oWorkerUser", "reply": TextReply(content="late").to_data(), "message": {}},
    )
    data = json.loads(json.dumps(task.to_data()))  # what a queue carries: JSON
    worker = component_worker.build_site(
        redis_db, dict(web.app.config["WECHAT_COMPONENT"]), sandbox.url
    )
    perform(worker, Task.from_data(data))
    assert sandbox.sent[-1]["app_id"] == AUTHORIZERS[0]
    assert sandbox.sent[-1]["text"] == {"content": "late"}
