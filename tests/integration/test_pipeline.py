"""An incident travels intake -> Kafka -> triage, in one trace."""

from __future__ import annotations

from uuid import UUID

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import select

import intake.app
import intake.config
import triage.app
import triage.config
import triage.store
from mash_tools.testing import bearer, eventually, running
from tests.builders import incident_body, settings_for

pytestmark = pytest.mark.kafka


async def test_incident_reaches_triage_in_the_same_trace(
    kafka_bootstrap: str, sqlite_url: str, tmp_path, group: str
) -> None:
    intake_spans, triage_spans = InMemorySpanExporter(), InMemorySpanExporter()
    intake_app = intake.app.create_app(
        settings_for(intake.config.Settings, kafka_bootstrap, sqlite_url, group), [intake_spans]
    )
    triage_app = triage.app.create_app(
        settings_for(
            triage.config.Settings,
            kafka_bootstrap,
            f"sqlite+aiosqlite:///{tmp_path / 'triage.db'}",
            group,
        ),
        [triage_spans],
    )
    async with running(triage_app), running(intake_app) as client:
        answer = await client.post(
            "/v1/incidents",
            json=incident_body(f"HC-TRACE-{group}"),
            headers=bearer("incidents:write"),
        )
        assert answer.status_code == 202, answer.text
        incident_id = UUID(answer.json()["incident_id"])

        platform = triage_app.state.platform

        async def received() -> bool:
            async with platform.sessions() as session:
                rows = (
                    await session.execute(
                        select(triage.store.messages.inbox).where(
                            triage.store.messages.inbox.c.subject == str(incident_id)
                        )
                    )
                ).all()
            return len(rows) == 1

        await eventually(received)
        status = await client.get(f"/v1/incidents/{incident_id}", headers=bearer("incidents:read"))
        assert status.json()["status"] == "published"

    request = next(
        s
        for s in intake_spans.get_finished_spans()
        if s.kind == SpanKind.SERVER and "POST" in s.name
    )
    consume = next(
        s
        for s in triage_spans.get_finished_spans()
        if s.kind == SpanKind.CONSUMER
        and (s.attributes or {}).get("cloudevents.event_type") == "mash.incident.reported"
    )
    assert consume.context.trace_id == request.context.trace_id
