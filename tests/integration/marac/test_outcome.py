"""A meeting's outcome (contract section 6): discussed cases closed and counted as past
listings for the repeat rule; deferred ones first in line for the next meeting with room."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

import marac.app
import marac.handlers
from mash_tools.testing import TopicReader, bearer, data_of, eventually, headers_of, running
from shared.topics import MARAC, MARAC_CASE_CLOSED
from tests.integration.marac.kit import (
    ADMIN,
    READ,
    day,
    marac_settings,
    new_area,
    refer_scope,
    referral_body,
    victim,
)

pytestmark = pytest.mark.kafka
LOW = {"criteria": ["potential_escalation"], "dash": None}  # priority 15
HIGH: dict[str, Any] = {}  # visible high risk, 15 yes answers: priority 45


@pytest.fixture
async def client(kafka_bootstrap: str, database_url: str, group: str) -> Any:
    # no research period, so that a meeting today can hold cases
    settings = marac_settings(kafka_bootstrap, database_url, group, research_days=0)
    async with running(marac.app.create_app(settings)) as client:
        yield client


async def meeting(client: httpx.AsyncClient, area: str, offset: int, capacity: int) -> str:
    answer = await client.post(
        "/v1/meetings",
        json={"area": area, "date": day(offset), "capacity": capacity},
        headers=bearer(*ADMIN),
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["meeting_id"])


async def refer(client: httpx.AsyncClient, area: str, person: dict[str, Any], **form: Any) -> None:
    answer = await client.post(
        "/v1/marac-referrals",
        json=referral_body(area, person, **form),
        headers=bearer(*refer_scope("health")),
    )
    assert answer.status_code == 202, answer.text


async def case_ids_on(client: httpx.AsyncClient, meeting_id: str) -> list[str]:
    answer = await client.get(f"/v1/meetings/{meeting_id}/cases", headers=bearer(*READ))
    return [c["case_id"] for c in answer.json()]


async def case(client: httpx.AsyncClient, case_id: str) -> dict[str, Any]:
    answer = await client.get(f"/v1/cases/{case_id}", headers=bearer(*READ))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def outcome(client: httpx.AsyncClient, meeting_id: str, body: Any) -> httpx.Response:
    return await client.post(
        f"/v1/meetings/{meeting_id}/outcome", json=body, headers=bearer(*ADMIN)
    )


async def test_discussed_cases_close_and_deferred_ones_go_first_on_the_next_meeting(
    client: httpx.AsyncClient, kafka_bootstrap: str
) -> None:
    area = new_area()
    today = await meeting(client, area, 0, capacity=2)
    one, two, three = victim(91), victim(92), victim(93)
    await refer(client, area, one, **LOW)
    await refer(client, area, two, **LOW)
    await refer(client, area, three, **HIGH)  # no room today: waits, ahead on priority
    discussed, deferred = await case_ids_on(client, today)
    [waiting] = (
        await client.get(
            "/v1/cases", params={"area": area, "status": "awaiting_meeting"}, headers=bearer(*READ)
        )
    ).json()
    assert waiting["priority"] > (await case(client, deferred))["priority"]

    async with TopicReader(kafka_bootstrap, MARAC) as topic:
        answer = await outcome(client, today, {"discussed": [discussed], "deferred": [deferred]})
        assert answer.status_code == 200, answer.text

        async def closed() -> list[Any] | None:
            await topic.poll()
            found = [r for r in topic.records if headers_of(r)["ce_type"] == MARAC_CASE_CLOSED]
            return found or None

        [event] = await eventually(closed)
    assert data_of(event) | {"closed_at": None} == {
        "case_id": discussed,
        "meeting_id": today,
        "meeting_date": day(0),
        "area": area,
        "outcome": "discussed",
        "closed_at": None,
        "research_before_meeting": [],
    }
    assert (await case(client, discussed))["status"] == "closed"
    assert (await case(client, deferred))["status"] == "awaiting_meeting"
    again = await outcome(client, today, {"discussed": [discussed], "deferred": [deferred]})
    assert again.status_code == 409

    # the next meeting has room for one: the deferred case, though the other ranks higher
    following = await meeting(client, area, 7, capacity=1)
    assert await case_ids_on(client, following) == [deferred]
    assert (await case(client, waiting["case_id"]))["status"] == "awaiting_meeting"

    # a discussed case is a past MARAC listing: the victim referred again is a repeat
    await refer(client, area, {**one, "person_id": None}, **LOW)
    cases = (
        await client.get(
            "/v1/cases", params={"area": area, "status": "awaiting_meeting"}, headers=bearer(*READ)
        )
    ).json()
    [again_case] = [c for c in cases if c["case_id"] not in (waiting["case_id"], discussed)]
    assert again_case["repeat"] is True
    assert (await case(client, waiting["case_id"]))["repeat"] is False


async def test_an_outcome_names_every_case_on_the_list_once(client: httpx.AsyncClient) -> None:
    area = new_area()
    today = await meeting(client, area, 0, capacity=3)
    later = await meeting(client, area, 5, capacity=3)
    for n in (94, 95):
        await refer(client, area, victim(n), **LOW)
    a, b = await case_ids_on(client, today)
    stranger = "00000000-0000-4000-8000-000000000000"
    for body, loc in [
        ({"discussed": [a]}, ["body"]),
        ({"discussed": [a, b], "deferred": [a]}, ["body", "deferred", 0]),
        ({"discussed": [a, a, b]}, ["body", "discussed", 1]),
        ({"discussed": [a, b, stranger]}, ["body", "discussed", 2]),
        ({"discussed": [a, b], "extra": []}, ["body", "extra"]),
        ({"discussed": ["not-a-uuid"]}, ["body", "discussed", 0]),
    ]:
        answer = await outcome(client, today, body)
        assert answer.status_code == 422, (body, answer.text)
        assert loc in [e["loc"] for e in answer.json()["errors"]], answer.text
    assert (await case(client, a))["status"] == "listed"
    assert (await outcome(client, later, {})).status_code == 409  # still to come
    assert (await outcome(client, stranger, {})).status_code == 404
    refused = await client.post(
        f"/v1/meetings/{today}/outcome", json={"discussed": [a, b]}, headers=bearer(*READ)
    )
    assert refused.status_code == 403
    assert (await outcome(client, today, {"discussed": [a, b]})).status_code == 200
    assert {(await case(client, c))["status"] for c in (a, b)} == {"closed"}


async def test_a_meeting_held_takes_no_more_cases_though_it_has_places_left(
    client: httpx.AsyncClient,
) -> None:
    """With no research period a case may go on a meeting today; once its outcome is
    recorded, a later referral waits for the next meeting instead (mash demo closes a
    meeting today, then refers again on a second run)."""
    area = new_area()
    today = await meeting(client, area, 0, capacity=3)
    await refer(client, area, victim(98), **LOW)
    [first] = await case_ids_on(client, today)
    assert (await outcome(client, today, {"discussed": [first]})).status_code == 200
    await refer(client, area, victim(99), **HIGH)
    assert await case_ids_on(client, today) == [first]
    [waiting] = (
        await client.get(
            "/v1/cases", params={"area": area, "status": "awaiting_meeting"}, headers=bearer(*READ)
        )
    ).json()
    following = await meeting(client, area, 2, capacity=3)
    assert await case_ids_on(client, following) == [waiting["case_id"]]
    assert await case_ids_on(client, today) == [first]


async def test_a_closed_case_names_the_agencies_whose_research_came_before_the_meeting(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    """Only agencies, never what they found: the console counts them (issue 21)."""
    settings = marac_settings(kafka_bootstrap, database_url, group, research_days=0)
    app = marac.app.create_app(settings)
    area = new_area()
    async with running(app) as client, TopicReader(kafka_bootstrap, MARAC) as topic:
        meeting_id = await meeting(client, area, 3, capacity=2)
        await refer(client, area, victim(96), **LOW)
        await refer(client, area, victim(97), **LOW)
        researched, other = await case_ids_on(client, meeting_id)
        for agency in ("police", "housing"):
            answer = await client.put(
                f"/v1/cases/{researched}/research/{agency}",
                json={"known": True, "summary": "Synthetic.", "completed_by": "Officer 1"},
                headers=bearer(f"marac:act:{agency}"),
            )
            assert answer.status_code == 200, answer.text
        # the meeting held three days on (the clock moved, not waited for)
        held = datetime.now(UTC) + timedelta(days=3, hours=1)
        found = await marac.handlers.record_outcome(
            app.state.platform, meeting_id, [researched, other], [], "coordinator", "/t", held
        )
        assert found is not None

        async def closed() -> dict[str, Any] | None:
            await topic.poll()
            events = [
                data_of(r)
                for r in topic.records
                if headers_of(r)["ce_type"] == MARAC_CASE_CLOSED
                and data_of(r)["meeting_id"] == meeting_id
            ]
            return {e["case_id"]: e for e in events} if len(events) == 2 else None

        events = await eventually(closed)
    assert events[researched]["research_before_meeting"] == ["housing", "police"]
    assert events[other]["research_before_meeting"] == []
    assert "Synthetic." not in str(events)
