"""Authorizers cost nothing until used, and a bounded amount once built."""

from __future__ import annotations

import gc
import tracemalloc
import typing as t

from flask import Flask

from bench.component import app_ids, component_site
from flask_wechat.testing import WeChatTestClient

if t.TYPE_CHECKING:
    from flask_wechat.component import Component

#: What one idle authorizer's account and callback may hold (measured: ~2.7 KiB).
IDLE_BYTES = 6 * 1024


def _component(app: Flask) -> Component:
    return t.cast("Component", app.extensions["wechat"].component)


def test_nothing_is_built_per_authorizer_at_init_app() -> None:
    ids = app_ids(2000)
    app = component_site(ids)
    state = app.extensions["wechat"]
    assert len(_component(app).cache) == 0
    assert state.clients == {}
    assert state.callbacks == {}
    WeChatTestClient(app, ids[7]).text("hi")
    assert len(_component(app).cache) == 1


def test_idle_authorizers_hold_bounded_memory() -> None:
    ids = app_ids(1001)
    app = component_site(ids)
    state = app.extensions["wechat"]
    state.authorizer_callback(ids[0])
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for app_id in ids[1:]:
            state.authorizer_callback(app_id)
        gc.collect()
        per_authorizer = (tracemalloc.get_traced_memory()[0] - before) / 1000
    finally:
        tracemalloc.stop()
    assert 0 < per_authorizer < IDLE_BYTES


def test_the_lru_bounds_what_a_process_keeps() -> None:
    ids = app_ids(50)
    app = component_site(ids)
    component = _component(app)
    component.cache.size = 10
    for app_id in ids:
        assert WeChatTestClient(app, app_id).text("hi").content == "hi"
    assert len(component.cache) == 10
    # an evicted authorizer is built again on its next message
    assert WeChatTestClient(app, ids[0]).text("again").content == "again"
