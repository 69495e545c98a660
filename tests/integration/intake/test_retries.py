"""A control room retries after a lost reply: a DASH posted again is the same assessment;
the incident's status gives its receipt time with an offset."""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest

from mash_tools.testing import bearer
from tests.builders import dash_body, incident_body
from tests.integration.intake.kit import Intake

pytestmark = pytest.mark.kafka
WRITE = bearer("incidents:write")
READ = bearer("incidents:read")


async def _incident(service: Intake) -> str:
    body = incident_body(f"HC-{uuid.uuid4().hex[:12]}")
    answer = await service.client.post("/v1/incidents", json=body, headers=WRITE)
    assert answer.status_code == 202
    return str(answer.json()["incident_id"])


async def test_the_same_dash_again_answers_200_with_the_same_assessment_and_publishes_nothing(
    intake_service: Intake,
) -> None:
    incident_id = await _incident(intake_service)
    path = f"/v1/incidents/{incident_id}/risk-assessments"
    first = await intake_service.client.post(path, json=dash_body(15), headers=WRITE)
    again = await intake_service.client.post(path, json=dash_body(15), headers=WRITE)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["assessment_id"] == first.json()["assessment_id"]
    assert await intake_service.count("risk_assessments") == 1
    assert await intake_service.count("outbox") == 2  # the incident's event and the DASH's


async def test_a_different_dash_for_the_same_incident_is_a_new_assessment(
    intake_service: Intake,
) -> None:
    incident_id = await _incident(intake_service)
    path = f"/v1/incidents/{incident_id}/risk-assessments"
    first = await intake_service.client.post(path, json=dash_body(5), headers=WRITE)
    second = await intake_service.client.post(path, json=dash_body(15), headers=WRITE)
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["assessment_id"] != second.json()["assessment_id"]
    assert await intake_service.count("outbox") == 3


async def test_ten_identical_dashes_at_once_make_one_assessment_and_one_event(
    intake_service: Intake,
) -> None:
    incident_id = await _incident(intake_service)
    path = f"/v1/incidents/{incident_id}/risk-assessments"
    answers = await asyncio.gather(
        *(intake_service.client.post(path, json=dash_body(9), headers=WRITE) for _ in range(10))
    )
    assert sorted(a.status_code for a in answers) == [200] * 9 + [202]
    assert len({a.json()["assessment_id"] for a in answers}) == 1
    assert await intake_service.count("risk_assessments") == 1
    assert await intake_service.count("outbox") == 2


async def test_received_at_carries_its_offset(intake_service: Intake) -> None:
    incident_id = await _incident(intake_service)
    status = await intake_service.client.get(f"/v1/incidents/{incident_id}", headers=READ)
    received_at = status.json()["received_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", received_at)
