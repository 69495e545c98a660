"""Triage logs what it does with incidents (contract section 12): linking an incident to
its victim's or suspect's other incidents as `combined`, deciding again on a later DASH or
a re-grade as `altered`; by triage through its input topic, or by the re-grader through the
API. Handlers against each real database; entries read from the outbox."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mash_tools.testing import TEST_PSEUDONYM_KEY
from shared.envelope import CloudEvent
from shared.topics import INCIDENTS
from tests.integration.kit import keys_of, logged
from tests.integration.triage.kit import dash_event, reported_event, storage_only, unique_victim
from triage import handlers
from triage.consumer import consumers
from triage.handlers import Triage

pytestmark = pytest.mark.postgres
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


async def consume(triage: Triage, event: CloudEvent) -> None:
    async with triage.platform.uow() as session:
        await consumers(triage)[0].handler(session, event)


def suspect() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {
        "person_id": f"S{tag}",
        "given_name": f"Sus{tag}",
        "family_name": f"Pect{tag}",
        "date_of_birth": "1984-11-30",
    }


async def test_an_incident_is_combined_with_its_victims_and_its_suspects_others(
    database_url: str,
) -> None:
    victim, other_victim, shared_suspect = unique_victim(), unique_victim(), suspect()
    async with storage_only(database_url) as triage:
        first = reported_event(T0, victim, suspect=suspect())
        await consume(triage, first)
        assert (await logged(triage.platform)).of("combined") == []  # nobody's history yet
        second = reported_event(T0 + timedelta(days=1), victim, suspect=shared_suspect)
        await consume(triage, second)
        # another victim, the second incident's suspect
        third = reported_event(T0 + timedelta(days=2), other_victim, suspect=shared_suspect)
        await consume(triage, third)
        log = await logged(triage.platform)

    key = TEST_PSEUDONYM_KEY
    by_victim = log.about("combined", second.subject)
    assert by_victim | {"entry_id": None, "at": None, "subjects": None} == {
        "entry_id": None,
        "at": None,
        "subjects": None,
        "service": "triage",
        "operation": "combined",
        "sub": "triage",
        "via": "topic",
        "route": INCIDENTS,
        "resource": "incident",
        "ids": [second.subject, first.subject],
        "recipient": None,
        "status": "ok",
    }
    assert set(by_victim["subjects"]) == keys_of(key, victim, shared_suspect, first.data["suspect"])
    by_suspect = log.about("combined", third.subject)
    assert by_suspect["ids"] == [third.subject, second.subject]
    # both incidents' people: the one combined with the suspect's history is found by hers
    assert set(by_suspect["subjects"]) == keys_of(key, other_victim, victim, shared_suspect)
    log.assert_nothing_personal_of(
        victim, other_victim, shared_suspect, first.data["suspect"], second.data["victim"]
    )


async def test_a_later_dash_and_a_regrade_are_logged_as_altering_the_decision(
    database_url: str,
) -> None:
    victim = unique_victim()
    async with storage_only(database_url) as triage:
        reported = reported_event(T0, victim)
        await consume(triage, reported)
        await consume(triage, dash_event(reported.subject, 16))
        order = handlers.RegradeOrder("standard", "reviewed with the IDVA", "DS 7", "cru-user-9")
        done = await handlers.regrade(triage, uuid.UUID(reported.subject), order, datetime.now(UTC))
        log = await logged(triage.platform)

    people = keys_of(TEST_PSEUDONYM_KEY, victim, reported.data["suspect"])
    by_dash, by_regrade = log.of("altered")
    assert (by_dash["sub"], by_dash["via"], by_dash["route"]) == ("triage", "topic", INCIDENTS)
    assert by_dash["resource"] == "decision"
    assert by_dash["ids"][0] == reported.subject
    assert len(by_dash["ids"]) == 2  # the incident and the decision the DASH made
    assert set(by_dash["subjects"]) == people
    assert (by_regrade["sub"], by_regrade["via"]) == ("cru-user-9", "api")
    assert by_regrade["route"] == "/v1/incidents/{incident_id}/regrade"
    assert by_regrade["ids"] == [reported.subject, str(done.regrade_id), str(done.decision_id)]
    assert set(by_regrade["subjects"]) == people
    log.assert_nothing_personal_of(victim, reported.data["suspect"])
    assert "reviewed with the IDVA" not in log.text


async def test_a_decision_changed_by_a_late_arrival_is_logged_as_altered(
    database_url: str,
) -> None:
    """An earlier incident of the same suspect arriving late (another victim's partition)
    changes the later incident's decision: that change is an alteration too."""
    shared_suspect, later_victim = suspect(), unique_victim()
    async with storage_only(database_url) as triage:
        later = reported_event(T0 + timedelta(days=2), later_victim, suspect=shared_suspect)
        earlier = reported_event(T0, unique_victim(), suspect=shared_suspect)
        await consume(triage, later)
        assert log_of(await logged(triage.platform), later.subject) == []
        await consume(triage, earlier)
        log = await logged(triage.platform)

    [knock_on] = log_of(log, later.subject)
    assert (knock_on["sub"], knock_on["via"], knock_on["resource"]) == (
        "triage",
        "topic",
        "decision",
    )
    assert len(knock_on["ids"]) == 2  # the incident and its new decision
    assert set(knock_on["subjects"]) == keys_of(TEST_PSEUDONYM_KEY, later_victim, shared_suspect)
    assert log_of(log, earlier.subject) == []  # decided once, as it arrived: nothing altered
    log.assert_nothing_personal_of(later_victim, shared_suspect)


def log_of(log: Any, incident_id: str) -> list[dict[str, Any]]:
    return [e for e in log.of("altered") if e["ids"][:1] == [incident_id]]
