"""The outbox purge is erasure (contract section 12): each deletion of published events is
logged as `erased`, with the event ids (at most 500 an entry), in the same transaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from shared.outbox import OutboxRelay
from shared.topics import INCIDENTS, audit_topic, referrals_topic
from tests.integration.kit import Kit


def row(event_id: str, topic: str, type_: str, published: datetime | None) -> dict[str, Any]:
    created = published or datetime.now(UTC) - timedelta(days=40)
    return {
        "event_id": event_id,
        "topic": topic,
        "key": "k",
        "headers": {"ce_type": type_, "ce_id": event_id},
        "payload": '{"given_name": "personal data"}',
        "created_at": created,
        "published_at": published,
    }


async def test_the_purge_logs_each_deleted_event_as_erased(database_url: str) -> None:
    kit = Kit("127.0.0.1:1", database_url, "unused")
    await kit.platform.start_storage()
    p = kit.platform
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=40), now - timedelta(days=1)
    incidents = [f"inc-{i:04d}" for i in range(620)]  # more than one entry's 500
    rows = [row(i, INCIDENTS, "mash.incident.reported", old) for i in incidents]
    rows += [
        row("ref-1", referrals_topic("idva"), "mash.referral.created", old),
        row("log-1", audit_topic("kit"), "mash.audit.consulted", old),
        row("recent-1", INCIDENTS, "mash.incident.reported", recent),
        row("waiting-1", INCIDENTS, "mash.incident.reported", None),
    ]
    try:
        async with p.uow() as session:
            await session.execute(insert(p.tables.outbox), rows)
        relay = OutboxRelay(p.tables, p.sessions, None, p.metrics, p.tracer)  # type: ignore[arg-type]
        assert await relay.purge(now, batch=250) == 622  # several rounds of the batch

        t = p.tables.outbox
        async with p.sessions() as session:
            left = (await session.execute(select(t.c.event_id, t.c.topic, t.c.payload))).all()
        kept = sorted(e for e, topic, _ in left if topic != audit_topic("kit"))
        assert kept == ["recent-1", "waiting-1"]
        entries = [json.loads(payload) for e, topic, payload in left if e != "log-1"]
        entries = [e for e in entries if e.get("operation") == "erased"]
        assert all(e["service"] == "kit" for e in entries)
        assert all(e["sub"] == "job:outbox-purge" for e in entries)
        assert all((e["via"], e["route"]) == ("job", "outbox-purge") for e in entries)
        assert all(len(e["ids"]) <= 500 for e in entries)
        by_resource: dict[str, list[str]] = {}
        for e in entries:
            by_resource.setdefault(e["resource"], []).extend(e["ids"])
        assert sorted(by_resource["incident"]) == incidents
        assert by_resource["referral"] == ["ref-1"]
        # the log's own copy is not logged again (the records service keeps the entry)
        assert set(by_resource) == {"incident", "referral"}
        assert "personal data" not in json.dumps(entries)
    finally:
        await p.stop()
