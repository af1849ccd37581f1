"""flask_wechat.contrib.otel with the OpenTelemetry SDK: the in-memory span exporter
and metric reader in process, and a real ``rq worker`` for the late-reply link."""

from __future__ import annotations

import json
import re
import time
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from rq import Queue

from flask_wechat import Message, TextReply, WeChat
from flask_wechat.contrib.otel import Instrumentation, instrument
from flask_wechat.errors import APIError
from flask_wechat.sandbox import SANDBOX_APP_SECRET, SANDBOX_OPENID, RelayPlatform, Sandbox
from flask_wechat.tasks import InlineRunner
from flask_wechat.testing import WeChatTestClient

from ..conftest import production
from .conftest import make_site, wait_for
from .queue_app import SPANS_ENV
from .spans_file import read_spans
from .test_rq import rq_command

TOKEN = "otel-callback-token"
AES_KEY = "OTELabcdefghijklmnopqrstuvwxyz0123456789ABC"
CONTENT = "my card number is 6222 0000 1111 2222"
DEADLINE = 0.2
CALLBACK_IP = "/cgi-bin/getcallbackip"


class Telemetry(t.NamedTuple):
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def finished(self, name: str | None = None) -> list[ReadableSpan]:
        spans = self.spans.get_finished_spans()
        return [span for span in spans if name is None or span.name == name]

    def points(self, name: str) -> list[tuple[dict[str, t.Any], t.Any]]:
        """``(attributes, data point)`` of the metric ``name``."""
        found = []
        data = self.metrics.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found += [(dict(p.attributes or {}), p) for p in metric.data.data_points]
        return found


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Telemetry(exporter, reader, tracer_provider, meter_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()


@pytest.fixture
def site(sandbox: Sandbox, telemetry: Telemetry) -> Iterator[tuple[Flask, WeChat]]:
    """An Official Account in safe mode on the sandbox, instrumented."""
    app = Flask("otel_site")
    app.config.update(
        TESTING=True,
        WECHAT_TOKEN=TOKEN,
        WECHAT_ENCODING_AES_KEY=AES_KEY,
        WECHAT_REPLY_DEADLINE=DEADLINE,
        **sandbox.flask_config("mp"),
    )
    wechat = WeChat(app, task_runner=InlineRunner(attempts=1))

    @wechat.on("text", match="^hello")
    def hello(message: Message) -> TextReply:
        wechat.client().callback_ip()
        return TextReply(f"hi {message.content}")

    @wechat.on("text", match="^slow")
    def slow(message: Message) -> TextReply:
        time.sleep(DEADLINE * 1.5)
        return TextReply(f"late answer to {message.content}")

    @wechat.on("text", match="^boom")
    def boom(message: Message) -> None:
        raise ValueError(f"failed on {message.content!r} from {message.source}")

    instrumentation = instrument(
        wechat,
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
    )
    yield app, wechat
    assert app.extensions["wechat"].handler_threads.join(10)  # nothing left running
    instrumentation.uninstrument()


def only(spans: list[ReadableSpan]) -> ReadableSpan:
    assert len(spans) == 1, [span.name for span in spans]
    return spans[0]


def parent_of(span: ReadableSpan) -> int | None:
    return int(span.parent.span_id) if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.span_id)


def test_a_callback_is_a_tree_under_the_request_span(
    site: tuple[Flask, WeChat], telemetry: Telemetry
) -> None:
    app, _wechat = site
    tracer = telemetry.tracer_provider.get_tracer("the site's Flask tracing")
    with tracer.start_as_current_span("POST /wechat") as request_span:
        result = WeChatTestClient(app).text("hello world", FromUserName=SANDBOX_OPENID)
    assert result.content == "hi hello world"

    callback = only(telemetry.finished("wechat.callback"))
    handler = only(telemetry.finished("wechat.handler"))
    token = only(telemetry.finished("wechat.token"))
    token_call, ip_call = telemetry.finished("wechat.api")
    assert parent_of(callback) == request_span.get_span_context().span_id
    assert parent_of(handler) == span_id(callback)
    assert parent_of(token) == span_id(handler)
    assert parent_of(token_call) == span_id(token)
    assert parent_of(ip_call) == span_id(handler)

    assert dict(callback.attributes or {}) == {
        "wechat.account": "default",
        "wechat.msg_type": "text",
        "wechat.outcome": "reply",
    }
    assert dict(handler.attributes or {}) == {
        "wechat.account": "default",
        "wechat.msg_type": "text",
    }
    assert dict(token.attributes or {}) == {
        "wechat.account": "default",
        "wechat.credential": "access_token",
    }
    assert dict(ip_call.attributes or {}) == {
        "wechat.account": "default",
        "wechat.api.path": CALLBACK_IP,
        "wechat.api.attempt": 1,
        "wechat.errcode": 0,
    }
    assert token_call.attributes is not None
    assert token_call.attributes["wechat.api.path"] == "/cgi-bin/token"


def test_an_api_error_carries_errcode_and_rid(
    site: tuple[Flask, WeChat], sandbox: Sandbox, telemetry: Telemetry
) -> None:
    app, wechat = site
    with app.app_context():
        client = wechat.client()
        client.access_token  # noqa: B018
        sandbox.fail(CALLBACK_IP, 45011)
        with pytest.raises(APIError) as caught:
            client.callback_ip()
    failed = telemetry.finished("wechat.api")[-1]
    assert failed.attributes is not None
    assert failed.attributes["wechat.errcode"] == 45011
    assert failed.attributes["wechat.rid"] == caught.value.rid
    assert failed.status.status_code is StatusCode.ERROR
    calls = {
        (labels["path"], labels["errcode"]): point.value
        for labels, point in telemetry.points("wechat.api.calls")
    }
    assert calls == {("/cgi-bin/token", "0"): 1, (CALLBACK_IP, "45011"): 1}


def test_metrics_of_callbacks_handlers_and_tokens(
    site: tuple[Flask, WeChat], telemetry: Telemetry
) -> None:
    app, _wechat = site
    client = WeChatTestClient(app)
    client.text("hello one", FromUserName=SANDBOX_OPENID)
    client.text("hello two", FromUserName=SANDBOX_OPENID)
    client.event("subscribe")
    client.post(b"<xml/>", {"signature": "forged", "timestamp": "1", "nonce": "n"})

    callbacks = {
        tuple(sorted(labels.items())): point.value
        for labels, point in telemetry.points("wechat.callbacks")
    }
    assert callbacks == {
        (("account", "default"), ("name", "text"), ("outcome", "reply")): 2,
        (("account", "default"), ("name", "subscribe"), ("outcome", "success")): 1,
        (("account", "default"), ("outcome", "rejected")): 1,
    }
    ((labels, durations),) = telemetry.points("wechat.handler.duration")
    assert labels == {"account": "default", "name": "text"}
    assert durations.count == 2
    assert 0 <= durations.sum < 5
    (((labels, fetches)),) = telemetry.points("wechat.token.fetches")
    assert (labels, fetches.value) == ({"account": "default"}, 1)
    api = {labels["path"]: point.count for labels, point in telemetry.points("wechat.api.duration")}
    assert api == {"/cgi-bin/token": 1, CALLBACK_IP: 2}


def test_a_late_reply_links_to_its_callback(
    site: tuple[Flask, WeChat], sandbox: Sandbox, telemetry: Telemetry
) -> None:
    app, _wechat = site
    WeChatTestClient(app).text("slow please", FromUserName=SANDBOX_OPENID)
    assert app.extensions["wechat"].handler_threads.join(10)  # the late reply went out
    assert [m["text"]["content"] for m in sandbox.sent] == ["late answer to slow please"]
    callback = only(telemetry.finished("wechat.callback"))
    task = only(telemetry.finished("wechat.task"))
    assert callback.attributes is not None
    assert callback.attributes["wechat.outcome"] == "late"
    assert [link.context.span_id for link in task.links] == [span_id(callback)]
    assert dict(task.attributes or {}) == {"wechat.account": "default", "wechat.task": "send_reply"}
    send = telemetry.finished("wechat.api")[-1]
    assert send.attributes is not None
    assert send.attributes["wechat.api.path"] == "/cgi-bin/message/custom/send"
    assert parent_of(send) == span_id(task)


def test_a_failing_handler_is_recorded_by_type_only(
    site: tuple[Flask, WeChat], telemetry: Telemetry
) -> None:
    app, _wechat = site
    production(app)
    assert WeChatTestClient(app).text("boom " + CONTENT, FromUserName=SANDBOX_OPENID).is_success
    handler = only(telemetry.finished("wechat.handler"))
    assert handler.status.status_code is StatusCode.ERROR
    assert handler.status.description == "ValueError"
    assert handler.attributes is not None
    assert handler.attributes["error.type"] == "ValueError"
    assert handler.events == ()  # no exception event: its message quotes the message


def test_no_span_or_label_holds_a_secret_or_what_users_wrote(
    site: tuple[Flask, WeChat], sandbox: Sandbox, telemetry: Telemetry
) -> None:
    """Walk every attribute, event, link and status of every span, and every label
    of every metric point, after traffic that handles each kind of secret."""
    app, wechat = site
    production(app)
    client = WeChatTestClient(app)
    client.text("hello " + CONTENT, FromUserName=SANDBOX_OPENID)
    client.text("slow " + CONTENT, FromUserName=SANDBOX_OPENID)
    client.text("boom " + CONTENT, FromUserName=SANDBOX_OPENID)
    client.event("subscribe", EventKey="qrscene_" + CONTENT, FromUserName=SANDBOX_OPENID)
    client.post(b"<xml>" + CONTENT.encode() + b"</xml>", {"signature": TOKEN, "timestamp": "1"})
    with app.app_context():
        api = wechat.client()
        config = wechat.jssdk_config("https://shop.example.com/pay", ["chooseImage"])
        code = sandbox.oauth_code(SANDBOX_OPENID)
        web = api.oauth.exchange_code(code)
        sandbox.fail(CALLBACK_IP, 40001, times=None)
        with pytest.raises(APIError):
            api.callback_ip()
        secrets_seen = {
            "AppSecret": SANDBOX_APP_SECRET,
            "callback Token": TOKEN,
            "EncodingAESKey": AES_KEY,
            "access_token": api.access_token,
            "jsapi_ticket": api.jsapi_ticket,
            "JS-SDK signature": config["signature"],
            "OAuth code": code,
            "web access_token": web["access_token"],
            "refresh_token": web["refresh_token"],
            "OpenID": SANDBOX_OPENID,
            "message content": CONTENT,
            "part of the content": "6222",
        }
    assert app.extensions["wechat"].handler_threads.join(10)  # the late reply went out
    spans = telemetry.finished()
    assert {"wechat.callback", "wechat.handler", "wechat.api", "wechat.token", "wechat.task"} <= {
        span.name for span in spans
    }
    produced: list[str] = []
    for span in spans:
        produced.append(span.name)
        produced += [f"{k}={v!r}" for k, v in (span.attributes or {}).items()]
        for event in span.events:
            produced.append(event.name)
            produced += [f"{k}={v!r}" for k, v in (event.attributes or {}).items()]
        for link in span.links:
            produced += [f"{k}={v!r}" for k, v in (link.attributes or {}).items()]
        produced.append(str(span.status.description))
    for name in (
        "wechat.callbacks",
        "wechat.handler.duration",
        "wechat.api.calls",
        "wechat.api.duration",
        "wechat.token.fetches",
    ):
        points = telemetry.points(name)
        assert points, name
        produced += [f"{k}={v}" for labels, _ in points for k, v in labels.items()]
    for what, secret in secrets_seen.items():
        leaks = [text for text in produced if secret in text]
        assert not leaks, f"{what} in {leaks}"


def test_uninstrument_and_other_extensions(
    site: tuple[Flask, WeChat], telemetry: Telemetry
) -> None:
    app, wechat = site
    other = Flask("not_instrumented")
    other.config.update(WECHAT_TOKEN=TOKEN, TESTING=True)
    WeChat(other)
    WeChatTestClient(other).text("hello")
    assert telemetry.finished() == []  # another WeChat() is not this instrumentation's

    second = instrument(wechat, tracer_provider=telemetry.tracer_provider)
    assert isinstance(second, Instrumentation)
    second.uninstrument()
    WeChatTestClient(app).event("subscribe")
    assert len(telemetry.finished("wechat.callback")) == 1


# -- a late reply in a real RQ worker ---------------------------------------------------


@pytest.mark.redis
def test_late_reply_in_an_rq_worker_links_to_its_callback(
    redis_db: str,
    sandbox: Sandbox,
    relay_platform: RelayPlatform,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spans_path = tmp_path / "spans.jsonl"
    monkeypatch.setenv(SPANS_ENV, str(spans_path))
    with make_site(
        "rq", rq_command(redis_db), redis_db, sandbox, relay_platform, tmp_path, monkeypatch
    ) as site:
        try:
            WeChatTestClient(site.app).text("late hello", FromUserName=SANDBOX_OPENID)
            (job,) = [j for j in Queue(site.queue, connection=site.redis).jobs if j is not None]
            task_json, _app_import = job.args
            trace = json.loads(task_json)["trace"]
            assert set(trace) <= {"traceparent", "tracestate"}
            assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", trace["traceparent"])

            worker = site.worker()

            def task_spans() -> list[dict[str, t.Any]]:
                return [s for s in read_spans(spans_path) if s["name"] == "wechat.task"]

            (task,) = wait_for("the worker's task span", task_spans, log=worker.log)
        finally:
            site.app.extensions["queue_test_otel"].uninstrument()
    spans = read_spans(spans_path)
    (callback,) = [s for s in spans if s["name"] == "wechat.callback"]
    assert callback["attributes"]["wechat.outcome"] == "late"
    assert task["parent_id"] is None  # the worker's own trace...
    (link,) = task["links"]  # ...linked to the callback that asked for it
    assert link["context"]["trace_id"] == callback["context"]["trace_id"]
    assert link["context"]["span_id"] == callback["context"]["span_id"]
    assert task["attributes"] == {"wechat.account": "default", "wechat.task": "send_reply"}
    sends = [s for s in spans if s["attributes"].get("wechat.api.path") == SEND_PATH]
    assert [s["parent_id"] for s in sends] == [task["context"]["span_id"]]
    assert [m["text"]["content"] for m in sandbox.sent] == ["late answer to late hello"]


SEND_PATH = "/cgi-bin/message/custom/send"
