"""A busy agency's inbox read page by page (contract section 2, issue 19): every page at most
500, the `Link` header leads through all of them with no repeat and no gap, newest first,
and the log of the reads (notify's `mash.audit.notify.v1` entries) names every referral
once per read, at most 500 ids an entry."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from mash_tools.testing import bearer, eventually, running
from notify import repository
from notify.domain.referrals import NewReferral
from shared.topics import audit_topic
from tests.integration.notify.kit import notify_app, publish, referrals_of
from tests.unit.notify import builders

pytestmark = pytest.mark.kafka

HOW_MANY = 1200
READER = bearer("referrals:read:idva")


async def copies_of(app: Any, model: dict[str, Any], count: int) -> list[str]:
    """`count` more referrals for the model's agency, straight into notify's store, with
    few distinct creation times (ties broken by the id, as the cursor must)."""
    platform = app.state.platform
    async with platform.uow() as session:
        entry = await repository.record(session, model["referral_id"])
        assert entry is not None
        base = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
        ids = []
        for i in range(count):
            referral_id = str(uuid.uuid4())
            ids.append(referral_id)
            planned = NewReferral(
                agency=entry.agency,
                subject=entry.subject,
                reason=entry.reason,
                data=entry.data,
                deliver_after=base,
                review_due_at=None,
                due_by=base + timedelta(days=30),
            )
            await repository.add_referral(
                session,
                repository.NewEntry(
                    referral_id=referral_id,
                    referral=planned,
                    incident_id=str(uuid.uuid4()),
                    decision_id=str(uuid.uuid4()),
                    risk_level=entry.risk_level or "high",
                    victim_key=entry.victim_key,
                    created_at=base + timedelta(minutes=i // 4),  # four at each instant
                    clock_policy="test",
                    webhook=None,
                    trace={},
                ),
            )
    return ids


async def consulted(app: Any) -> list[dict[str, Any]]:
    """The log entries of the reads of `/v1/referrals` staged in notify's outbox."""
    platform = app.state.platform
    outbox = platform.tables.outbox
    async with platform.sessions() as session:
        payloads = (
            await session.execute(
                select(outbox.c.payload).where(outbox.c.topic == audit_topic("notify"))
            )
        ).scalars()
        entries = [json.loads(p) for p in payloads]
    return [e for e in entries if e["operation"] == "consulted" and e["route"] == "/v1/referrals"]


async def test_a_1200_referral_inbox_is_read_page_by_page(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    app = notify_app(kafka_bootstrap, database_url, group)
    async with running(app) as client:
        data = builders.decision_data()
        await publish(kafka_bootstrap, data)
        first = await eventually(lambda: referrals_of(client, "idva", data["incident_id"]))
        model = first[0]
        ours = {model["referral_id"]} | set(await copies_of(app, model, HOW_MANY - 1))
        before = {e["entry_id"] for e in await consulted(app)}

        url: str | None = "/v1/referrals?agency=idva&limit=500"
        pages: list[list[dict[str, Any]]] = []
        while url is not None:
            answer = await client.get(url, headers=READER)
            assert answer.status_code == 200, answer.text
            pages.append(answer.json())
            link = answer.headers.get("link")
            url = link[1 : link.index(">")] if link else None
            if url:
                assert link.endswith('>; rel="next"')
                assert url.startswith("/v1/referrals?")
                assert "agency=idva" in url
                assert "limit=500" in url

        assert [len(p) for p in pages] == [500, 500, 200]
        read = [r["referral_id"] for p in pages for r in p]
        assert len(read) == len(set(read)) == HOW_MANY  # no repeat
        assert set(read) == ours  # no gap
        created = [(r["created_at"], r["referral_id"]) for p in pages for r in p]
        assert created == sorted(created, reverse=True)  # newest first, ids breaking ties

        # the log of those three reads: every id, each entry at most 500 ids
        entries = [e for e in await consulted(app) if e["entry_id"] not in before]
        assert len(entries) == 3
        assert all(len(e["ids"]) <= 500 for e in entries)
        logged = [i for e in entries for i in e["ids"]]
        assert sorted(logged) == sorted(read)
        assert {e["sub"] for e in entries} == {"tester"}

        # the default page holds 100
        answer = await client.get("/v1/referrals?agency=idva", headers=READER)
        assert len(answer.json()) == 100
        assert "after=" in answer.headers["link"]
