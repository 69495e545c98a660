"""A fetched batch of decisions handled as a set: what perpetrators' handler reads per
decision (the suspect's identities, the incident as stored, the locked standing, the
perpetrator's incidents) read once for the batch by `preload`, and what it writes (new
identities, incidents, standings, score history) staged and written a statement per table
when the transaction ends (`shared.db.at_commit`), or before anything reads the store
directly (`flush`: an announcement's `repository.find`).

Why a cache and not just fewer queries: the batch's own writes must be seen by its later
decisions exactly as one decision per transaction sees them committed (the same suspect
twice, a suspect known by names and then by person id). So the cache starts from what
is stored (the batch's people held first, `shared.db.hold`) and every write goes into it
before it is staged. Outside a consumer's batch (the daily re-score, one decision per
transaction) there is no cache and each function here is `repository`'s own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from perpetrators import repository, store
from perpetrators.domain.perpetrator import IncidentOnRecord, Perpetrator
from shared.db import at_commit, chunks, insert
from shared.identity import Identity

P, IDS, INC = store.perpetrators, store.identities, store.incidents
_KEY = "perpetrators.batch"


@dataclass
class Batch:
    """What is stored of the batch's people, as this transaction has changed it."""

    known: dict[str, str] = field(default_factory=dict)
    """identity hash -> perpetrator, for every hash in `checked` that is on record."""
    checked: set[str] = field(default_factory=set)
    with_pid: set[str] = field(default_factory=set)
    """Of `loaded` perpetrators, those with a person id on record."""
    loaded: set[str] = field(default_factory=set)
    """Perpetrators whose standing and incidents are all here."""
    standings: dict[str, Perpetrator | None] = field(default_factory=dict)
    stored: set[str] = field(default_factory=set)
    """Perpetrators with a row in the store (the others are inserted, not updated)."""
    owner: dict[str, str] = field(default_factory=dict)
    """incident id -> its perpetrator, for every incident here (`looked_up` or loaded)."""
    records: dict[str, IncidentOnRecord] = field(default_factory=dict)
    by_ref: dict[str, list[str]] = field(default_factory=dict)
    looked_up: set[str] = field(default_factory=set)
    # staged, in the order one decision per transaction would have written them
    new_identities: list[dict[str, Any]] = field(default_factory=list)
    changed_incidents: dict[str, None] = field(default_factory=dict)
    changed_standings: dict[str, None] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    def own(self, incident_id: str, ref: str, record: IncidentOnRecord) -> None:
        """An incident new here (an incident's perpetrator never changes)."""
        self.owner[incident_id] = ref
        self.records[incident_id] = record
        self.by_ref.setdefault(ref, []).append(incident_id)


def of(session: AsyncSession) -> Batch | None:
    found: Batch | None = session.info.get(_KEY)
    return found


async def preload(
    session: AsyncSession, suspects: Sequence[tuple[Identity, str]], incident_ids: Iterable[str]
) -> None:
    """Read, for a batch, its suspects' identities (`(identity, new perpetrator id)`), the
    standings and incidents of the perpetrators they are or would be, and its incidents as
    stored: a few queries (chunked) instead of four to six per decision. Hold the suspects'
    hashes first, so on PostgreSQL what is read is what a replica holding them committed."""
    batch = session.info.get(_KEY)
    if batch is None:
        batch = session.info[_KEY] = Batch()
        at_commit(session, _KEY, flush)
    hashes = {h for identity, _ in suspects for h in identity.hashes}
    await _check(session, batch, hashes)
    refs = {batch.known[h] for h in hashes if h in batch.known} | {r for _, r in suspects}
    await _load(session, batch, refs)
    await _look_up(session, batch, set(incident_ids))


async def _check(session: AsyncSession, batch: Batch, hashes: set[str]) -> None:
    todo = sorted(hashes - batch.checked)
    for chunk in chunks(todo):
        stmt = select(IDS.c.identity, IDS.c.perpetrator_id)
        rows = await session.execute(stmt.where(IDS.c.identity.in_(chunk)))
        batch.known.update((r.identity, r.perpetrator_id) for r in rows)
    batch.checked.update(todo)


async def _load(session: AsyncSession, batch: Batch, refs: set[str]) -> None:
    """Each of `refs`' standing (locked), incidents and whether they have a person id."""
    todo = sorted(refs - batch.loaded)
    for chunk in chunks(todo):
        pids = select(IDS.c.perpetrator_id).where(IDS.c.perpetrator_id.in_(chunk))
        pids = pids.where(IDS.c.kind == "pid")
        batch.with_pid.update((await session.execute(pids)).scalars())
        standings = select(P).where(P.c.perpetrator_id.in_(chunk))
        standings = standings.order_by(P.c.perpetrator_id).with_for_update()  # one order
        for row in await session.execute(standings):
            batch.standings[row.perpetrator_id] = repository.perpetrator_of(row)
            batch.stored.add(row.perpetrator_id)
        for row in await session.execute(select(INC).where(INC.c.perpetrator_id.in_(chunk))):
            if row.incident_id not in batch.records:  # what is here is at least as new
                batch.own(row.incident_id, row.perpetrator_id, repository.incident_of(row))
            batch.looked_up.add(row.incident_id)
    for ref in todo:
        batch.standings.setdefault(ref, None)
    batch.loaded.update(todo)


async def _look_up(session: AsyncSession, batch: Batch, incident_ids: set[str]) -> None:
    todo = sorted(incident_ids - batch.looked_up)
    for chunk in chunks(todo):
        stmt = select(INC).where(INC.c.incident_id.in_(chunk))
        for row in await session.execute(stmt):
            batch.own(row.incident_id, row.perpetrator_id, repository.incident_of(row))
    batch.looked_up.update(todo)


async def resolve_perpetrator(
    session: AsyncSession, identity: Identity, new_id: str, now: datetime
) -> str:
    """`repository.resolve_perpetrator`, from and into the batch's cache when there is one
    (the same rules, in the same order)."""
    batch = of(session)
    if batch is None:
        return await repository.resolve_perpetrator(session, identity, new_id, now)
    await _check(session, batch, set(identity.hashes))
    known = batch.known
    ref = new_id
    if identity.person_id and identity.person_id in known:
        ref = known[identity.person_id]
    elif identity.names_dob and identity.names_dob in known:
        candidate = known[identity.names_dob]
        await _load(session, batch, {candidate})
        if identity.person_id is None or candidate not in batch.with_pid:
            ref = candidate
    kinds = {identity.person_id: "pid", identity.names_dob: "ndob"}
    for h in identity.hashes:
        if h not in known:
            known[h] = ref
            row = {"identity": h, "kind": kinds[h], "perpetrator_id": ref, "created_at": now}
            batch.new_identities.append(row)
            await _load(session, batch, {ref})
            if kinds[h] == "pid":
                batch.with_pid.add(ref)
    return ref


async def save_incident(session: AsyncSession, perpetrator_id: str, kept: IncidentOnRecord) -> None:
    """`repository.save_incident`: one incident is one row, the latest decision's facts."""
    batch = of(session)
    if batch is None:
        await repository.save_incident(session, perpetrator_id, kept)
        return
    incident_id = kept.incident.incident_id
    await _look_up(session, batch, {incident_id})
    stored = batch.records.get(incident_id)
    if stored is None:
        batch.own(incident_id, perpetrator_id, kept)
    elif stored.decided_at <= kept.decided_at:  # as the upsert's condition
        changed = {n: getattr(kept.incident, n) for n in ("risk_level", "child_present")}
        incident = replace(stored.incident, abuse_types=kept.incident.abuse_types, **changed)
        batch.records[incident_id] = replace(stored, incident=incident, decided_at=kept.decided_at)
    else:
        return
    batch.changed_incidents[incident_id] = None


async def lock(session: AsyncSession, perpetrator_id: str) -> Perpetrator | None:
    """`repository.lock` (the batch's standings were locked when read)."""
    batch = of(session)
    if batch is None:
        return await repository.lock(session, perpetrator_id)
    await _load(session, batch, {perpetrator_id})
    return batch.standings[perpetrator_id]


async def incidents_of(session: AsyncSession, perpetrator_id: str) -> list[IncidentOnRecord]:
    """`repository.incidents_of`: oldest first (the id breaks ties)."""
    batch = of(session)
    if batch is None:
        return await repository.incidents_of(session, perpetrator_id)
    await _load(session, batch, {perpetrator_id})
    found = [batch.records[i] for i in batch.by_ref.get(perpetrator_id, ())]
    return sorted(found, key=lambda k: (k.incident.reported_at, k.incident.incident_id))


async def save(session: AsyncSession, perpetrator: Perpetrator, before: Perpetrator | None) -> None:
    """`repository.save`: the standing, and a changed score into the history."""
    batch = of(session)
    if batch is None:
        await repository.save(session, perpetrator, before)
        return
    ref, score = perpetrator.perpetrator_id, perpetrator.score
    batch.standings[ref] = perpetrator
    batch.changed_standings[ref] = None
    if before is None or before.score.score != score.score:
        batch.history.append(
            {"perpetrator_id": ref, "scored_at": score.scored_at, "score": score.score}
        )


async def flush(session: AsyncSession) -> None:
    """Write what the batch staged so far, a statement per table (and kind of write)."""
    batch = of(session)
    if batch is None:
        return
    for rows in chunks(batch.new_identities):
        await session.execute(
            insert(session, IDS).values(rows).on_conflict_do_nothing(index_elements=["identity"])
        )
    incidents = [
        repository.incident_values(batch.owner[i], batch.records[i])
        for i in batch.changed_incidents
    ]
    for rows in chunks(incidents):
        stmt = insert(session, INC).values(rows)
        stmt = stmt.on_conflict_do_update(
            index_elements=["incident_id"],
            set_={name: stmt.excluded[name] for name in repository.CHANGING},
            where=INC.c.decided_at <= stmt.excluded.decided_at,
        )
        await session.execute(stmt)
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for ref in batch.changed_standings:
        standing = batch.standings[ref]
        assert standing is not None
        values = repository.standing_values(standing)
        (changed if ref in batch.stored else new).append({"perpetrator_id": ref, **values})
    for rows in chunks(new):
        await session.execute(P.insert().values(rows))
    if changed:
        by_id = update(P).where(P.c.perpetrator_id == bindparam("ref"))
        updates = [{"ref": r.pop("perpetrator_id"), **r} for r in changed]
        await session.execute(by_id, updates)
    for rows in chunks(batch.history):
        await session.execute(store.score_history.insert().values(rows))
    batch.stored.update(batch.changed_standings)
    batch.new_identities, batch.history = [], []
    batch.changed_incidents, batch.changed_standings = {}, {}
