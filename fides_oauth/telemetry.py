"""Optional OpenTelemetry metrics and spans, through ``opentelemetry-api`` only.

Without the API installed every call here is a no-op; with it, the library
reports to whatever providers the host configured (the global ones by
default, so a host that wires the SDK to Prometheus or OTLP at start-up sees
them; see the docs' "Observability"). Nothing here depends on Flask: the
callers pass outcomes and reasons in, the same way for every entry point.

What is reported, and its names:

- ``fides_oauth.token.requests`` (counter): token requests, with
  ``outcome`` (``issued`` or ``refused``) and ``reason`` (the OAuth error
  code, ``issued`` for a token);
- ``fides_oauth.token.duration`` (histogram, seconds): the token endpoint's
  latency, with the same attributes; and a ``fides_oauth.token`` span;
- ``fides_oauth.bearer.checks`` (counter): protected-route checks, with
  ``outcome`` (``allowed`` or ``refused``) and ``reason``; the attributes
  are also set on the current span (the host's request span, when it has
  one) — a span of its own per check would cost the hot path more than the
  check;
- ``fides_oauth.client.changes`` (counter) and a ``fides_oauth.<event>``
  span per management change (``client_created``, ``client_deleted``, …).

Attributes never carry a secret or a token; client ids are not attributes
of metrics (unbounded cardinality), only of spans.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

try:  # the API is optional: pip install 'fides-oauth[otel]'
    from opentelemetry import metrics as _metrics
    from opentelemetry import trace as _trace
    from opentelemetry.trace import Status
    from opentelemetry.trace import StatusCode
except ImportError:  # pragma: no cover - exercised where the API is absent
    _metrics = None  # type: ignore[assignment]
    _trace = None  # type: ignore[assignment]

__all__ = ["AVAILABLE", "Telemetry", "TokenOutcome"]

#: Whether ``opentelemetry-api`` is installed.
AVAILABLE = _metrics is not None

_SCOPE = "fides_oauth"

#: Reports a token request's end: ``(status, error code or None)``.
TokenOutcome = Callable[[int, "str | None"], None]


class Telemetry:
    """The library's instruments, made once per app.

    ``meter_provider`` and ``tracer_provider`` default to the global ones
    (the API's proxies, which follow a provider the host sets later); tests
    and hosts with several pipelines pass their own.
    """

    def __init__(self, meter_provider: Any = None, tracer_provider: Any = None) -> None:
        self.enabled = AVAILABLE
        if not AVAILABLE:
            return
        meter = (
            meter_provider.get_meter(_SCOPE)
            if meter_provider is not None
            else _metrics.get_meter(_SCOPE)
        )
        self._tracer = (
            tracer_provider.get_tracer(_SCOPE)
            if tracer_provider is not None
            else _trace.get_tracer(_SCOPE)
        )
        self._token_requests = meter.create_counter(
            "fides_oauth.token.requests",
            unit="{request}",
            description="Token requests, by outcome and reason.",
        )
        self._token_duration = meter.create_histogram(
            "fides_oauth.token.duration",
            unit="s",
            description="Token endpoint latency.",
        )
        self._bearer_checks = meter.create_counter(
            "fides_oauth.bearer.checks",
            unit="{check}",
            description="Protected-route token checks, by outcome and reason.",
        )
        self._client_changes = meter.create_counter(
            "fides_oauth.client.changes",
            unit="{change}",
            description="Client management changes, by event.",
        )

    def __repr__(self) -> str:
        return f"<Telemetry {'on' if self.enabled else 'off (no opentelemetry-api)'}>"

    @contextmanager
    def token_request(self) -> Iterator[TokenOutcome]:
        """Around one token request: yields the function to call with the
        answer's status and error code (the caller renders every failure
        first); an exception that escapes unanswered counts as a 500."""
        if not self.enabled:
            yield _ignore
            return
        start = time.perf_counter()
        outcome: list[tuple[int, str | None]] = []
        with self._tracer.start_as_current_span("fides_oauth.token") as span:
            try:
                yield lambda status, error: outcome.append((status, error))
            finally:
                status, error = outcome[-1] if outcome else (500, "server_error")
                attributes = {
                    "outcome": "issued" if status == 200 else "refused",
                    "reason": "issued" if status == 200 else (error or "unknown"),
                }
                self._token_requests.add(1, attributes)
                self._token_duration.record(time.perf_counter() - start, attributes)
                span.set_attributes(
                    {f"fides_oauth.{k}": v for k, v in attributes.items()}
                )
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR, attributes["reason"]))

    def bearer_check(self, allowed: bool, reason: str) -> None:
        """One protected-route check: ``reason`` is the error code, or
        ``allowed``."""
        if not self.enabled:
            return
        attributes = {"outcome": "allowed" if allowed else "refused", "reason": reason}
        self._bearer_checks.add(1, attributes)
        span = _trace.get_current_span()
        if span.is_recording():
            span.set_attributes(
                {f"fides_oauth.bearer.{k}": v for k, v in attributes.items()}
            )

    @contextmanager
    def change(self, events: Sequence[str], client_id: str) -> Iterator[None]:
        """A span around one management change, named after its first event;
        each event is counted once the change committed (a failed commit
        counts nothing, its span records the error)."""
        if not self.enabled:
            yield
            return
        with self._tracer.start_as_current_span(
            f"fides_oauth.{events[0]}", attributes={"fides_oauth.client_id": client_id}
        ):
            yield
        for event in events:
            self._client_changes.add(1, {"event": event})


def _ignore(status: int, error: str | None) -> None:
    """The outcome, when nobody listens."""
