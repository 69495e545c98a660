"""The inbox: every consumed event's id, recorded in the transaction that processes it.

The offset commit comes after that transaction, so a crash between the two redelivers
events the service already processed; the inbox row (unique `event_id`) is what makes
the redelivery a no-op. Types a consumer does not handle are recorded too, so the inbox
says what was read, not only what was acted on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import insert
from shared.envelope import CloudEvent
from shared.tables import MessageTables


async def enter_inbox(
    session: AsyncSession, tables: MessageTables, event: CloudEvent, topic: str
) -> bool:
    """Record `event` in the inbox; False when it was processed before (a redelivery)."""
    result = await session.execute(
        insert(session, tables.inbox)
        .values(
            event_id=event.id,
            topic=topic,
            type=event.type,
            subject=event.subject,
            processed_at=datetime.now(UTC),
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
    )
    return bool(getattr(result, "rowcount", 0))


async def enter_inbox_many(
    session: AsyncSession, tables: MessageTables, entries: Sequence[tuple[CloudEvent, str]]
) -> list[bool]:
    """Record many `(event, topic)` in the inbox in one statement; for each, whether it is
    new (False: processed before, or an earlier entry of this same batch has its id)."""
    first: dict[str, int] = {}
    for i, (event, _) in enumerate(entries):
        first.setdefault(event.id, i)
    if not first:
        return []
    now = datetime.now(UTC)
    rows = [
        {
            "event_id": event.id,
            "topic": topic,
            "type": event.type,
            "subject": event.subject,
            "processed_at": now,
        }
        for event, topic in (entries[i] for i in first.values())
    ]
    inbox = tables.inbox
    result = await session.execute(
        insert(session, inbox)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(inbox.c.event_id)
    )
    new = set(result.scalars().all())
    return [first[event.id] == i and event.id in new for i, (event, _) in enumerate(entries)]
