"""Decisions on the real broker end on the right meeting lists (marac in-process)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

import marac.app
from marac import handlers, repository, store
from marac.domain.listing import Meeting
from mash_tools.testing import TopicReader, bearer, data_of, eventually, headers_of, running
from shared.topics import MARAC
from tests.integration.marac.kit import (
    ADMIN,
    READ,
    DecisionPublisher,
    day,
    decision,
    event_of,
    marac_settings,
    new_area,
    victim,
    victim_key,
)
from tests.integration.triage.kit import listed_keys

pytestmark = pytest.mark.kafka


async def meeting(client: httpx.AsyncClient, area: str, offset: int, capacity: int = 16) -> str:
    answer = await client.post(
        "/v1/meetings",
        json={"area": area, "date": day(offset), "capacity": capacity},
        headers=bearer(*ADMIN),
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["meeting_id"])


async def cases_on(client: httpx.AsyncClient, meeting_id: str) -> list[dict[str, Any]]:
    answer = await client.get(f"/v1/meetings/{meeting_id}/cases", headers=bearer(*READ))
    assert answer.status_code == 200, answer.text
    return list(answer.json())


async def received(app: Any, incident_id: str) -> bool:
    async with app.state.platform.sessions() as session:
        stmt = select(store.messages.inbox).where(store.messages.inbox.c.subject == incident_id)
        return (await session.execute(stmt)).first() is not None


async def waiting(client: httpx.AsyncClient, area: str) -> list[dict[str, Any]]:
    answer = await client.get(
        "/v1/cases", params={"area": area, "status": "awaiting_meeting"}, headers=bearer(*READ)
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json())


async def test_an_eligible_decision_is_listed_on_the_earliest_meeting_after_research(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    area = new_area()
    app = marac.app.create_app(marac_settings(kafka_bootstrap, database_url, group))
    async with running(app) as client, DecisionPublisher(kafka_bootstrap) as triage:
        too_soon = await meeting(client, area, 3)
        first = await meeting(client, area, 7)
        later = await meeting(client, area, 14)
        person = victim(1)
        high = decision(area, person, dash_score=17, children=2)
        medium = decision(area, victim(2), eligible=False, risk_level="medium")
        await triage.publish(medium)
        await triage.publish(high)

        listed = await eventually(lambda: cases_on(client, first))
        await eventually(lambda: received(app, str(medium.incident_id)))
        listed = await cases_on(client, first)
        assert await cases_on(client, too_soon) == []
        assert await cases_on(client, later) == []
        [case] = listed
        assert case["incident_ids"] == [str(high.incident_id)]
        assert case["meeting_id"] == first
        assert case["area"] == area
        assert case["criteria"] == ["visible_high_risk"]
        assert case["risk_level"] == "high"
        assert case["dash_score"] == 17
        assert case["repeat"] is False
        assert case["priority"] == 30 + 17
        assert case["children_count"] == 2
        assert case["victim"] == {
            "given_name": person["given_name"],
            "family_name": person["family_name"],
            "date_of_birth": person["date_of_birth"],
        }
        assert case["suspect"]["family_name"] == "Synthetic"
        assert case["listed_at"]
        meetings = (
            await client.get("/v1/meetings", params={"area": area}, headers=bearer(*READ))
        ).json()
        assert [(m["meeting_id"], m["listed"]) for m in meetings] == [
            (too_soon, 0),
            (first, 1),
            (later, 0),
        ]


async def test_a_new_incident_joins_the_victims_upcoming_case(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    area = new_area()
    app = marac.app.create_app(marac_settings(kafka_bootstrap, database_url, group))
    async with running(app) as client, DecisionPublisher(kafka_bootstrap) as triage:
        first = await meeting(client, area, 7)
        person = victim(3)
        one = decision(area, person, dash_score=14)
        two = decision(
            area,
            {**person, "person_id": None},
            dash_score=18,
            criteria=("visible_high_risk", "potential_escalation"),
        )
        await triage.publish(one)
        await eventually(lambda: cases_on(client, first))
        await triage.publish(two)

        async def joined() -> list[dict[str, Any]] | None:
            cases = await cases_on(client, first)
            return cases if len(cases[0]["incident_ids"]) == 2 else None

        [case] = await eventually(joined)
        assert set(case["incident_ids"]) == {str(one.incident_id), str(two.incident_id)}
        assert case["criteria"] == ["visible_high_risk", "potential_escalation"]
        assert case["dash_score"] == 18
        assert case["priority"] == 30 + 15 + 18 + 5
        [listed] = (
            await client.get("/v1/meetings", params={"area": area}, headers=bearer(*READ))
        ).json()
        assert listed["listed"] == 1


async def test_capacity_overflow_goes_to_the_next_meeting(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    area = new_area()
    app = marac.app.create_app(marac_settings(kafka_bootstrap, database_url, group))
    async with running(app) as client, DecisionPublisher(kafka_bootstrap) as triage:
        small = await meeting(client, area, 6, capacity=2)
        next_one = await meeting(client, area, 20, capacity=2)
        decisions = [decision(area, victim(10 + n)) for n in range(3)]
        for one in decisions:
            await triage.publish(one)

        async def all_listed() -> bool:
            return len(await cases_on(client, small)) + len(await cases_on(client, next_one)) == 3

        await eventually(all_listed)
        on_small = await cases_on(client, small)
        on_next = await cases_on(client, next_one)
        assert len(on_small) == 2
        assert len(on_next) == 1
        listed = {i for c in on_small + on_next for i in c["incident_ids"]}
        assert listed == {str(d.incident_id) for d in decisions}
        by_meeting = await client.get(
            "/v1/cases", params={"area": area, "status": "listed"}, headers=bearer(*READ)
        )
        assert [c["case_id"] for c in by_meeting.json()] == [
            c["case_id"] for c in on_small + on_next
        ]


async def test_a_case_waits_for_a_meeting_with_room_and_is_listed_when_one_is_created(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    area = new_area()
    app = marac.app.create_app(marac_settings(kafka_bootstrap, database_url, group))
    async with (
        running(app) as client,
        DecisionPublisher(kafka_bootstrap) as triage,
        TopicReader(kafka_bootstrap, MARAC) as topic,
    ):
        full = await meeting(client, area, 8, capacity=1)
        await triage.publish(decision(area, victim(20), dash_score=24))
        await eventually(lambda: cases_on(client, full))
        lower = decision(area, victim(21), dash_score=14)
        higher = decision(area, victim(22), dash_score=20, children=1)
        await triage.publish(lower)
        await triage.publish(higher)

        async def both_waiting() -> list[dict[str, Any]] | None:
            found = await waiting(client, area)
            return found if len(found) == 2 else None

        queue = await eventually(both_waiting)
        assert [c["incident_ids"] for c in queue] == [
            [str(higher.incident_id)],
            [str(lower.incident_id)],
        ]
        assert all(c["status"] == "awaiting_meeting" and c["meeting_id"] is None for c in queue)

        created = await meeting(client, area, 15, capacity=1)
        [case] = await cases_on(client, created)
        assert case["incident_ids"] == [str(higher.incident_id)]
        [still] = await waiting(client, area)
        assert still["incident_ids"] == [str(lower.incident_id)]

        record = await topic.wait_for(lambda r: data_of(r)["case_id"] == case["case_id"])
        assert data_of(record)["meeting_id"] == created
        assert data_of(record)["meeting_date"] == day(15)


async def test_a_listing_is_published_as_case_listed_with_the_case(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    area = new_area()
    app = marac.app.create_app(marac_settings(kafka_bootstrap, database_url, group))
    async with (
        running(app) as client,
        DecisionPublisher(kafka_bootstrap) as triage,
        TopicReader(kafka_bootstrap, MARAC) as topic,
    ):
        first = await meeting(client, area, 9)
        person = victim(30)
        high = decision(
            area, person, dash_score=16, children=1, criteria=("visible_high_risk", "repeat_marac")
        )
        await triage.publish(high)
        record = await topic.wait_for(
            lambda r: headers_of(r).get("ce_subject") == str(high.incident_id)
        )
        [case] = await cases_on(client, first)

    headers = headers_of(record)
    assert headers["ce_type"] == "mash.marac.case_listed"
    assert headers["ce_source"] == "/mash/marac"
    assert headers["ce_specversion"] == "1.0"
    assert "traceparent" in headers
    assert record.key.decode() == victim_key(person, high.incident_id)
    data = data_of(record)
    for field in (
        "case_id",
        "meeting_id",
        "area",
        "incident_ids",
        "criteria",
        "risk_level",
        "dash_score",
        "repeat",
        "priority",
        "children_count",
    ):
        assert data[field] == case[field], field
    assert data["meeting_date"] == day(9)
    # the victim as keys, never as a person (contract section 7)
    assert data["victim_keys"] == listed_keys(person)
    assert data["victim_keys"]["person_id"]
    assert data["victim_keys"]["names_dob"]
    assert not {"victim", "suspect", "victim_person_id"} & set(data)
    for value in (person["given_name"], person["family_name"], person["date_of_birth"]):
        assert value not in record.value.decode()
    assert person["person_id"] not in record.value.decode()
    assert datetime.fromisoformat(data["listed_at"]) == datetime.fromisoformat(case["listed_at"])


async def test_a_victim_listed_in_the_year_before_is_a_repeat(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    area = new_area()
    app = marac.app.create_app(marac_settings(kafka_bootstrap, database_url, group))
    async with running(app) as client, DecisionPublisher(kafka_bootstrap) as triage:
        platform = app.state.platform
        person = victim(40)
        past = datetime.now(UTC) - timedelta(days=60)
        # a listing two months ago, made with the clock of that time
        await _list_in_the_past(platform, area, decision(area, person, decided_at=past), past)
        upcoming = await meeting(client, area, 7)
        again = decision(area, {**person, "person_id": None}, dash_score=14)
        await triage.publish(again)
        [case] = await eventually(lambda: cases_on(client, upcoming))
        assert case["incident_ids"] == [str(again.incident_id)]
        assert case["repeat"] is True
        assert case["priority"] == 30 + 14 + 15


async def _list_in_the_past(platform: Any, area: str, data: Any, then: datetime) -> None:
    held = Meeting(str(uuid.uuid4()), area, then.date() + timedelta(days=7), 16, 0)
    async with platform.uow() as session:
        assert await repository.add_meeting(session, held, "test", then)
    async with platform.uow() as session:
        await handlers.on_triage_decided(platform, session, data, event_of(data), then)
    async with platform.sessions() as session:
        [case] = await repository.cases_on(session, held.meeting_id)
    assert case.incidents[0].incident_id == str(data.incident_id)
