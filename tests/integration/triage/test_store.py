"""Triage's handlers against each real database (SQLite and PostgreSQL): people on record by
pseudonym, decisions kept in versions, the outbox, re-grades and concurrency."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select

from shared.db import utc
from shared.envelope import CloudEvent
from shared.identity import identify
from shared.kafka import PoisonMessage
from shared.schemas import IncidentReported
from shared.topics import DECISIONS
from tests.builders import dash_body
from tests.integration.triage.kit import (
    dash_event,
    listing_event,
    reported_event,
    storage_only,
    unique_victim,
)
from triage import handlers, repository, store
from triage.consumer import consumers
from triage.handlers import Triage

pytestmark = pytest.mark.postgres
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


async def consume(triage: Triage, event: CloudEvent) -> None:
    """What the consumer loop does with one event: the handler in one transaction."""
    handle = consumers(triage)[0].handler
    async with triage.platform.uow() as session:
        await handle(session, event)


async def decision(triage: Triage, incident_id: str) -> dict[str, Any]:
    async with triage.platform.sessions() as session:
        found = await repository.current_decision(session, incident_id)
    assert found is not None
    return found.model_dump(mode="json")


async def outbox(triage: Triage, incident_id: str) -> list[Any]:
    async with triage.platform.sessions() as session:
        stmt = select(store.messages.outbox).where(store.messages.outbox.c.topic == DECISIONS)
        rows = (await session.execute(stmt)).all()
    return [r for r in rows if json.loads(r.payload)["incident_id"] == incident_id]


async def test_decisions_are_kept_in_versions_and_staged_on_the_outbox(database_url: str) -> None:
    async with storage_only(database_url) as triage:
        reported = reported_event(T0, unique_victim())
        await consume(triage, reported)
        await consume(triage, dash_event(reported.subject, 15))

        latest = await decision(triage, reported.subject)
        assert (latest["risk_level"], latest["dash_score"]) == ("high", 15)
        assert latest["incident"]["control_room_ref"] == reported.data["control_room_ref"]
        async with triage.platform.sessions() as session:
            versions = (
                await session.execute(
                    select(store.decisions.c.version)
                    .where(store.decisions.c.incident_id == reported.subject)
                    .order_by(store.decisions.c.version)
                )
            ).scalars()
            assert list(versions) == [1, 2]
        staged = await outbox(triage, reported.subject)
        assert [r.topic for r in staged] == [DECISIONS, DECISIONS]
        assert {r.key for r in staged} == {(await _key(triage, reported.subject))}
        assert [json.loads(r.payload)["risk_basis"] for r in staged] == [
            "not_assessed",
            "dash_score",
        ]


async def _key(triage: Triage, incident_id: str) -> str:
    async with triage.platform.sessions() as session:
        known = await repository.find_incident(session, incident_id)
    assert known is not None
    return known.victim_key


async def test_the_people_tables_hold_pseudonyms_not_names(database_url: str) -> None:
    victim = unique_victim()
    async with storage_only(database_url) as triage:
        reported = reported_event(T0, victim)
        await consume(triage, reported)
        await consume(triage, listing_event(victim, T0, [reported.subject]))
        async with triage.platform.sessions() as session:
            rows = [
                *(await session.execute(select(store.incident_people))).all(),
                *(await session.execute(select(store.marac_listings))).all(),
            ]
        stored = json.dumps([list(r) for r in rows], default=str)
        for personal in (victim["person_id"], victim["given_name"], "Testsuspect", "1990-04-01"):
            assert personal not in stored


async def test_repeat_victim_is_found_across_identity_forms(database_url: str) -> None:
    victim = unique_victim()
    without_id = {k: v for k, v in victim.items() if k != "person_id"}
    async with storage_only(database_url) as triage:
        first = reported_event(T0, victim)
        second = reported_event(T0 + timedelta(days=30), without_id)
        third = reported_event(T0 + timedelta(days=60), victim)
        for event in (first, second, third):
            await consume(triage, event)
        flags = [
            [f for f in (await decision(triage, e.subject))["flags"] if f != "dip_sample"]
            for e in (first, second, third)
        ]
        assert flags == [
            ["not_assessed"],
            ["repeat_victim", "not_assessed"],
            ["repeat_victim", "potential_escalation", "not_assessed"],
        ]
        assert (await decision(triage, third.subject))["marac"] == {
            "eligible": True,
            "criteria": ["potential_escalation"],
        }


async def test_concurrent_incidents_of_one_victim_see_each_other(database_url: str) -> None:
    """One report with a person id, one without: different Kafka keys, maybe different
    partitions and instances. Whichever commits second must count the first."""
    async with storage_only(database_url) as triage:
        for _ in range(3):
            victim = unique_victim()
            without_id = {k: v for k, v in victim.items() if k != "person_id"}
            one, other = reported_event(T0, victim), reported_event(T0, without_id)
            await asyncio.gather(consume(triage, one), consume(triage, other))
            repeats = [
                "repeat_victim" in (await decision(triage, e.subject))["flags"]
                for e in (one, other)
            ]
            assert sorted(repeats) == [False, True]


async def test_a_suspect_with_two_victims_is_a_serial_perpetrator(database_url: str) -> None:
    suspect = unique_victim(given_name="Sus")
    async with storage_only(database_url) as triage:
        first = reported_event(T0, unique_victim(), suspect=suspect)
        again = reported_event(T0 + timedelta(days=1), first.data["victim"], suspect=suspect)
        other = reported_event(T0 + timedelta(days=2), unique_victim(), suspect=suspect)
        for event in (first, again, other):
            await consume(triage, event)
        serial = [
            "serial_perpetrator" in (await decision(triage, e.subject))["flags"]
            for e in (first, again, other)
        ]
        assert serial == [False, False, True]


async def test_a_marac_listing_makes_the_next_incident_a_repeat_marac(database_url: str) -> None:
    victim = unique_victim()
    async with storage_only(database_url) as triage:
        first = reported_event(T0, victim)
        await consume(triage, first)
        # listed days after the incident, but counted from the referral: the incident
        await consume(triage, listing_event(victim, T0 + timedelta(days=9), [first.subject]))
        await consume(triage, dash_event(first.subject, 3))  # its own listing is no repeat
        later = reported_event(T0 + timedelta(days=2), victim)
        await consume(triage, later)
        assert (await decision(triage, first.subject))["marac"]["criteria"] == []
        assert (await decision(triage, later.subject))["marac"]["criteria"] == ["repeat_marac"]


async def test_a_regrade_is_recorded_and_keeps_earlier_referrals(database_url: str) -> None:
    async with storage_only(database_url) as triage:
        reported = reported_event(T0, unique_victim())
        await consume(triage, reported)
        await consume(triage, dash_event(reported.subject, 16))
        before = (await decision(triage, reported.subject))["referrals"]
        order = handlers.RegradeOrder("standard", "reviewed with the IDVA", "DS 7", "cru-user")
        at = datetime.now(UTC)
        done = await handlers.regrade(triage, uuid.UUID(reported.subject), order, at)

        latest = await decision(triage, reported.subject)
        assert latest["decision_id"] == str(done.decision_id)
        assert (latest["risk_level"], latest["risk_basis"]) == ("standard", "regrade")
        assert latest["regrade"]["by"] == "DS 7"
        assert latest["regrade"]["reason"] == "reviewed with the IDVA"
        assert {"idva", "safeguarding-team"} <= {r["agency"] for r in before}
        assert latest["referrals"][: len(before)] == before  # nothing withdrawn
        assert {r["agency"] for r in latest["referrals"]} == {
            "idva",
            "safeguarding-team",
            "victim-support",
        }
        async with triage.platform.sessions() as session:
            row = (await session.execute(select(store.regrades))).one()
        assert (row.by, row.principal, row.risk_level) == ("DS 7", "cru-user", "standard")
        assert utc(row.at) == at


async def test_regrading_an_unknown_incident_is_refused(database_url: str) -> None:
    async with storage_only(database_url) as triage:
        order = handlers.RegradeOrder("high", "r", "b", "p")
        with pytest.raises(handlers.UnknownIncident):
            await handlers.regrade(triage, uuid.uuid4(), order, datetime.now(UTC))


async def test_the_same_incident_under_a_new_event_id_decides_nothing_new(
    database_url: str,
) -> None:
    async with storage_only(database_url) as triage:
        reported = reported_event(T0, unique_victim())
        await consume(triage, reported)
        replay = CloudEvent(
            str(uuid.uuid4()), reported.source, reported.type, reported.subject, reported.data
        )
        await consume(triage, replay)
        async with triage.platform.sessions() as session:
            count = await session.scalar(
                select(func.count()).where(store.decisions.c.incident_id == reported.subject)
            )
        assert count == 1


async def test_a_dash_for_an_unknown_incident_is_poison(database_url: str) -> None:
    async with storage_only(database_url) as triage:
        with pytest.raises(PoisonMessage):
            await consume(triage, dash_event(str(uuid.uuid4()), 3))


async def test_a_regrade_stays_in_force_when_a_later_dash_arrives(database_url: str) -> None:
    async with storage_only(database_url) as triage:
        reported = reported_event(T0, unique_victim())
        await consume(triage, reported)
        order = handlers.RegradeOrder("high", "known history", "DS 7", "cru-user")
        await handlers.regrade(triage, uuid.UUID(reported.subject), order, datetime.now(UTC))
        await consume(triage, dash_event(reported.subject, 2))
        latest = await decision(triage, reported.subject)
        assert (latest["risk_level"], latest["risk_basis"], latest["dash_score"]) == (
            "high",
            "regrade",
            2,
        )
        assert "not_assessed" not in latest["flags"]


async def versions(triage: Triage, incident_id: str) -> int:
    async with triage.platform.sessions() as session:
        return int(
            (
                await session.execute(
                    select(func.count())
                    .select_from(store.decisions)
                    .where(store.decisions.c.incident_id == incident_id)
                )
            ).scalar_one()
        )


async def test_a_serial_perpetrators_earlier_incident_arriving_late_flags_the_later_one(
    database_url: str,
) -> None:
    """Different victims travel on different partitions: the later report may come first."""
    suspect = unique_victim(given_name="Sus")
    async with storage_only(database_url) as triage:
        later = reported_event(T0 + timedelta(days=2), unique_victim(), suspect=suspect)
        earlier = reported_event(T0, unique_victim(), suspect=suspect)
        await consume(triage, later)
        assert "serial_perpetrator" not in (await decision(triage, later.subject))["flags"]
        await consume(triage, earlier)
        assert "serial_perpetrator" in (await decision(triage, later.subject))["flags"]
        assert "serial_perpetrator" not in (await decision(triage, earlier.subject))["flags"]
        published = await outbox(triage, later.subject)
        assert len(published) == 2  # the first decision, and the corrected one
        assert "serial_perpetrator" in json.loads(published[-1].payload)["flags"]


async def test_incidents_arriving_in_date_order_are_decided_once_each(database_url: str) -> None:
    suspect, victim = unique_victim(given_name="Sus"), unique_victim()
    async with storage_only(database_url) as triage:
        events = [reported_event(T0 + timedelta(days=d), victim, suspect=suspect) for d in range(4)]
        for event in events:
            await consume(triage, event)
        assert [await versions(triage, e.subject) for e in events] == [1, 1, 1, 1]


async def test_a_marac_listing_arriving_after_the_next_incident_makes_it_a_repeat_marac(
    database_url: str,
) -> None:
    victim = unique_victim()
    async with storage_only(database_url) as triage:
        first = reported_event(T0, victim)
        later = reported_event(T0 + timedelta(days=2), victim)
        await consume(triage, first)
        await consume(triage, later)
        assert (await decision(triage, later.subject))["marac"]["criteria"] == []
        await consume(triage, listing_event(victim, T0 + timedelta(days=9), [first.subject]))
        assert (await decision(triage, later.subject))["marac"]["criteria"] == ["repeat_marac"]
        assert (await decision(triage, first.subject))["marac"]["criteria"] == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"dash": dash_body(15)},  # a DASH at the scene
        {"suspect": None},  # no suspect
        {"suspect": {"given_name": "Unknown", "family_name": "Unknown"}},  # matches nobody
    ],
    ids=["dash", "no-suspect", "unidentifiable-suspect"],
)
async def test_a_new_incident_as_stored_is_the_incident_as_read_back(
    database_url: str, overrides: dict[str, Any]
) -> None:
    """Triage decides on a new incident from what it stored, without reading it again:
    that must be exactly what reading it back gives (a later DASH or re-grade reads it)."""
    plus_one = timezone(timedelta(hours=1))
    reported = reported_event(T0.astimezone(plus_one), unique_victim(), **overrides)
    incident = IncidentReported.model_validate(reported.data)
    async with storage_only(database_url) as triage:
        victim = identify(triage.secret, incident.victim)
        suspect = identify(triage.secret, incident.suspect) if incident.suspect else None
        async with triage.platform.uow() as session:
            stored = await repository.add_incident(
                session, incident, "the-key", victim, suspect, T0
            )
        async with triage.platform.sessions() as session:
            found = await repository.find_incident(session, reported.subject)
    assert found == stored
