"""Issue 21's migrations, on SQLite and PostgreSQL: what the services kept of the equality
monitoring before it left the incident. Marac's 0003 moves the block from its cases'
incidents into its own table (the return counts it the same); triage's 0004 drops it from
the incidents it keeps (each must still read as `IncidentReported`)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from marac import repository as marac_repository
from marac import store as marac_store
from shared.config import ROOT
from shared.db import create_engine
from shared.schemas import IncidentReported
from tests.builders import incident_body
from triage import store as triage_store

EQUALITY = {"sex": "female", "ethnicity": "black", "disability": None, "lgbt": True}


async def upgrade(service: str, url: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "services" / service / "migrations"))
    config.attributes["database_url"] = url
    # the migrations' env runs its own event loop: a worker thread, as `shared.db.migrate`
    await asyncio.to_thread(command.upgrade, config, revision)


def facts(incident_id: str, reported_at: datetime, **extra: Any) -> dict[str, Any]:
    party = {"given_name": "Migvictim", "family_name": "Synthetic", "date_of_birth": None}
    return {
        "incident_id": incident_id,
        "reported_at": reported_at.isoformat(),
        "decided_at": reported_at.isoformat(),
        "criteria": ["visible_high_risk"],
        "risk_level": "high",
        "dash_score": 15,
        "children_count": 0,
        "victim": party,
        "suspect": None,
        "victim_person_id": None,
        **extra,
    }


async def test_marac_moves_the_cases_equality_into_its_own_table(database_url: str) -> None:
    await upgrade("marac", database_url, "0002")
    now = datetime.now(UTC).replace(microsecond=0)
    given, none = str(uuid.uuid4()), str(uuid.uuid4())
    case_id = str(uuid.uuid4())
    incidents = [
        facts(given, now - timedelta(hours=2), equality=EQUALITY),
        facts(none, now - timedelta(hours=1), equality=None),
    ]
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(marac_store.cases).values(
                    case_id=case_id,
                    victim_ref="ref",
                    victim_key="key",
                    area="migarea",
                    status="awaiting_meeting",
                    earliest_date=now.date(),
                    awaiting_since=now,
                    repeat=False,
                    incidents=incidents,
                )
            )
        await upgrade("marac", database_url, "head")
        async with engine.connect() as conn:
            rows = (await conn.execute(select(marac_store.equality_given))).all()
            kept = (
                await conn.execute(
                    select(marac_store.cases.c.incidents).where(
                        marac_store.cases.c.case_id == case_id
                    )
                )
            ).scalar_one()
        assert [(r.incident_id, r.area, r.equality) for r in rows] == [(given, "migarea", EQUALITY)]
        assert [i["incident_id"] for i in kept] == [given, none]
        assert not [i for i in kept if "equality" in i]
        async with AsyncSession(engine) as session:
            assert await marac_repository.equality_of(session, [given, none]) == {given: EQUALITY}
            case = await marac_repository.find_case(session, case_id)
            assert case is not None
            assert [f.incident_id for f in case.incidents] == [given, none]
    finally:
        await engine.dispose()


async def test_triage_drops_the_equality_from_the_incidents_it_keeps(database_url: str) -> None:
    await upgrade("triage", database_url, "0003")
    now = datetime.now(UTC)
    body = incident_body(f"HC-MIG-{uuid.uuid4().hex[:8]}")
    with_it, without = str(uuid.uuid4()), str(uuid.uuid4())
    rows: list[dict[str, Any]] = []
    for incident_id, victim in (
        (with_it, {**body["victim"], "equality": EQUALITY}),
        (without, body["victim"]),
    ):
        incident = {
            **body,
            "victim": victim,
            "incident_id": incident_id,
            "received_at": now.isoformat(),
        }
        rows.append(
            {
                "incident_id": incident_id,
                "victim_key": "k",
                "incident": incident,
                "received_at": now,
            }
        )
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(triage_store.incidents), rows)
        await upgrade("triage", database_url, "head")
        async with engine.connect() as conn:
            found = {
                r.incident_id: r.incident
                for r in (await conn.execute(select(triage_store.incidents))).all()
            }
        assert found[without] == rows[1]["incident"]
        assert found[with_it] == {**rows[0]["incident"], "victim": body["victim"]}
        for incident in found.values():
            IncidentReported.model_validate(incident)
    finally:
        await engine.dispose()
