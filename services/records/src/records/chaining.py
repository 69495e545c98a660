"""Chaining a transaction's log entries as a set: what one-by-one did, in a few statements.

The consumer loop hands records a fetched batch (up to 500 events) in one transaction,
calling the handler once per event. Chaining each entry at once took seven statements
an entry (its topic, the chain's hold, "kept already?", the chain's end, three inserts):
records was the hub's largest consumer of CPU per incident (docs/speed.md). So the
handler only stages the entry here, and when the transaction ends (`shared.db.at_commit`)
the whole batch is chained at once: one query for the events' topics, the holds of the
batch's chains, one query for the entries kept already, one for each chain's end, then
one executemany per table.

The result is the one-by-one result, entry for entry: entries are chained in the order
the handler saw them (the loop's order: each partition in offset order), an entry kept
already (or earlier in the same batch, under another event id) is skipped, and each
entry keeps its own time of processing. An entry naming another service than its topic's
fails the whole transaction as poison; the loop then goes one event per transaction and
dead-letters that event alone (tests/integration/records/test_set_wise.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from records import repository
from records.domain.chain import Chained, Link, Record, chain
from shared.db import at_commit, hold
from shared.kafka import PoisonMessage
from shared.topics import audit_topic

_STAGED = "records.staged"


def chain_lock(service: str) -> str:
    """The hold on one service's chain: one writer extends or erases it at a time."""
    return f"records.chain:{service}"


@dataclass(frozen=True)
class Staged:
    """An entry as its event brought it, waiting for the transaction's end."""

    event_id: str
    record: Record
    now: datetime


def stage(session: AsyncSession, event_id: str, record: Record, now: datetime) -> None:
    """Chain `record` (which came as event `event_id`) when this unit of work commits."""
    staged: list[Staged] | None = session.info.get(_STAGED)
    if staged is None:
        staged = session.info[_STAGED] = []
        at_commit(session, _STAGED, keep)
    staged.append(Staged(event_id, record, now))


async def keep(session: AsyncSession) -> None:
    """Chain and keep every staged entry of this transaction (see the module docstring)."""
    staged: list[Staged] = session.info.pop(_STAGED, [])
    if not staged:
        return
    topics = await repository.topics_of(session, [s.event_id for s in staged])
    for s in staged:
        # only a service's own topic may speak for it (the broker lets no one else write there)
        if topics.get(s.event_id) != audit_topic(s.record.service):
            raise PoisonMessage("the entry names a service other than its topic's")
    services = sorted({s.record.service for s in staged})
    await hold(session, [chain_lock(service) for service in services])
    kept = await repository.kept_of(session, [s.record.entry_id for s in staged])
    ends = {service: await repository.chain_end(session, service) for service in services}
    await repository.add(session, extend(ends, staged, kept))


def extend(
    ends: dict[str, Link], staged: list[Staged], kept: set[str]
) -> list[tuple[Chained, datetime]]:
    """Each staged entry not in `kept` chained, in order, after its service's end (`ends`
    and `kept` are updated as it goes): what chaining them one by one gives."""
    chained: list[tuple[Chained, datetime]] = []
    for s in staged:
        if s.record.entry_id in kept:
            continue  # the same entry under another event id: kept once
        kept.add(s.record.entry_id)
        link = chain(ends[s.record.service], s.record)
        ends[s.record.service] = Link(link.seq, link.hash)
        chained.append((link, s.now))
    return chained
