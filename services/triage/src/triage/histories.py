"""Loading the history of an incident's people: by pseudonym, never by name."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, ColumnElement, and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import utc
from triage.domain.history import History, MaracListing, Moment
from triage.domain.identity import Identity
from triage.queries import record_of
from triage.store import history, marac_listings

LONGEST_WINDOW = timedelta(days=3 * 366)  # the serial-perpetrator window, with room to spare
REDECIDE_AT_MOST = 100


def _matching(pid: Column[Any], ndob: Column[Any], person: Identity | None) -> ColumnElement[bool]:
    """Rows that may be this person: the same person id; or the same names and date of
    birth where not both carry a person id (two different ids are two people)."""
    conditions = []
    if person and person.person_id:
        conditions.append(pid == person.person_id)
    if person and person.names_dob:
        same_names = ndob == person.names_dob
        conditions.append(and_(same_names, pid.is_(None)) if person.person_id else same_names)
    return or_(*conditions) if conditions else false()


async def load_history(
    session: AsyncSession, victim: Identity, suspect: Identity | None
) -> History:
    """Every incident of someone who may be this victim or this suspect, and the victim's
    MARAC listings (the domain decides who really matches, and what falls in a window)."""
    c = history.c
    stmt = select(history).where(
        or_(
            _matching(c.victim_pid, c.victim_ndob, victim),
            _matching(c.suspect_pid, c.suspect_ndob, suspect),
        )
    )
    records = [record_of(row) for row in await session.execute(stmt)]
    m = marac_listings.c
    rows = (
        await session.execute(
            select(marac_listings).where(_matching(m.victim_pid, m.victim_ndob, victim))
        )
    ).all()
    listed = {str(i) for row in rows for i in row.incident_ids}
    known: dict[str, Moment] = {}
    if listed:
        for row in await session.execute(select(history).where(c.incident_id.in_(listed))):
            known[row.incident_id] = (utc(row.reported_at), int(row.seq))
    listings = [
        MaracListing(Identity(row.victim_pid, row.victim_ndob), _listing_moment(row, known))
        for row in rows
    ]
    return History(tuple(records), tuple(listings))


def _listing_moment(row: Any, known: dict[str, Moment]) -> Moment:
    """A listing counts from the referral it answers: the earliest of its incidents that
    triage knows, in triage's order; from `listed_at` when it knows none of them."""
    moments = [known[str(i)] for i in row.incident_ids if str(i) in known]
    return min(moments) if moments else (utc(row.listed_at), 0)


async def later_incidents(
    session: AsyncSession,
    victim: Identity,
    suspect: Identity | None,
    reported_at: datetime,
    exclude: Iterable[str] = (),
) -> list[str]:
    """Incidents of someone who may be this victim or suspect, reported after `reported_at`
    (within the longest window): the ones whose decisions an earlier arrival can change."""
    c = history.c
    stmt = (
        select(c.incident_id)
        .where(
            or_(
                _matching(c.victim_pid, c.victim_ndob, victim),
                _matching(c.suspect_pid, c.suspect_ndob, suspect),
            ),
            c.reported_at > utc(reported_at),
            c.reported_at <= utc(reported_at) + LONGEST_WINDOW,
            c.incident_id.not_in(list(exclude)),
        )
        .order_by(c.reported_at, c.seq)
        .limit(REDECIDE_AT_MOST)
    )
    return list((await session.execute(stmt)).scalars())
