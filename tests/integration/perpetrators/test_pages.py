"""An area's perpetrators a page at a time, and the whole list as a streamed CSV (contract
sections 2 and 10): highest score first, then the latest incident (none last), the id
breaking ties; every perpetrator once; each read logged, at most 500 ids an entry."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

import perpetrators.app
from mash_tools.testing import bearer, running
from perpetrators import store
from shared.topics import audit_topic
from tests.integration.perpetrators.kit import (
    READ,
    new_area,
    outbox_events,
    perpetrator_settings,
)

pytestmark = pytest.mark.kafka
AT = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def row(area: str, i: int) -> dict[str, Any]:
    """Few distinct scores and incident times, some with no incident at all: many ties."""
    return {
        "perpetrator_id": f"p-{uuid.uuid4().hex}",
        "area": area,
        "given_name": "Sam",
        "family_name": f"Testsuspect{i}",
        "date_of_birth": date(1985, 1, 1),
        "score": 10 + i % 7,
        "recency": 1,
        "frequency": 1,
        "gravity": 1,
        "victims": 1,
        "priority": i % 2 == 0,
        "incidents_24m": 1,
        "victims_count": 1,
        "children_involved": False,
        "last_incident_at": None if i % 5 == 0 else AT + timedelta(days=i % 3),
        "last_incident_id": None,
        "scored_at": AT,
        "policy_version": "test-1",
        "policy_owner": "test",
    }


def order(rows: list[dict[str, Any]]) -> list[str]:
    never = datetime.min.replace(tzinfo=UTC)
    ranked = sorted(rows, key=lambda r: r["perpetrator_id"])
    ranked.sort(key=lambda r: (r["score"], r["last_incident_at"] or never), reverse=True)
    return [r["perpetrator_id"] for r in ranked]


async def test_an_area_list_pages_and_its_csv_streams_every_row_once(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    area = new_area()
    app = perpetrators.app.create_app(perpetrator_settings(kafka_bootstrap, database_url, group))
    async with running(app) as client:
        rows = [row(area, i) for i in range(1100)]
        async with app.state.platform.uow() as session:
            await session.execute(insert(store.perpetrators), rows)

        url: str | None = f"/v1/perpetrators?area={area}&cohort=all&limit=300"
        seen: list[str] = []
        sizes = []
        while url is not None:
            answer = await client.get(url, headers=bearer(*READ))
            assert answer.status_code == 200, answer.text
            sizes.append(len(answer.json()))
            seen += [p["perpetrator_id"] for p in answer.json()]
            link = answer.headers.get("link")
            url = link[1 : link.index(">")] if link else None
        assert sizes == [300, 300, 300, 200]
        assert seen == order(rows)

        priority = await client.get(f"/v1/perpetrators?area={area}", headers=bearer(*READ))
        assert len(priority.json()) == 100  # the default page
        assert all(p["priority"] for p in priority.json())

        before = len(await outbox_events(app, audit_topic("perpetrators")))
        answer = await client.get(
            "/v1/perpetrators.csv", params={"area": area, "cohort": "all"}, headers=bearer(*READ)
        )
        assert answer.status_code == 200
        table = list(csv.DictReader(io.StringIO(answer.text)))
        assert [r["perpetrator_id"] for r in table] == order(rows)
        assert [int(r["position"]) for r in table] == list(range(1, 1101))
        entries = (await outbox_events(app, audit_topic("perpetrators")))[before:]
        ids = [e["data"]["ids"] for e in entries]
        assert [len(i) for i in ids] == [500, 500, 100]  # read and logged 500 at a time
        assert sorted(i for chunk in ids for i in chunk) == sorted(
            r["perpetrator_id"] for r in rows
        )
