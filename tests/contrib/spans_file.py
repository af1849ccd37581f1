"""OpenTelemetry spans written to a file, one JSON object a line: how the queue
tests see the spans of ``rq worker`` subprocesses beside their own."""

from __future__ import annotations

import json
import typing as t
from collections.abc import Sequence
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from flask_wechat.contrib.otel import Instrumentation, instrument

if t.TYPE_CHECKING:
    from flask_wechat import WeChat


class FileSpanExporter(SpanExporter):
    """Appends each finished span to ``path`` as one line of JSON."""

    def __init__(self, path: str) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with open(self.path, "a", encoding="utf-8") as out:
            for span in spans:
                out.write(span.to_json(indent=None) + "\n")
        return SpanExportResult.SUCCESS


def instrument_to_file(wechat: WeChat, path: str) -> Instrumentation:
    """Instrument ``wechat`` with a tracer provider of its own that writes to ``path``."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(FileSpanExporter(path)))
    return instrument(wechat, tracer_provider=provider)


def read_spans(path: Path) -> list[dict[str, t.Any]]:
    """Every span written to ``path`` so far."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
