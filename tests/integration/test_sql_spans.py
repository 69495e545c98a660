"""SQL statement spans: off by default (they cost a consumer 10 to 34% of its loop's time),
on with `MASH_TRACE_SQL=true` for debugging, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import select

from mash_tools.testing import hub_settings
from shared.config import HubSettings, ServiceSettings
from shared.service import Platform
from tests.integration.kit import effects, metadata, tables

SQL_SCOPE = "opentelemetry.instrumentation.sqlalchemy"


async def traced_query(database_url: str, *, trace_sql: bool) -> InMemorySpanExporter:
    """A platform's storage started with `trace_sql`, one query run inside a consume span."""
    spans = InMemorySpanExporter()
    hub = hub_settings("127.0.0.1:1").model_copy(update={"trace_sql": trace_sql})
    settings = ServiceSettings(database_url=database_url, hub=hub)
    platform = Platform("kit", settings, tables, metadata, [spans])
    await platform.start_storage()
    try:
        with platform.tracer.start_as_current_span("consume"):
            async with platform.uow() as session:
                await session.execute(select(effects.c.id).where(effects.c.subject == "s1"))
    finally:
        await platform.stop()
    return spans


async def test_by_default_no_sql_statement_makes_a_span(database_url: str) -> None:
    spans = await traced_query(database_url, trace_sql=False)
    assert [span.name for span in spans.get_finished_spans()] == ["consume"]


async def test_with_trace_sql_each_statement_is_a_child_span(database_url: str) -> None:
    spans = await traced_query(database_url, trace_sql=True)
    finished = spans.get_finished_spans()
    consume = next(span for span in finished if span.name == "consume")
    sql = [
        span
        for span in finished
        if span.instrumentation_scope and span.instrumentation_scope.name == SQL_SCOPE
    ]
    selects = [span for span in sql if "effects" in str((span.attributes or {}).values())]
    assert len(selects) == 1, [span.name for span in sql]
    assert selects[0].name.startswith("SELECT")
    parent, own = selects[0].parent, consume.get_span_context()
    assert parent is not None
    assert own is not None
    assert parent.span_id == own.span_id


def test_the_setting_is_read_from_mash_trace_sql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MASH_TRACE_SQL", raising=False)
    assert HubSettings(env="test", pseudonym_key="k").trace_sql is False
    monkeypatch.setenv("MASH_TRACE_SQL", "true")
    assert HubSettings(env="test", pseudonym_key="k").trace_sql is True
