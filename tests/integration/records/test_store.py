"""Records' handlers against each real database (SQLite and PostgreSQL), without Kafka:
each entry kept once and chained, a change or a deletion behind the service's back named
by verify, retention erasing a chain's head and leaving it verifiable, and on PostgreSQL
the service's role unable to update anything."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, text

from mash_tools.testing import hub_settings
from records import store
from records.app import MIGRATIONS
from records.config import Settings
from records.consumer import consumers
from records.domain.chain import GENESIS
from records.handlers import Records, retain, verify
from records.partners import partner_offsets_table
from shared.envelope import CloudEvent
from shared.kafka import PoisonMessage, enter_inbox
from shared.schemas import AuditEntry
from shared.service import Platform
from shared.topics import audit_topic
from tests.integration.records.kit import entry, event_of

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=2600)


async def started(settings: Settings) -> Records:
    platform = Platform("records", settings, store.messages, MIGRATIONS)
    await platform.start_storage()
    return Records.on(platform)


@pytest.fixture
async def records(database_url: str) -> AsyncIterator[Records]:
    found = await started(Settings(database_url=database_url, hub=hub_settings("127.0.0.1:9")))
    try:
        yield found
    finally:
        await found.platform.engine.dispose()


async def consume(
    records: Records,
    *entries: AuditEntry,
    topic: str | None = None,
    event: CloudEvent | None = None,
) -> None:
    """What the consumer loop does with each entry: inbox and handler in one transaction."""
    handle = consumers(records, lambda: NOW)[0].handler
    for data in entries:
        async with records.platform.uow() as session:
            found = event or event_of(data)
            if await enter_inbox(
                session, store.messages, found, topic or audit_topic(data.service)
            ):
                await handle(session, found)


async def execute(records: Records, statement: str, **params: Any) -> None:
    """A change behind the service's back, straight into the database."""
    async with records.platform.engine.begin() as conn:
        await conn.execute(text(statement), params)


async def rows(records: Records) -> list[Any]:
    async with records.platform.sessions() as session:
        query = store.entries.select().order_by(store.entries.c.service, store.entries.c.seq)
        return list((await session.execute(query)).all())


async def test_each_entry_is_kept_once_chained_per_service(records: Records) -> None:
    notify = [entry("notify", at=NOW - timedelta(minutes=5 - n)) for n in range(3)]
    intake = [entry("intake", "collected", at=NOW - timedelta(minutes=4))]
    await consume(records, notify[0], intake[0], notify[1], notify[2])
    # redelivered: the same event again, and the same entry under another event id
    await consume(records, notify[1])
    again = replace(event_of(notify[2]), id=str(uuid.uuid4()))
    await consume(records, notify[2], event=again)
    kept = await rows(records)
    assert [(r.service, r.seq) for r in kept] == [
        ("intake", 1),
        ("notify", 1),
        ("notify", 2),
        ("notify", 3),
    ]
    assert [r.entry_id for r in kept[1:]] == [str(e.entry_id) for e in notify]
    assert kept[0].prev_hash == kept[1].prev_hash == GENESIS
    assert kept[2].prev_hash == kept[1].hash
    assert kept[3].prev_hash == kept[2].hash
    verdict = await verify(records)
    assert (verdict.entries, verdict.broken) == (4, None)


async def test_an_entry_naming_another_service_than_its_topic_is_poison(records: Records) -> None:
    forged = entry("notify")
    with pytest.raises(PoisonMessage):
        await consume(records, forged, topic=audit_topic("console"))
    assert await rows(records) == []


async def test_a_changed_entry_is_named_by_verify(records: Records) -> None:
    entries = [entry("notify", at=NOW - timedelta(minutes=9 - n)) for n in range(4)]
    await consume(records, *entries)
    assert (await verify(records)).broken is None
    await execute(
        records,
        "UPDATE record_entries SET sub = 'someone-else' WHERE entry_id = :id",
        id=str(entries[1].entry_id),
    )
    broken = (await verify(records)).broken
    assert broken is not None
    assert (broken.service, broken.entry_id) == ("notify", str(entries[1].entry_id))
    assert broken.reason == "entry changed"
    assert records.chain_broken._value.get() == 1  # noqa: SLF001 - the gauge Prometheus reads


async def test_a_deleted_entry_is_named_by_verify_at_the_entry_after_it(records: Records) -> None:
    entries = [entry("triage", "combined", at=NOW - timedelta(minutes=9 - n)) for n in range(4)]
    await consume(records, *entries)
    await execute(
        records, "DELETE FROM record_entries WHERE entry_id = :id", id=str(entries[2].entry_id)
    )
    broken = (await verify(records)).broken
    assert broken is not None
    assert (broken.service, broken.entry_id) == ("triage", str(entries[3].entry_id))
    assert broken.reason == "an entry before it is missing or changed"


async def test_a_search_row_deleted_behind_the_service_s_back_is_named_by_verify(
    records: Records,
) -> None:
    entries = [entry("intake", "collected", subjects=["a" * 64, "b" * 64]) for _ in range(3)]
    await consume(records, *entries)
    await execute(
        records,
        "DELETE FROM record_subjects WHERE entry_id = :id AND subject = :key",
        id=str(entries[1].entry_id),
        key="b" * 64,
    )
    broken = (await verify(records)).broken
    assert broken is not None
    assert broken.entry_id == str(entries[1].entry_id)
    assert broken.reason == "its people or ids as searched differ from it"


async def test_retention_erases_the_old_head_logs_it_and_the_chain_still_verifies(
    records: Records,
) -> None:
    old = [entry("notify", at=OLD + timedelta(minutes=n), subjects=["k" * 64]) for n in range(3)]
    young = [entry("notify", at=NOW - timedelta(days=1))]
    gone_whole = [entry("marac", "altered", at=OLD)]
    await consume(records, *old, *young, *gone_whole)
    assert await retain(records, NOW) == 4
    kept = await rows(records)
    assert [r.entry_id for r in kept] == [str(young[0].entry_id)]
    verdict = await verify(records)
    assert (verdict.entries, verdict.broken) == (1, None)
    # the erasure is itself logged, by records, naming the erased entries and their people
    async with records.platform.sessions() as session:
        outbox = store.messages.outbox
        payloads = (await session.execute(outbox.select().order_by(outbox.c.id))).all()
    logged = [AuditEntry.model_validate_json(p.payload) for p in payloads]
    assert [(e.service, e.operation, e.sub, e.resource) for e in logged] == [
        ("records", "erased", "job:records.retention", "records")
    ] * 2
    assert sorted(i for e in logged for i in e.ids) == sorted(
        str(e.entry_id) for e in [*old, *gone_whole]
    )
    assert {s for e in logged for s in e.subjects} == {"k" * 64}
    # a chain erased whole goes on from its checkpoint
    await consume(records, entry("marac", "altered", at=NOW))
    verdict = await verify(records)
    assert (verdict.entries, verdict.broken) == (2, None)
    assert await retain(records, NOW) == 0


async def test_a_large_erasure_is_logged_500_ids_an_entry(records: Records) -> None:
    old = [entry("console", "consulted", at=OLD + timedelta(seconds=n)) for n in range(501)]
    await consume(records, *old)
    assert await retain(records, NOW) == 501
    async with records.platform.sessions() as session:
        outbox = store.messages.outbox
        payloads = (await session.execute(outbox.select().order_by(outbox.c.id))).all()
    logged = [AuditEntry.model_validate_json(p.payload) for p in payloads]
    assert [len(e.ids) for e in logged] == [500, 1]
    assert [i for e in logged for i in e.ids] == [str(e.entry_id) for e in old]
    assert (await verify(records)).broken is None


async def test_retention_erases_in_batches_each_with_its_checkpoint(records: Records) -> None:
    records.platform.settings.retention_batch = 2
    old = [entry("notify", at=OLD + timedelta(seconds=n)) for n in range(5)]
    await consume(records, *old, entry("notify", at=NOW))
    assert await retain(records, NOW) == 5
    async with records.platform.sessions() as session:
        found = await session.execute(store.checkpoints.select().order_by(store.checkpoints.c.seq))
        marks = [(r.seq, r.erased) for r in found]
    assert marks == [(2, 2), (4, 2), (5, 1)]
    verdict = await verify(records)
    assert (verdict.entries, verdict.broken) == (1, None)


async def test_deleting_the_oldest_kept_entry_behind_retention_s_back_shows(
    records: Records,
) -> None:
    entries = [entry("notify", at=NOW - timedelta(minutes=9 - n)) for n in range(3)]
    await consume(records, *entries)
    await execute(
        records, "DELETE FROM record_entries WHERE entry_id = :id", id=str(entries[0].entry_id)
    )
    broken = (await verify(records)).broken
    assert broken is not None
    assert broken.entry_id == str(entries[1].entry_id)


async def test_the_service_role_cannot_update_or_delete_what_it_must_not(
    postgres_server: str,
) -> None:
    """PostgreSQL: migrations run as the owner; the service connects as a member of
    `records_writer`, which may insert and read the log, never update it."""
    from mash_tools.testing import as_login, create_database

    owner = await create_database(postgres_server)
    login = f"records_{uuid.uuid4().hex[:8]}"
    password = secrets.token_urlsafe(16)  # the server asks every login for its password
    setup = await started(Settings(database_url=owner, hub=hub_settings("127.0.0.1:9")))
    try:
        async with setup.platform.engine.begin() as conn:
            await conn.execute(
                text(f"CREATE ROLE {login} LOGIN PASSWORD '{password}' IN ROLE records_writer")
            )
    finally:
        await setup.platform.engine.dispose()
    as_service = as_login(owner, login, password)
    records = await started(
        Settings(
            database_url=as_service,
            migrations_database_url=owner,
            hub=hub_settings("127.0.0.1:9"),
        )
    )
    try:
        entries = [entry("notify", at=OLD), entry("notify", at=NOW)]
        await consume(records, *entries)
        assert await retain(records, NOW) == 1  # retention may delete the head
        assert (await verify(records)).broken is None
        for statement in (
            "UPDATE record_entries SET sub = 'x'",
            "UPDATE record_subjects SET subject = 'x'",
            "UPDATE record_ids SET record_id = 'x'",
            "UPDATE chain_checkpoints SET hash = 'x'",
            "DELETE FROM record_entries",
            "DELETE FROM record_subjects",
            "DELETE FROM record_ids",
            "DELETE FROM chain_checkpoints",
            "INSERT INTO chain_checkpoints (service, seq, hash, erased, erased_at)"
            " VALUES ('notify', 99, 'x', 1, now())",
            "TRUNCATE record_entries",
            "DROP FUNCTION records_erase(text, integer)",
            "UPDATE referral_disclosures SET record = 'x'",
            "UPDATE disclosure_subjects SET subject = 'x'",
            "DELETE FROM referral_disclosures",
            "DELETE FROM disclosure_subjects",
            "TRUNCATE referral_disclosures",
            "DROP FUNCTION records_erase_disclosures(text[], timestamptz)",
        ):
            with pytest.raises(Exception, match=r"permission denied|must be owner"):
                await execute(records, statement)
        async with records.platform.sessions() as session:
            user = (await session.execute(text("SELECT current_user"))).scalar_one()
        assert user == login
    finally:
        await records.platform.engine.dispose()


async def test_the_migration_makes_exactly_the_store_s_tables(records: Records) -> None:
    def differences(conn: Any) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, store.metadata))

    async with records.platform.engine.connect() as conn:
        assert await conn.run_sync(differences) == []


def test_the_partners_table_is_the_store_s() -> None:
    theirs = partner_offsets_table(MetaData())
    shape = [(c.name, repr(c.type), c.primary_key, c.nullable) for c in theirs.columns]
    ours = [
        (c.name, repr(c.type), c.primary_key, c.nullable) for c in store.partner_offsets.columns
    ]
    assert ours == shape
