"""Triage in the stream: intake and triage run in-process against the real broker, with
triage's database once on SQLite and once on PostgreSQL. Every test uses its own people."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from mash_tools.testing import (
    TEST_PSEUDONYM_KEY,
    TopicReader,
    bearer,
    data_of,
    eventually,
    headers_of,
    kafka_options,
)
from shared.envelope import CloudEvent
from shared.identity import pseudonym
from shared.kafka_security import producer_of
from shared.topics import DECISIONS, INCIDENTS, MARAC
from tests.builders import dash_body
from tests.integration.triage.kit import (
    Stack,
    decision_for,
    listing_event,
    unique_victim,
    without_dip,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
NOW = datetime.now(UTC)


async def test_one_victims_incidents_become_repeat_then_escalation_then_marac(stack: Stack) -> None:
    victim = unique_victim()
    async with (
        TopicReader(stack.bootstrap, DECISIONS) as decisions,
        TopicReader(stack.bootstrap, INCIDENTS) as incidents,
    ):
        seen = []
        for days_ago in (30, 20, 10):
            incident_id = await stack.report(victim, days_ago)
            seen.append(await decisions.wait_for(decision_for(incident_id)))
        reported = await incidents.wait_for(lambda r: headers_of(r)["ce_subject"] == incident_id)

    data = [data_of(r) for r in seen]
    assert [without_dip(d["flags"]) for d in data] == [
        ["not_assessed"],
        ["repeat_victim", "not_assessed"],
        ["repeat_victim", "potential_escalation", "not_assessed"],
    ]
    assert [d["prior_incidents_12m"] for d in data] == [0, 1, 2]
    assert [d["marac"] for d in data] == [
        {"eligible": False, "criteria": []},
        {"eligible": False, "criteria": []},
        {"eligible": True, "criteria": ["potential_escalation"]},
    ]
    assert {"agency": "idva", "reason": "marac", "subject": "victim"} in data[2]["referrals"]
    assert all(d["policy_version"] == "mash-default-1" for d in data)
    # keyed like the incident (the victim's pseudonym), and in the incident's trace
    expected_key = pseudonym(TEST_PSEUDONYM_KEY, f"pid:{victim['person_id'].upper()}").encode()
    assert {r.key for r in seen} == {expected_key}
    assert {headers_of(r)["ce_type"] for r in seen} == {"mash.triage.decided"}
    assert seen[2].key == reported.key
    assert trace_id(seen[2]) == trace_id(reported)


def trace_id(record: Any) -> str:
    return headers_of(record)["traceparent"].split("-")[1]


async def test_a_suspect_with_two_victims_is_flagged(stack: Stack) -> None:
    suspect = unique_victim(given_name="Suspect")
    async with TopicReader(stack.bootstrap, DECISIONS) as decisions:
        first = await stack.report(unique_victim(), 5, suspect=suspect)
        await decisions.wait_for(decision_for(first))
        second = await stack.report(unique_victim(), 4, suspect=suspect)
        record = await decisions.wait_for(decision_for(second))
    first_decision = await stack.triage.get(f"/v1/decisions/{first}", headers=bearer("triage:read"))
    assert "serial_perpetrator" not in first_decision.json()["flags"]
    assert "serial_perpetrator" in data_of(record)["flags"]


async def test_a_marac_listing_makes_the_next_incident_a_repeat_marac(stack: Stack) -> None:
    victim = unique_victim()
    async with TopicReader(stack.bootstrap, DECISIONS) as decisions:
        first = await stack.report(victim, 3)
        await decisions.wait_for(decision_for(first))
        listing = listing_event(victim, NOW, [first])
        await publish(stack.bootstrap, MARAC, victim, listing)
        await eventually(lambda: stack.received(listing.id))
        second = await stack.report(victim, 2)
        record = await decisions.wait_for(decision_for(second))
    assert data_of(record)["marac"] == {"eligible": True, "criteria": ["repeat_marac"]}
    assert {"agency": "idva", "reason": "marac", "subject": "victim"} in data_of(record)[
        "referrals"
    ]


async def publish(bootstrap: str, topic: str, victim: dict[str, Any], event: CloudEvent) -> None:
    """Produce an event as its production writer would (marac for mash.marac.v1): binary-mode
    CloudEvent, keyed by the victim."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **kafka_options(producer_of(topic)))
    await producer.start()
    try:
        key = pseudonym(TEST_PSEUDONYM_KEY, f"pid:{victim['person_id'].upper()}")
        await producer.send_and_wait(
            topic, event.value(), key=key.encode(), headers=event.headers()
        )
    finally:
        await producer.stop()


async def test_a_later_dash_changes_the_decision_and_the_referrals_only_grow(stack: Stack) -> None:
    async with TopicReader(stack.bootstrap, DECISIONS) as decisions:
        incident_id = await stack.report(unique_victim(), 1)
        first = data_of(await decisions.wait_for(decision_for(incident_id)))
        answer = await stack.intake.post(
            f"/v1/incidents/{incident_id}/risk-assessments",
            json=dash_body(yes=15),
            headers=bearer("incidents:write"),
        )
        assert answer.status_code == 202, answer.text
        later = data_of(await decisions.wait_for(decision_for(incident_id, dash_score=15)))
    assert (first["risk_level"], first["risk_basis"]) == ("standard", "not_assessed")
    assert (later["risk_level"], later["risk_basis"]) == ("high", "dash_score")
    assert later["marac"]["criteria"] == ["visible_high_risk"]
    assert later["referrals"][: len(first["referrals"])] == first["referrals"]
    agencies = {(r["agency"], r["reason"]) for r in later["referrals"]}
    assert {("victim-support", "standard_risk"), ("idva", "high_risk")} <= agencies
    assert ("safeguarding-team", "high_risk") in agencies or (
        "safeguarding-team",
        "dip_sample",
    ) in agencies
    current = await stack.triage.get(f"/v1/decisions/{incident_id}", headers=bearer("triage:read"))
    assert current.status_code == 200
    assert current.json() == later
