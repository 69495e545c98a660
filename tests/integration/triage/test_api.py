"""Triage's API (contract section 4) through the running stack: tokens, scopes, 404s,
field-by-field 422s, and a re-grade that publishes a decision and withdraws nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from mash_tools.testing import TopicReader, bearer, data_of, eventually
from shared.topics import DECISIONS
from tests.builders import dash_body
from tests.integration.triage.kit import Stack, decision_for, unique_victim

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
READ, REGRADE = bearer("triage:read"), bearer("triage:regrade")
VALID = {"risk_level": "high", "reason": "IDVA reports escalating threats", "by": "DS 4321"}


async def decided(stack: Stack, incident_id: str) -> dict[str, Any]:
    async def found() -> Any:
        answer = await stack.triage.get(f"/v1/decisions/{incident_id}", headers=READ)
        return answer.json() if answer.status_code == 200 else None

    result: dict[str, Any] = await eventually(found)
    return result


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer not-a-token"}, 401),
        (bearer("triage:regrade"), 403),
        (bearer("incidents:read"), 403),
    ],
)
async def test_reading_a_decision_needs_triage_read(
    stack: Stack, headers: dict[str, str], status: int
) -> None:
    answer = await stack.triage.get(f"/v1/decisions/{uuid.uuid4()}", headers=headers)
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_no_decision_yet_is_404_and_a_bad_id_is_422(stack: Stack) -> None:
    missing = await stack.triage.get(f"/v1/decisions/{uuid.uuid4()}", headers=READ)
    assert missing.status_code == 404
    assert missing.json()["status"] == 404
    malformed = await stack.triage.get("/v1/decisions/not-a-uuid", headers=READ)
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["loc"] == ["path", "incident_id"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), (bearer("triage:read"), 403), (bearer("incidents:write"), 403)],
)
async def test_regrading_needs_triage_regrade(
    stack: Stack, headers: dict[str, str], status: int
) -> None:
    url = f"/v1/incidents/{uuid.uuid4()}/regrade"
    answer = await stack.triage.post(url, json=VALID, headers=headers)
    assert answer.status_code == status


async def test_regrading_an_unknown_incident_is_404(stack: Stack) -> None:
    url = f"/v1/incidents/{uuid.uuid4()}/regrade"
    answer = await stack.triage.post(url, json=VALID, headers=REGRADE)
    assert answer.status_code == 404


@pytest.mark.parametrize(
    ("body", "bad"),
    [
        ({"risk_level": "high", "by": "DS 1"}, ["body", "reason"]),
        ({"risk_level": "high", "reason": "why"}, ["body", "by"]),
        ({**VALID, "reason": "   "}, ["body", "reason"]),
        ({**VALID, "risk_level": "critical"}, ["body", "risk_level"]),
        ({**VALID, "colour": "red"}, ["body", "colour"]),
        ({**VALID, "by": 7}, ["body", "by"]),
    ],
)
async def test_a_bad_regrade_body_is_422_naming_the_field(
    stack: Stack, body: dict[str, Any], bad: list[str]
) -> None:
    url = f"/v1/incidents/{uuid.uuid4()}/regrade"
    answer = await stack.triage.post(url, json=body, headers=REGRADE)
    assert answer.status_code == 422, answer.text
    assert bad in [error["loc"] for error in answer.json()["errors"]]


async def test_malformed_json_is_not_a_500(stack: Stack) -> None:
    url = f"/v1/incidents/{uuid.uuid4()}/regrade"
    headers = {**REGRADE, "content-type": "application/json"}
    answer = await stack.triage.post(url, content=b"{not json", headers=headers)
    assert answer.status_code in (400, 422)


async def test_a_regrade_publishes_a_decision_and_a_lower_one_withdraws_nothing(
    stack: Stack,
) -> None:
    async with TopicReader(stack.bootstrap, DECISIONS) as decisions:
        incident_id = await stack.report(unique_victim(), 1, dash=dash_body(yes=3))
        first = await decided(stack, incident_id)
        url = f"/v1/incidents/{incident_id}/regrade"

        up = await stack.triage.post(url, json=VALID, headers=REGRADE)
        assert up.status_code == 202, up.text
        assert up.json()["status"] == "accepted"
        raised = data_of(await decisions.wait_for(decision_for(incident_id, risk_basis="regrade")))
        down = {"risk_level": "standard", "reason": "CRU review", "by": "DS 9"}
        assert (await stack.triage.post(url, json=down, headers=REGRADE)).status_code == 202
        lowered = data_of(
            await decisions.wait_for(
                decision_for(incident_id, risk_basis="regrade", risk_level="standard")
            )
        )

    assert raised["decision_id"] == up.json()["decision_id"]
    assert raised["risk_level"] == "high"
    assert raised["regrade"]["reason"] == VALID["reason"]
    assert raised["regrade"]["by"] == VALID["by"]
    assert raised["marac"]["criteria"] == ["professional_judgement"]
    assert raised["referrals"][: len(first["referrals"])] == first["referrals"]
    assert {"agency": "idva", "reason": "high_risk", "subject": "victim"} in raised["referrals"]
    assert lowered["referrals"] == raised["referrals"]  # a lower re-grade withdraws nothing
    assert (lowered["regrade"]["by"], lowered["dash_score"]) == ("DS 9", 3)
    assert await decided(stack, incident_id) == lowered
    metrics = (await stack.triage.get("/metrics")).text
    assert 'mash_triage_decisions_total{marac_eligible="true",risk_basis="regrade"' in metrics
