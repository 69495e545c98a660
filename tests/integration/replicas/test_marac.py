"""MARAC as two replicas on PostgreSQL, listing at once: decisions for one area arrive on
every partition (a victim reported with and without a person id travels under two keys,
so two replicas may list them at the same moment), one replica is SIGKILLed mid-stream
and another started, and two new meetings are arranged on the two replicas at once, each
then listing waiting cases. No meeting is ever over capacity, no victim is ever listed
twice, every eligible incident is in exactly one case, and every listing is announced."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from marac.config import ScheduledMeetings
from mash_tools.testing import TopicReader, bearer, create_database, data_of, eventually
from shared.topics import DECISIONS, MARAC
from tests.integration.kit import TopicPublisher
from tests.integration.marac.kit import decision, event_of, new_area, victim, victim_key
from tests.integration.replicas.kit import replicas, start_at_end

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
VICTIMS, RETURNING = 30, 10
READ, ADMIN = bearer("marac:read"), bearer("marac:admin")


def without_id(person: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in person.items() if k != "person_id"}


async def test_two_marac_replicas_never_overfill_nor_double_list(
    kafka_bootstrap: str, postgres_server: str, tmp_path: Path
) -> None:
    area = new_area()
    schedule = [ScheduledMeetings(area=area, weekday="tuesday", every_weeks=1, capacity=3)]
    people = [victim(n) for n in range(VICTIMS)]
    # the first RETURNING victims come back, half of them without their person id
    decisions = [decision(area, p) for p in people] + [
        decision(area, p if n % 2 else without_id(p)) for n, p in enumerate(people[:RETURNING])
    ]
    url = await create_database(postgres_server)
    group = f"mash-marac-replicas-{uuid.uuid4().hex[:8]}"
    await start_at_end(kafka_bootstrap, "marac", group, [DECISIONS])
    schedule_json = "[" + ",".join(s.model_dump_json() for s in schedule) + "]"
    with replicas(
        "marac", kafka_bootstrap, url, group, tmp_path, MARAC_SCHEDULE=schedule_json
    ) as marac:
        marac.start(2)
        async with (
            TopicReader(kafka_bootstrap, MARAC) as listings,
            TopicPublisher(kafka_bootstrap, DECISIONS) as triage,
            httpx.AsyncClient(timeout=10) as http,
        ):
            for data in decisions:
                person = data.incident.victim.model_dump(mode="json")
                await triage.send(victim_key(person, data.incident_id), event_of(data))

            async def cases() -> list[dict[str, Any]]:
                answer = await http.get(
                    f"{marac.url(1)}/v1/cases", params={"area": area}, headers=READ
                )
                assert answer.status_code == 200
                return list(answer.json())

            async def some_listed() -> bool:
                return len(await cases()) >= VICTIMS // 3

            await eventually(some_listed, timeout=120)
            marac.kill(0)
            marac.add()
            marac.wait_ready()

            async def every_incident_in_a_case() -> bool:
                found = await cases()
                return sum(len(c["incident_ids"]) for c in found) == len(decisions)

            await eventually(every_incident_in_a_case, timeout=180, interval=0.5)
            waiting = [c for c in await cases() if c["status"] == "awaiting_meeting"]
            assert waiting, "the stream must leave cases waiting for the new meetings"

            # two replicas arrange a meeting each at the same moment, and list at once
            far = datetime.now(UTC).date() + timedelta(days=80)
            answers = await asyncio.gather(
                *(
                    http.post(
                        f"{marac.url(i)}/v1/meetings",
                        json={
                            "area": area,
                            "date": (far + timedelta(days=i)).isoformat(),
                            "capacity": 3,
                        },
                        headers=ADMIN,
                    )
                    for i in (1, 2)
                )
            )
            assert [a.status_code for a in answers] == [201, 201]

            final = await cases()
            meetings = (
                await http.get(f"{marac.url(1)}/v1/meetings", params={"area": area}, headers=READ)
            ).json()
            listed = [c for c in final if c["status"] == "listed"]

            async def all_announced() -> bool:
                await listings.poll()
                announced = {data_of(r)["case_id"] for r in listings.records}
                return {c["case_id"] for c in listed} <= announced

            await eventually(all_announced, timeout=60, interval=0.5)

    # every eligible incident in exactly one case, one case per victim
    incidents = Counter(i for c in final for i in c["incident_ids"])
    assert set(incidents) == {str(d.incident_id) for d in decisions}
    assert set(incidents.values()) == {1}
    assert len(final) == VICTIMS
    # no meeting over capacity; its count is its list; nobody twice on one meeting
    for meeting in meetings:
        on_it = [c for c in listed if c["meeting_id"] == meeting["meeting_id"]]
        assert meeting["listed"] <= meeting["capacity"]
        assert meeting["listed"] == len(on_it)
        people_on_it = [(c["victim"]["given_name"], c["victim"]["date_of_birth"]) for c in on_it]
        assert len(set(people_on_it)) == len(people_on_it)
    # the waiting cases took the new meetings' places, and only as many as there were
    assert len(listed) == min(
        VICTIMS, sum(m["capacity"] for m in meetings if m["date"] >= _earliest())
    )
    # each listing announced once per case listed (a retry of the relay may send one again)
    announced = Counter(
        data_of(r)["case_id"] for r in listings.records if data_of(r)["area"] == area
    )
    assert set(announced) == {c["case_id"] for c in listed}


def _earliest() -> str:
    """The first date a decision made today can be listed for (research_days, 5)."""
    return (datetime.now(UTC).date() + timedelta(days=5)).isoformat()
