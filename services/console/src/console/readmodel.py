"""The read model's queries (the dashboard's facts: ids, dates and counts, never a
person), returning domain objects; sessions and sign-in links are `repository`'s."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from console import store
from console.domain.facts import (
    Closure,
    IncidentFacts,
    Listing,
    MaracAction,
    MaracReferral,
    Outcome,
)
from console.domain.indicators import Facts
from shared.db import insert, utc


async def find_incident(session: AsyncSession, incident_id: str) -> IncidentFacts | None:
    table = store.incidents
    row = (
        await session.execute(select(table).where(table.c.incident_id == incident_id))
    ).one_or_none()
    return _incident(row) if row else None


async def save_incident(session: AsyncSession, facts: IncidentFacts) -> None:
    values = {
        "incident_id": facts.incident_id,
        "area": facts.area,
        "reported_at": facts.reported_at,
        "first_decided_at": facts.first_decided_at,
        "last_decided_at": facts.last_decided_at,
        "dash_at_first_report": facts.dash_at_first_report,
        "dash_later": facts.dash_later,
        "assessed": facts.assessed,
        "risk_level": facts.risk_level,
        "regrade": facts.regrade,
        "flags": sorted(facts.flags),
        "children_count": facts.children_count,
        "referrals": sorted(facts.referrals),
    }
    await _upsert(session, store.incidents, "incident_id", values)


async def save_listing(session: AsyncSession, listing: Listing) -> None:
    values = {
        "case_id": listing.case_id,
        "meeting_id": listing.meeting_id,
        "area": listing.area,
        "meeting_date": listing.meeting_date,
        "repeat": listing.repeat,
        "listed_at": listing.listed_at,
    }
    stmt = insert(session, store.marac_cases).values(**values)
    # a case is counted once, when first listed; a later incident joining it changes nothing
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["case_id"]))


async def find_outcome(session: AsyncSession, referral_id: str) -> Outcome | None:
    table = store.referral_outcomes
    row = (
        await session.execute(select(table).where(table.c.referral_id == referral_id))
    ).one_or_none()
    return _outcome(row) if row else None


async def save_outcome(session: AsyncSession, outcome: Outcome) -> None:
    values = {
        "referral_id": outcome.referral_id,
        "agency": outcome.agency,
        "incident_id": outcome.incident_id,
        "due_by": outcome.due_by,
        "acknowledged_at": outcome.acknowledged_at,
        "delivered_at": outcome.delivered_at,
        "dead_at": outcome.dead_at,
        "counted_at": outcome.counted_at,
    }
    await _upsert(session, store.referral_outcomes, "referral_id", values)


async def save_marac_referral(session: AsyncSession, referral: MaracReferral) -> None:
    stmt = insert(session, store.marac_referrals).values(
        marac_referral_id=referral.marac_referral_id,
        case_id=referral.case_id,
        area=referral.area,
        agency=referral.agency,
        received_at=referral.received_at,
    )
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["marac_referral_id"]))


async def save_closure(session: AsyncSession, closure: Closure) -> None:
    stmt = insert(session, store.marac_closures).values(
        case_id=closure.case_id,
        meeting_id=closure.meeting_id,
        area=closure.area,
        meeting_date=closure.meeting_date,
        research_before_meeting=sorted(closure.research_before_meeting),
        closed_at=closure.closed_at,
    )
    # a case is discussed once: its first closing counts
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["case_id"]))


async def find_action(session: AsyncSession, action_id: str) -> MaracAction | None:
    table = store.marac_actions
    row = (await session.execute(select(table).where(table.c.action_id == action_id))).one_or_none()
    return _action(row) if row else None


async def save_action(session: AsyncSession, action: MaracAction) -> None:
    values = {
        "action_id": action.action_id,
        "case_id": action.case_id,
        "area": action.area,
        "agency": action.agency,
        "due_by": action.due_by,
        "completed_at": action.completed_at,
    }
    await _upsert(session, store.marac_actions, "action_id", values)


async def _upsert(session: AsyncSession, table: Table, key: str, values: dict[str, Any]) -> None:
    """Insert the row, or replace every column but `key` of the row already there (a fold's
    result replaces what was known)."""
    stmt = insert(session, table).values(**values)
    updates = {k: v for k, v in values.items() if k != key}
    await session.execute(stmt.on_conflict_do_update(index_elements=[key], set_=updates))


async def facts_between(
    session: AsyncSession, area: str | None, start: datetime, end: datetime
) -> Facts:
    """The read model's facts of one area (or all) from `start` (included) to `end`; facts
    placed by a date (a meeting's, an action's due date) by `start`'s and `end`'s dates."""
    i, c, r = store.incidents, store.marac_cases, store.referral_outcomes
    m, d, a = store.marac_referrals, store.marac_closures, store.marac_actions
    first, last = start.date(), end.date()
    q_incidents = select(i).where(i.c.reported_at >= start, i.c.reported_at < end)
    q_listings = select(c).where(c.c.listed_at >= start, c.c.listed_at < end)
    # an outcome counts in an area once the incident's decision is known
    q_outcomes = (
        select(r, i.c.area)
        .join(i, i.c.incident_id == r.c.incident_id)
        .where(r.c.counted_at >= start, r.c.counted_at < end)
    )
    q_referrals = select(m).where(m.c.received_at >= start, m.c.received_at < end)
    q_closures = select(d).where(d.c.meeting_date >= first, d.c.meeting_date < last)
    q_actions = select(a).where(a.c.due_by >= first, a.c.due_by < last)
    if area:
        q_incidents = q_incidents.where(i.c.area == area)
        q_listings = q_listings.where(c.c.area == area)
        q_outcomes = q_outcomes.where(i.c.area == area)
        q_referrals = q_referrals.where(m.c.area == area)
        q_closures = q_closures.where(d.c.area == area)
        q_actions = q_actions.where(a.c.area == area)

    async def rows(query: Any) -> list[Any]:
        return list((await session.execute(query)).all())

    return Facts(
        incidents=[_incident(row) for row in await rows(q_incidents)],
        listings=[
            Listing(x.case_id, x.meeting_id, x.area, x.meeting_date, x.repeat, utc(x.listed_at))
            for x in await rows(q_listings)
        ],
        outcomes=[_outcome(row) for row in await rows(q_outcomes)],
        marac_referrals=[
            MaracReferral(x.marac_referral_id, x.case_id, x.area, x.agency, utc(x.received_at))
            for x in await rows(q_referrals)
        ],
        closures=[
            Closure(
                x.case_id,
                x.meeting_id,
                x.area,
                x.meeting_date,
                frozenset(x.research_before_meeting),
                utc(x.closed_at),
            )
            for x in await rows(q_closures)
        ],
        actions=[_action(row) for row in await rows(q_actions)],
    )


async def areas(session: AsyncSession) -> list[str]:
    """Every area the read model has heard of."""
    found = set((await session.execute(select(store.incidents.c.area).distinct())).scalars())
    for table in (store.marac_cases, store.marac_referrals, store.marac_actions):
        found |= set((await session.execute(select(table.c.area).distinct())).scalars())
    return sorted(found)


def _incident(row: Any) -> IncidentFacts:
    return IncidentFacts(
        incident_id=row.incident_id,
        area=row.area,
        reported_at=utc(row.reported_at),
        first_decided_at=utc(row.first_decided_at),
        last_decided_at=utc(row.last_decided_at),
        dash_at_first_report=row.dash_at_first_report,
        dash_later=row.dash_later,
        assessed=row.assessed,
        risk_level=row.risk_level,
        regrade=row.regrade,
        flags=frozenset(row.flags),
        children_count=row.children_count,
        referrals=frozenset(row.referrals),
    )


def _outcome(row: Any) -> Outcome:
    def moment(value: datetime | None) -> datetime | None:
        return utc(value) if value is not None else None

    return Outcome(
        referral_id=row.referral_id,
        agency=row.agency,
        incident_id=row.incident_id,
        due_by=moment(row.due_by),
        acknowledged_at=moment(row.acknowledged_at),
        delivered_at=moment(row.delivered_at),
        dead_at=moment(row.dead_at),
        area=getattr(row, "area", ""),
    )


def _action(row: Any) -> MaracAction:
    done = row.completed_at
    return MaracAction(
        action_id=row.action_id,
        case_id=row.case_id,
        area=row.area,
        agency=row.agency,
        due_by=row.due_by,
        completed_at=utc(done) if done is not None else None,
    )
