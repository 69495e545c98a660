"""A trace UI that times out (Zipkin's ReadTimeout under load) costs a service one warning
line a minute at most, never a traceback per batch (issue 24)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from shared.telemetry import QuietExporter


class TimingOut(SpanExporter):
    def __init__(self) -> None:
        self.fail = True

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.fail:
            raise TimeoutError("HTTPConnectionPool(host='127.0.0.1', port=9411): Read timed out.")
        return SpanExportResult.SUCCESS


def test_failures_become_one_warning_line_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    inner = TimingOut()
    quiet = QuietExporter(inner, "zipkin", interval=3600)
    with caplog.at_level(logging.WARNING):
        results = [quiet.export([]) for _ in range(50)]
    assert results == [SpanExportResult.FAILURE] * 50
    assert len(caplog.records) == 1
    (record,) = caplog.records
    assert record.exc_info is None  # no traceback
    assert "zipkin" in record.getMessage()
    assert "TimeoutError" in record.getMessage()
    inner.fail = False
    assert quiet.export([]) == SpanExportResult.SUCCESS


def test_it_warns_again_once_the_interval_has_passed(caplog: pytest.LogCaptureFixture) -> None:
    quiet = QuietExporter(TimingOut(), "zipkin", interval=0)
    with caplog.at_level(logging.WARNING):
        quiet.export([])
        quiet.export([])
    assert len(caplog.records) == 2
