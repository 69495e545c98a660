"""A fetched batch of triage decisions handled as a set: what marac's handler reads per
MARAC-eligible decision (the victim's identity keys, the victim's cases, the area's
meetings to come) read once for the whole batch by `preload`, a query each (chunked),
and kept in the session for the batch's handlers.

Why a cache and not just fewer queries: a victim may come back later in the same batch
(a second incident joins the case the first one opened), so the batch's own writes must
be seen by its later decisions exactly as one decision per transaction sees them
committed. Every write the handler makes goes into the cache, and only once it is sure:
a listing is made in a savepoint, so the case it made or joined and the place it took on
a meeting are kept (`settle`) only after the savepoint is released; when it is rolled
back (a concurrent writer), the victim's cases and the area's meetings are dropped
(`forget`) and read again from the store. A place the store refuses (`take_place`) drops
the area's meetings too. Whatever is not in the cache is read as `repository` reads it.

What another writer changes while the batch runs is read again where it matters: the
area's meetings when a decision would wait (`meetings_now`: a meeting made meanwhile
takes it), and a case closed or deferred meanwhile, which the case's lock
(`lock_case`) reads afresh: a case changed since the batch read it is `Stale`, and the
listing is made again from the store. A case the batch made or locked already needs no
lock nor read: no other writer can change it before the batch ends.

Outside a consumer's batch (one decision per transaction, an agency's referral) there is
no cache and each function here is `repository`'s own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from marac import repository
from marac.domain.listing import MaracCase, Meeting

_KEY = "marac.batch"


class Stale(Exception):
    """The case the batch's cache would join changed since the batch read it."""


@dataclass
class Batch:
    """What is stored of the batch's victims and areas, as this transaction changed it."""

    known: dict[str, str] = field(default_factory=dict)
    """Identity key -> victim reference, for every key in `checked` that is on record."""
    checked: set[str] = field(default_factory=set)
    cases: dict[str, list[MaracCase]] = field(default_factory=dict)
    """Victim reference -> every case of the victim (only for victims read)."""
    meetings: dict[str, list[Meeting]] = field(default_factory=dict)
    """Area -> its meetings to come from `since[area]` on (only for areas read)."""
    since: dict[str, date] = field(default_factory=dict)
    taken: list[Meeting] = field(default_factory=list)
    """Places taken in the savepoint under way: kept by `settle`, dropped by `forget`."""
    locked: set[str] = field(default_factory=set)
    """Cases this transaction made or locked (in a savepoint since released)."""


def of(session: AsyncSession) -> Batch | None:
    found: Batch | None = session.info.get(_KEY)
    return found


async def preload(
    session: AsyncSession,
    victims: Sequence[tuple[Sequence[str], str]],
    areas: Mapping[str, date],
) -> None:
    """Read, for a batch, its victims' identity keys (each victim's `(keys, fallback)`),
    the cases of the victims they are or would be, and the meetings to come of `areas`
    (each from its date on): three queries (chunked) instead of three per decision. The
    caller holds the victims' keys first (`shared.db.hold`)."""
    batch = session.info.setdefault(_KEY, Batch())
    keys = {k for ks, _ in victims for k in ks}
    await _check(session, batch, keys)
    refs = {batch.known[k] for k in keys if k in batch.known}
    refs |= {ks[0] if ks else fallback for ks, fallback in victims}  # a new victim's
    todo = sorted(refs - set(batch.cases))
    if todo:
        batch.cases.update(await repository.cases_of_victims(session, todo))
    wanted = {area: day for area, day in areas.items() if area not in batch.since}
    if wanted:
        start = min(wanted.values())
        batch.meetings.update(await repository.meetings_to_come(session, list(wanted), start))
        batch.since.update(dict.fromkeys(wanted, start))


async def _check(session: AsyncSession, batch: Batch, keys: set[str]) -> None:
    todo = sorted(keys - batch.checked)
    if todo:
        batch.known.update(await repository.identities_of(session, todo))
        batch.checked.update(todo)


async def resolve_victim(
    session: AsyncSession, keys: list[str], fallback: str, now: datetime
) -> str:
    """`repository.resolve_victim`, from and into the batch's cache when there is one (the
    same rule: the reference known for the strongest key, else the strongest key)."""
    batch = of(session)
    if batch is None or not keys:
        return await repository.resolve_victim(session, keys, fallback, now)
    await _check(session, batch, set(keys))
    ref = next((batch.known[k] for k in keys if k in batch.known), keys[0])
    missing = [k for k in keys if k not in batch.known]
    if missing:
        if await repository.add_identities(session, missing, ref, now) != len(missing):
            # another writer recorded one meanwhile: read them as the store has them
            batch.checked.difference_update(keys)
            return await repository.resolve_victim(session, keys, fallback, now)
        batch.known.update(dict.fromkeys(missing, ref))
    return ref


async def victim_cases(session: AsyncSession, victim_ref: str) -> list[MaracCase]:
    """`repository.victim_cases`."""
    batch = of(session)
    if batch is None or victim_ref not in batch.cases:
        return await repository.victim_cases(session, victim_ref)
    return list(batch.cases[victim_ref])


async def meetings_to_come(session: AsyncSession, area: str, earliest: date) -> list[Meeting]:
    """`repository.meetings_of(area, earliest, to_come=True)`."""
    batch = of(session)
    if batch is None or area not in batch.since or batch.since[area] > earliest:
        return await repository.meetings_of(session, area, earliest, to_come=True)
    return [m for m in batch.meetings[area] if m.date >= earliest]


async def meetings_now(session: AsyncSession, area: str, earliest: date) -> list[Meeting] | None:
    """In a batch, the area's meetings to come as the store has them now, for a decision
    the cache would leave waiting: a meeting another writer made while the batch ran
    takes it, as it would one decision per transaction (rather than leaving it for the
    schedule's next round). None outside a batch: its handler has just read them."""
    batch = of(session)
    if batch is None:
        return None
    found = await repository.meetings_of(session, area, earliest, to_come=True)
    if area in batch.since and batch.since[area] <= earliest:
        older = [m for m in batch.meetings[area] if m.date < earliest]
        batch.meetings[area] = older + found
    return found


async def take_place(session: AsyncSession, meeting: Meeting) -> bool:
    """`repository.take_place`; the place kept in the cache once the listing is settled."""
    taken = await repository.take_place(session, meeting.meeting_id)
    batch = of(session)
    if batch is not None:
        if taken:
            batch.taken.append(meeting)
        else:  # the cache thought it had room: the area's meetings are read again
            _forget_area(batch, meeting.area)
    return taken


async def lock_case(session: AsyncSession, read: MaracCase) -> MaracCase:
    """`repository.lock_case` of the case `read` to join. In a batch: a case the batch
    made or locked already is the batch's alone until it ends, as read; another is
    `Stale` when, locked, it is not as the batch read it (closed or deferred meanwhile):
    the listing is then made again from the store."""
    batch = of(session)
    if batch is not None and read.case_id in batch.locked:
        return read
    locked = await repository.lock_case(session, read.case_id)
    if batch is not None and (read.status, read.meeting_id) != (locked.status, locked.meeting_id):
        raise Stale(read.case_id)
    return locked


def settle(session: AsyncSession, case: MaracCase) -> None:
    """A listing's savepoint was released: the case it made or joined (as written) and the
    place it took are what the batch's later decisions read."""
    batch = of(session)
    if batch is None:
        return
    for meeting in batch.taken:
        found = batch.meetings.get(meeting.area, [])
        batch.meetings[meeting.area] = [
            replace(m, listed=m.listed + 1) if m.meeting_id == meeting.meeting_id else m
            for m in found
        ]
    batch.taken = []
    batch.locked.add(case.case_id)
    cases = batch.cases.get(case.victim_ref)
    if cases is not None:
        others = [c for c in cases if c.case_id != case.case_id]
        batch.cases[case.victim_ref] = [*others, case]


def forget(session: AsyncSession, victim_ref: str, area: str) -> None:
    """A listing's savepoint was rolled back: what the cache has of the victim's cases and
    the area's meetings is read again from the store."""
    batch = of(session)
    if batch is None:
        return
    batch.taken = []
    batch.cases.pop(victim_ref, None)
    _forget_area(batch, area)


def _forget_area(batch: Batch, area: str) -> None:
    batch.meetings.pop(area, None)
    batch.since.pop(area, None)
