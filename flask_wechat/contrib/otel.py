"""OpenTelemetry traces and metrics for flask_wechat (extra ``[otel]``, which
needs only ``opentelemetry-api``; the site brings the SDK and its exporters)::

    from flask_wechat.contrib.otel import instrument

    wechat = WeChat(app)
    instrument(wechat)  # the global providers, or tracer_provider=/meter_provider=

Spans, each started in the current context (so ``wechat.callback`` is a child
of the request's span when the site traces Flask):

* ``wechat.callback`` — one callback request, with its ``wechat.outcome``;
* ``wechat.handler`` — the handler that answered it;
* ``wechat.api`` — one HTTP request to the WeChat API (``wechat.api.path``,
  ``wechat.errcode``, ``wechat.rid``);
* ``wechat.token`` — fetching an access_token or a ticket;
* ``wechat.task`` — late work (a late reply, a relay forward) where it runs, in
  a worker too: it links to the span that queued it, whose W3C trace context
  travels in the task's data.

Metrics: ``wechat.callbacks`` (counter: ``account``, ``name``, ``outcome``),
``wechat.handler.duration`` (histogram, seconds: ``account``, ``name``),
``wechat.api.calls`` (counter: ``account``, ``path``, ``errcode`` — ``"none"``
when no answer came), ``wechat.api.duration`` (histogram, seconds: ``account``,
``path``), ``wechat.token.fetches`` (counter: ``account``).

Private by construction: attributes and labels are built only from the names and
numbers flask_wechat reports (:mod:`flask_wechat.observe`) — account names,
message types and events, API paths, errcodes, rids. An exception is recorded as
its type (``error.type``), never its message, which may quote a message or a URL.
No secret, token, code, OpenID or message content reaches a span or a metric.
"""

from __future__ import annotations

import contextlib
import typing as t

from opentelemetry import metrics, trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .. import observe

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from flask import Flask
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider
    from opentelemetry.util.types import AttributeValue

    from ..extension import WeChat

#: The instrumentation scope of every span and metric.
SCOPE = "flask_wechat"

#: What each reported name is called on a span.
SPAN_ATTRIBUTES = {
    "account": "wechat.account",
    "msg_type": "wechat.msg_type",
    "event": "wechat.event",
    "outcome": "wechat.outcome",
    "path": "wechat.api.path",
    "attempt": "wechat.api.attempt",
    "errcode": "wechat.errcode",
    "rid": "wechat.rid",
    "credential": "wechat.credential",
    "task": "wechat.task",
}

_SPAN_KINDS = {"api": SpanKind.CLIENT, "task": SpanKind.CONSUMER}


#: Histogram buckets in seconds (the SDK's default ones are for milliseconds), with
#: WeChat's marks: the 4.5 s reply deadline and the 5 s after which it retries.
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 4.5, 5.0, 10.0, 30.0)


class Instrumentation:
    """What :func:`instrument` installed for one ``WeChat()``; :meth:`uninstrument`
    takes it out again."""

    def __init__(
        self,
        wechat: WeChat,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self._handlers = wechat.handlers
        self._tracer = trace.get_tracer(SCOPE, tracer_provider=tracer_provider)
        meter = metrics.get_meter(SCOPE, meter_provider=meter_provider)
        self._callbacks = meter.create_counter(
            "wechat.callbacks", unit="{callback}", description="Callback requests, by outcome."
        )
        self._handler_duration = meter.create_histogram(
            "wechat.handler.duration",
            unit="s",
            description="How long handlers ran.",
            explicit_bucket_boundaries_advisory=SECONDS,
        )
        self._api_calls = meter.create_counter(
            "wechat.api.calls", unit="{call}", description="HTTP requests to the WeChat API."
        )
        self._api_duration = meter.create_histogram(
            "wechat.api.duration",
            unit="s",
            description="How long WeChat took to answer.",
            explicit_bucket_boundaries_advisory=SECONDS,
        )
        self._token_fetches = meter.create_counter(
            "wechat.token.fetches",
            unit="{fetch}",
            description="access_tokens and tickets fetched from WeChat.",
        )
        self._propagator = TraceContextTextMapPropagator()

    def uninstrument(self) -> None:
        """Stop producing spans and metrics."""
        observe.uninstall(self)

    # -- observe.Tracer ------------------------------------------------------------

    def carrier(self) -> dict[str, str]:
        """The current trace context as W3C ``traceparent``/``tracestate``."""
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier)
        return carrier

    @contextlib.contextmanager
    def span(self, unit: observe.Unit) -> Iterator[None]:
        """A span around ``unit`` (when it is for this extension's apps), and its metrics."""
        if not self._covers(unit.app):
            yield
            return
        with self._tracer.start_as_current_span(
            f"wechat.{unit.what}",
            kind=_SPAN_KINDS.get(unit.what, SpanKind.INTERNAL),
            attributes=span_attributes(unit),
            links=self._links(unit.link),
            record_exception=False,  # its message may quote a message or a URL
            set_status_on_exception=False,
        ) as span:
            try:
                yield
            except BaseException as exc:
                span.set_attribute("error.type", type(exc).__qualname__)
                span.set_status(Status(StatusCode.ERROR, type(exc).__qualname__))
                raise
            finally:
                span.set_attributes(span_attributes(unit))
                errcode = unit.attributes.get("errcode")
                if errcode:
                    span.set_status(Status(StatusCode.ERROR, f"errcode {errcode}"))
                self._measure(unit)

    # -- internals -----------------------------------------------------------------

    def _covers(self, app: Flask | None) -> bool:
        if app is None:
            return True
        state = app.extensions.get("wechat")
        return state is not None and state.handlers is self._handlers

    def _links(self, carrier: Mapping[str, str] | None) -> list[Link]:
        if not carrier:
            return []
        linked = trace.get_current_span(self._propagator.extract(dict(carrier)))
        context = linked.get_span_context()
        return [Link(context)] if context.is_valid else []

    def _measure(self, unit: observe.Unit) -> None:
        attributes = unit.attributes
        account = str(attributes.get("account"))
        name = attributes.get("name")
        if unit.what == "callback":
            outcome = attributes.get("outcome")
            if outcome is not None:
                labels: dict[str, AttributeValue] = {"account": account, "outcome": str(outcome)}
                if name is not None:
                    labels["name"] = str(name)
                self._callbacks.add(1, labels)
        elif unit.what == "handler":
            self._handler_duration.record(
                unit.duration, {"account": account, "name": str(name or "")}
            )
        elif unit.what == "api":
            errcode = attributes.get("errcode")
            path = str(attributes.get("path"))
            self._api_calls.add(
                1,
                {
                    "account": account,
                    "path": path,
                    "errcode": "none" if errcode is None else str(errcode),
                },
            )
            self._api_duration.record(unit.duration, {"account": account, "path": path})
        elif unit.what == "token":
            self._token_fetches.add(1, {"account": account})


def span_attributes(unit: observe.Unit) -> dict[str, AttributeValue]:
    """The span attributes of what ``unit`` reported so far."""
    return {
        SPAN_ATTRIBUTES[name]: value
        for name, value in unit.attributes.items()
        if value is not None and name in SPAN_ATTRIBUTES
    }


def instrument(
    wechat: WeChat,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
) -> Instrumentation:
    """Produce OpenTelemetry spans and metrics for every app ``wechat`` serves
    (see the module docstring); without providers, OpenTelemetry's global ones."""
    instrumentation = Instrumentation(wechat, tracer_provider, meter_provider)
    observe.install(instrumentation)
    return instrumentation
