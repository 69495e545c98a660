"""The rounds' bookkeeping, exactly: which ranges are logged, once, for a group first
seen or known, with records deleted by retention or never there. The broker is replaced
by a fake of records' own adapter (`PartnerBus`): the integration tests use the real one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest

from mash_tools.testing import hub_settings
from records import store
from records.app import MIGRATIONS
from records.config import Settings
from records.offsets import Consumed, Fetched, PartnerBus
from records.partners import run_once
from shared.service import Platform
from shared.topics import INCIDENTS, audit_topic, referrals_topic

IDVA = referrals_topic("idva")
GROUP = "idva.caseworkers"


class Log:
    """One partition: the first offset it still holds and its records' referral ids."""

    def __init__(self, first: int = 0, ids: Iterable[str] = ()) -> None:
        self.first = first
        self.ids = list(ids)

    @property
    def last(self) -> int:
        return self.first + len(self.ids)


def referral(referral_id: str) -> bytes:
    return json.dumps({"referral_id": referral_id}).encode()


class FakeBus(PartnerBus):
    """Groups' commits and partitions' records as the test sets them."""

    def __init__(self) -> None:  # no admin client, no consumer: nothing to connect
        self.commits: dict[str, dict[tuple[str, int], int]] = {}
        self.logs: dict[tuple[str, int], Log] = {}

    async def groups(self) -> list[str]:
        return sorted(self.commits)

    async def committed(self, group: str) -> dict[tuple[str, int], int]:
        return dict(self.commits[group])

    async def read(self, topic: str, partition: int, start: int, end: int) -> Fetched:
        log = self.logs[(topic, partition)]
        held = range(max(start, log.first), min(end, log.last))
        records = [Consumed(partition, o, b"key", referral(log.ids[o - log.first])) for o in held]
        return Fetched(records, end, log.first, log.last)  # all of it: up to its commit

    async def first_offset(self, topic: str, partition: int) -> int:
        return self.logs[(topic, partition)].first


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Platform[Settings]]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'r.db'}",
        hub=hub_settings("127.0.0.1:9"),
    )
    found = Platform("records", settings, store.messages, MIGRATIONS)
    await found.start_storage()
    yield found
    await found.engine.dispose()


async def logged(platform: Platform[Settings]) -> list[dict[str, Any]]:
    outbox = platform.tables.outbox
    async with platform.sessions() as session:
        rows = (await session.execute(outbox.select().order_by(outbox.c.id))).all()
    return [json.loads(r.payload) for r in rows if r.topic == audit_topic("records")]


async def round_(platform: Platform[Settings], bus: FakeBus, **options: Any) -> list[list[str]]:
    """One round; the ids of each entry it logged."""
    before = len(await logged(platform))
    await run_once(platform, bus, store.partner_offsets, **options)
    return [e["ids"] for e in (await logged(platform))[before:]]


async def test_a_group_is_logged_once_from_its_first_commit_on(
    platform: Platform[Settings],
) -> None:
    bus = FakeBus()
    bus.logs[(IDVA, 0)] = Log(0, ["r0", "r1", "r2", "r3"])
    bus.commits[GROUP] = {(IDVA, 0): 2}
    assert await round_(platform, bus) == [["r0", "r1"]]
    assert await round_(platform, bus) == []
    bus.commits[GROUP] = {(IDVA, 0): 4}
    assert await round_(platform, bus) == [["r2", "r3"]]


async def test_a_first_seen_group_is_not_logged_for_what_was_deleted_before_it(
    platform: Platform[Settings],
) -> None:
    bus = FakeBus()
    bus.logs[(IDVA, 0)] = Log(100, ["r100", "r101"])  # 0-99: deleted by retention
    bus.commits[GROUP] = {(IDVA, 0): 102}
    assert await round_(platform, bus) == [["r100", "r101"]]


async def test_a_known_group_s_records_deleted_before_a_round_are_logged_by_position(
    platform: Platform[Settings],
) -> None:
    bus = FakeBus()
    bus.logs[(IDVA, 0)] = Log(0, [])
    bus.logs[(IDVA, 1)] = Log(0, ["a0"])
    bus.commits[GROUP] = {(IDVA, 0): 0, (IDVA, 1): 1}
    assert await round_(platform, bus) == [["a0"]]  # partition 0 seen at its start
    bus.logs[(IDVA, 0)] = Log(3, ["b3"])  # 0-2 consumed, then deleted before this round
    bus.commits[GROUP] = {(IDVA, 0): 4, (IDVA, 1): 1}
    assert await round_(platform, bus) == [["b3", f"{IDVA}:0:0-2"]]


async def test_a_commit_past_the_log_s_end_logs_what_was_there(
    platform: Platform[Settings],
) -> None:
    bus = FakeBus()
    bus.logs[(IDVA, 0)] = Log(0, ["r0"])
    bus.commits[GROUP] = {(IDVA, 0): 9}
    assert await round_(platform, bus) == [["r0"]]
    bus.logs[(IDVA, 0)] = Log(0, ["r0", "r1"])  # under its commit: it never reads it
    assert await round_(platform, bus) == []


async def test_a_round_reads_at_most_the_limit_a_partition(platform: Platform[Settings]) -> None:
    bus = FakeBus()
    bus.logs[(IDVA, 0)] = Log(0, [f"r{i}" for i in range(5)])
    bus.commits[GROUP] = {(IDVA, 0): 5}
    assert await round_(platform, bus, limit=2) == [["r0", "r1"]]
    assert await round_(platform, bus, limit=2) == [["r2", "r3"]]
    assert await round_(platform, bus, limit=2) == [["r4"]]
    assert await round_(platform, bus, limit=2) == []


async def test_a_topic_records_may_not_read_is_logged_by_range(
    platform: Platform[Settings],
) -> None:
    bus = FakeBus()
    bus.logs[(INCIDENTS, 1)] = Log(10, ["i"] * 5)
    bus.commits["ops.replay"] = {(INCIDENTS, 1): 15}
    entries = await logged_after(platform, bus)
    assert [e["ids"] for e in entries] == [[f"{INCIDENTS}:1:10-14"]]
    assert (entries[0]["resource"], entries[0]["recipient"]) == ("incident", "ops")
    bus.commits["ops.replay"] = {(INCIDENTS, 1): 17}
    bus.logs[(INCIDENTS, 1)] = Log(10, ["i"] * 7)
    assert await round_(platform, bus) == [[f"{INCIDENTS}:1:15-16"]]


async def logged_after(platform: Platform[Settings], bus: FakeBus) -> list[dict[str, Any]]:
    before = len(await logged(platform))
    await run_once(platform, bus, store.partner_offsets)
    return (await logged(platform))[before:]


async def test_only_partners_groups_are_logged(platform: Platform[Settings]) -> None:
    bus = FakeBus()
    bus.logs[(IDVA, 0)] = Log(0, ["r0"])
    bus.commits["mash-records"] = {(IDVA, 0): 1}
    bus.commits["idva-not-a-prefix"] = {(IDVA, 0): 1}
    assert await round_(platform, bus) == []
