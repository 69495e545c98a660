"""Marac's lists a page at a time (contract section 2): the `Link` headers lead through every
case and meeting once, in the lists' documented orders (the waiting queue, then meetings by
date in agenda order), and each page's read logs that page's cases only."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

import marac.app
from marac import repository
from marac.domain.listing import MaracCase, agenda, waiting_queue
from mash_tools.testing import bearer, running
from shared.topics import audit_topic
from tests.integration.marac.kit import marac_settings, new_area
from tests.unit.marac.builders import NOW, TODAY, case, facts, meeting

pytestmark = pytest.mark.kafka
READ = bearer("marac:read")


def incidents(n: int, dash: int, children: int) -> tuple[Any, ...]:
    return tuple(
        facts(str(uuid.uuid4()), dash_score=dash, children_count=children) for _ in range(n)
    )


async def walk(client: httpx.AsyncClient, url: str) -> tuple[list[list[dict[str, Any]]], int]:
    """Every page from `url` on, following `Link: rel="next"`."""
    pages = []
    next_url: str | None = url
    while next_url is not None:
        answer = await client.get(next_url, headers=READ)
        assert answer.status_code == 200, answer.text
        pages.append(answer.json())
        link = answer.headers.get("link")
        next_url = link[1 : link.index(">")] if link else None
    return pages, len(pages)


async def seeded(app: Any, area: str) -> list[MaracCase]:
    """Three meetings and 40 cases (some waiting), with tied priorities and both groups."""
    days = [TODAY + timedelta(days=d) for d in (7, 14, 21)]
    made = []
    async with app.state.platform.uow() as session:
        rows = []
        for day in days:
            m = replace(meeting(str(uuid.uuid4()), day, capacity=20), area=area)
            await repository.add_meeting(session, m, "api", NOW)
            rows.append(m)
        for i in range(40):
            on = rows[i % 3] if i % 4 else None  # a quarter wait for a meeting
            c = case(
                str(uuid.uuid4()),
                victim_ref=f"v-{uuid.uuid4()}",
                area=area,
                status="listed" if on else "awaiting_meeting",
                meeting_id=on.meeting_id if on else None,
                meeting_date=on.date if on else None,
                listed_at=NOW + timedelta(minutes=i % 5) if on else None,
                awaiting_since=NOW + timedelta(minutes=i % 3),
                incidents=incidents(1 + i % 2, dash=14 + i % 3, children=i % 2),
            )
            await repository.insert_case(session, c, "victim-key")
            made.append(c)
    return made


async def consulted_ids(app: Any) -> list[list[str]]:
    platform = app.state.platform
    outbox = platform.tables.outbox
    async with platform.sessions() as session:
        stmt = (
            select(outbox.c.payload)
            .where(outbox.c.topic == audit_topic("marac"))
            .order_by(outbox.c.id)
        )
        payloads = (await session.execute(stmt)).scalars()
        entries = [json.loads(p) for p in payloads]
    return [e["ids"] for e in entries if e["operation"] == "consulted"]


async def test_marac_lists_page_through_every_case_once_in_order(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    area = new_area()
    app = marac.app.create_app(marac_settings(kafka_bootstrap, database_url, group))
    async with running(app) as client:
        made = await seeded(app, area)
        listed = sorted(
            agenda(c for c in made if c.status == "listed"),
            key=lambda c: (c.meeting_date, c.meeting_id),
        )
        expected = [c.case_id for c in [*waiting_queue(made), *listed]]

        before = len(await consulted_ids(app))
        pages, count = await walk(client, f"/v1/cases?area={area}&limit=7")
        assert count == 6
        assert all(len(p) <= 7 for p in pages)
        assert [c["case_id"] for p in pages for c in p] == expected
        logged = (await consulted_ids(app))[before:]
        assert logged == [[c["case_id"] for c in p] for p in pages]  # a page, an entry

        for size in (1, 3, 11, 100):  # pages across the queue's end and meetings' ends
            pages, _ = await walk(client, f"/v1/cases?area={area}&limit={size}")
            assert [c["case_id"] for p in pages for c in p] == expected, size
        on_meetings, _ = await walk(client, f"/v1/cases?area={area}&status=listed&limit=4")
        assert [c["case_id"] for p in on_meetings for c in p] == [c.case_id for c in listed]

        waiting, _ = await walk(client, f"/v1/cases?area={area}&status=awaiting_meeting&limit=4")
        assert [c["case_id"] for p in waiting for c in p] == [
            c.case_id for c in waiting_queue(made)
        ]

        meetings, count = await walk(client, f"/v1/meetings?area={area}&limit=2")
        assert count == 2
        dates = [m["date"] for p in meetings for m in p]
        assert dates == sorted(dates)
        assert len(dates) == 3

        for m in (m for p in meetings for m in p):
            cases, _ = await walk(client, f"/v1/meetings/{m['meeting_id']}/cases?limit=3")
            on = [c for c in made if c.meeting_id == m["meeting_id"]]
            assert [c["case_id"] for p in cases for c in p] == [c.case_id for c in agenda(on)]
