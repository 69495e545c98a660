"""Intake logs what it collects (contract section 12): each accepted incident and DASH as
`collected` by the token's `sub` through its route, naming the people by their keys only;
each read as `consulted`. Against both databases; entries read from the outbox they are
committed to with the incident."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from mash_tools.testing import TEST_PSEUDONYM_KEY, token
from tests.builders import dash_body, incident_body
from tests.integration.intake.kit import Intake
from tests.integration.kit import keys_of, logged

pytestmark = pytest.mark.kafka


def _as(sub: str, *scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(*scopes, subject=sub)}"}


def _person(role: str, **extra: Any) -> dict[str, Any]:
    """Someone with every kind of personal data, unique to this test."""
    tag = uuid.uuid4().hex[:8]
    return {
        "person_id": f"P{role[0].upper()}{tag}",
        "given_name": f"{role}given{tag}",
        "family_name": f"{role}family{tag}",
        "date_of_birth": "1991-07-13" if role != "child" else "2017-03-09",
        "address": {"lines": [f"7 {tag} Lane", f"Town{tag}"], "postcode": "SO17 1BJ"},
        "contact": {"phone": "07700 900417", "email": f"{role}{tag}@mail.test"},
        **extra,
    }


async def test_an_incident_and_a_later_dash_are_logged_as_collected_with_keys_only(
    intake_service: Intake,
) -> None:
    client = intake_service.client
    victim, suspect = _person("victim"), _person("suspect")
    child = _person("child", person_id=None, present_at_incident=True)
    body = incident_body(
        f"HC-LOG-{uuid.uuid4().hex[:10]}",
        victim=victim,
        suspect=suspect,
        children=[child],
        notes="The officer's notes",
    )
    officer = f"control-room-{uuid.uuid4().hex[:6]}"
    posted = await client.post("/v1/incidents", json=body, headers=_as(officer, "incidents:write"))
    assert posted.status_code == 202
    incident_id = posted.json()["incident_id"]
    again = await client.post("/v1/incidents", json=body, headers=_as(officer, "incidents:write"))
    assert again.status_code == 200  # the same report again: nothing new collected

    assessor = f"officer-{uuid.uuid4().hex[:6]}"
    path = f"/v1/incidents/{incident_id}/risk-assessments"
    dash = await client.post(path, json=dash_body(12), headers=_as(assessor, "incidents:write"))
    assert dash.status_code == 202
    assessment_id = dash.json()["assessment_id"]
    reader = f"analyst-{uuid.uuid4().hex[:6]}"
    read = await client.get(f"/v1/incidents/{incident_id}", headers=_as(reader, "incidents:read"))
    assert read.status_code == 200

    log = await logged(intake_service.app)
    everyone = keys_of(TEST_PSEUDONYM_KEY, victim, suspect, child)
    assert len(everyone) == 5  # two keys each, one for the child (no person id)
    [incident] = log.of("collected", resource="incident")
    assert incident | {"entry_id": None, "at": None, "subjects": None} == {
        "entry_id": None,
        "at": None,
        "subjects": None,
        "service": "intake",
        "operation": "collected",
        "sub": officer,
        "via": "api",
        "route": "/v1/incidents",
        "resource": "incident",
        "ids": [incident_id],
        "recipient": None,
        "status": "ok",
    }
    assert set(incident["subjects"]) == everyone
    [assessment] = log.of("collected", resource="risk_assessment")
    assert (assessment["sub"], assessment["via"]) == (assessor, "api")
    assert assessment["route"] == "/v1/incidents/{incident_id}/risk-assessments"
    assert assessment["ids"] == [assessment_id, incident_id]
    assert set(assessment["subjects"]) == everyone
    [consulted] = log.of("consulted", sub=reader)
    assert (consulted["ids"], consulted["status"]) == ([incident_id], 200)
    assert set(consulted["subjects"]) == everyone
    log.assert_nothing_personal_of(victim, suspect, child)
    assert body["control_room_ref"] not in log.text
    assert "The officer's notes" not in log.text


async def test_a_refused_or_unknown_write_collects_nothing(intake_service: Intake) -> None:
    client = intake_service.client
    writer = _as(f"w-{uuid.uuid4().hex[:6]}", "incidents:write")
    unknown = f"/v1/incidents/{uuid.uuid4()}/risk-assessments"
    assert (await client.post(unknown, json=dash_body(), headers=writer)).status_code == 404
    bad = incident_body(f"HC-LOG-{uuid.uuid4().hex[:10]}", area="Not A Slug")
    assert (await client.post("/v1/incidents", json=bad, headers=writer)).status_code == 422
    assert (await logged(intake_service.app)).of("collected") == []
