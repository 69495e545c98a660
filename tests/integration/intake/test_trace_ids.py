"""Contract sections 3 and 9: an incident's trace is findable from intake's answers."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import pytest

from mash_tools.testing import TopicReader, bearer, headers_of
from shared.topics import INCIDENTS
from tests.builders import incident_body
from tests.integration.intake.kit import Intake

pytestmark = pytest.mark.kafka
WRITE = bearer("incidents:write")
READ = bearer("incidents:read")
TRACERESPONSE = re.compile(r"00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")


def trace_of(header: str | None) -> str:
    assert header is not None, "no traceresponse header"
    match = TRACERESPONSE.fullmatch(header)
    assert match, header
    return match.group(1)


async def test_the_incident_its_event_and_its_status_name_one_trace(
    intake_service: Intake, kafka_bootstrap: str
) -> None:
    body = incident_body(f"HC-{uuid.uuid4().hex[:12]}")
    async with TopicReader(kafka_bootstrap, INCIDENTS) as topic:
        answer = await intake_service.client.post("/v1/incidents", json=body, headers=WRITE)
        assert answer.status_code == 202
        incident_id = answer.json()["incident_id"]
        record = await topic.wait_for(lambda r: headers_of(r).get("ce_subject") == incident_id)
    trace_id = trace_of(answer.headers.get("traceresponse"))
    assert headers_of(record)["traceparent"].split("-")[1] == trace_id

    status = await intake_service.client.get(f"/v1/incidents/{incident_id}", headers=READ)
    assert status.status_code == 200
    assert status.json()["trace_id"] == trace_id
    # the read is its own trace, and says so too
    assert trace_of(status.headers.get("traceresponse")) != trace_id
    received = datetime.fromisoformat(status.json()["received_at"].replace("Z", "+00:00"))
    assert received.utcoffset() is not None  # RFC 3339 with its offset


async def test_every_answer_carries_traceresponse_even_a_refusal(intake_service: Intake) -> None:
    answers = [
        await intake_service.client.post("/v1/incidents", json={}, headers=WRITE),  # 422
        await intake_service.client.post("/v1/incidents", json={}),  # 401
        await intake_service.client.get(f"/v1/incidents/{uuid.uuid4()}", headers=READ),  # 404
    ]
    assert [a.status_code for a in answers] == [422, 401, 404]
    ids = {trace_of(a.headers.get("traceresponse")) for a in answers}
    assert len(ids) == 3  # one trace per request
