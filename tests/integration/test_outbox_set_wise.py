"""`shared.outbox.set_wise`: a transaction's outbox rows written in one statement when it
commits, in the order added, on SQLite and PostgreSQL; nothing when it rolls back; a row
added inside a savepoint refused (staged, it would outlive the savepoint's rollback);
off, or outside a unit of work, each row is written when added, as before."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from shared import outbox
from shared.envelope import CloudEvent
from tests.integration.kit import Kit


def event(n: int) -> CloudEvent:
    return CloudEvent(f"set-wise-{n}", "/mash/kit", "mash.kit.happened", f"s{n}", {"n": n})


async def ids_in_order(kit: Kit, session: Any | None = None) -> list[str]:
    t = kit.platform.tables.outbox
    stmt = select(t.c.event_id).order_by(t.c.id)
    if session is not None:
        return list((await session.execute(stmt)).scalars())
    async with kit.platform.sessions() as reader:
        return list((await reader.execute(stmt)).scalars())


async def test_rows_are_written_at_commit_in_the_order_added(database_url: str) -> None:
    kit = Kit("127.0.0.1:1", database_url, "unused")
    await kit.platform.start_storage()
    box = kit.platform.outbox
    try:
        async with kit.platform.uow() as session:
            outbox.set_wise(session)
            for n in (3, 1, 2):
                await box.add(session, "topic-a" if n % 2 else "topic-b", "k", event(n))
            assert await ids_in_order(kit, session) == []  # staged, not written yet
        assert await ids_in_order(kit) == ["set-wise-3", "set-wise-1", "set-wise-2"]

        async def rolled_back() -> None:
            async with kit.platform.uow() as session:
                outbox.set_wise(session)
                await box.add(session, "topic-a", "k", event(4))
                raise LookupError("rolled back")

        with pytest.raises(LookupError, match="rolled back"):
            await rolled_back()
        assert "set-wise-4" not in await ids_in_order(kit)

        async def in_a_savepoint() -> None:
            async with kit.platform.uow() as session:
                outbox.set_wise(session)
                await box.add(session, "topic-a", "k", event(5))
                async with session.begin_nested():
                    await box.add(session, "topic-a", "k", event(6))

        with pytest.raises(RuntimeError, match="savepoint"):
            await in_a_savepoint()  # refused: a staged row would outlive a rollback
        assert {"set-wise-5", "set-wise-6"}.isdisjoint(await ids_in_order(kit))

        async with kit.platform.uow() as session:  # not set-wise: written when added
            await box.add(session, "topic-a", "k", event(8))
            assert (await ids_in_order(kit, session))[-1] == "set-wise-8"
        async with kit.platform.sessions() as session, session.begin():
            outbox.set_wise(session)  # no unit of work: nothing would write it later
            await box.add(session, "topic-a", "k", event(9))
            assert (await ids_in_order(kit, session))[-1] == "set-wise-9"
    finally:
        await kit.platform.engine.dispose()
