"""The queries the console needs, returning domain objects (rows never leave this module)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from console import store
from console.domain.facts import IncidentFacts, Listing, Outcome, Overdue, Prioritised
from console.domain.indicators import Facts
from console.domain.people import Person
from shared.db import insert, utc

# sessions and sign-in links


async def add_session(session: AsyncSession, session_hash: str, person: Person) -> None:
    await session.execute(
        store.sessions.insert().values(
            session_hash=session_hash,
            subject=person.subject,
            scopes=" ".join(sorted(person.scopes)),
            csrf_token=person.csrf_token,
            method=person.method,
            created_at=person.signed_in_at,
            expires_at=person.expires_at,
        )
    )


async def find_session(session: AsyncSession, session_hash: str, now: datetime) -> Person | None:
    row = (
        await session.execute(
            select(store.sessions).where(store.sessions.c.session_hash == session_hash)
        )
    ).one_or_none()
    if row is None or utc(row.expires_at) <= now:
        return None
    return Person(
        subject=row.subject,
        scopes=frozenset(row.scopes.split()),
        csrf_token=row.csrf_token,
        method=row.method,
        signed_in_at=utc(row.created_at),
        expires_at=utc(row.expires_at),
    )


async def end_session(session: AsyncSession, session_hash: str, now: datetime) -> None:
    """Remove the session, and any that have expired."""
    await session.execute(
        delete(store.sessions).where(
            (store.sessions.c.session_hash == session_hash) | (store.sessions.c.expires_at <= now)
        )
    )


async def use_link(
    session: AsyncSession, link_id: str, expires_at: datetime, now: datetime
) -> bool:
    """Record a sign-in link's use: False when it was used before."""
    stmt = insert(session, store.used_links).values(
        link_id=link_id, used_at=now, expires_at=expires_at
    )
    result = await session.execute(
        stmt.on_conflict_do_nothing(index_elements=["link_id"]).returning(
            store.used_links.c.link_id
        )
    )
    return result.first() is not None


async def link_used(session: AsyncSession, link_id: str) -> bool:
    table = store.used_links
    found = await session.execute(select(table.c.link_id).where(table.c.link_id == link_id))
    return found.first() is not None


async def purge_expired(session: AsyncSession, now: datetime) -> int:
    """Delete expired pending OpenID requests, sessions and used links (a used link's
    token has expired by then, so its record is no longer needed); how many rows."""
    removed = 0
    for table in (store.oidc_requests, store.sessions, store.used_links):
        result = await session.execute(delete(table).where(table.c.expires_at <= now))
        removed += int(getattr(result, "rowcount", 0) or 0)
    return removed


async def add_oidc_request(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(store.oidc_requests.insert().values(**values))


async def take_oidc_request(
    session: AsyncSession, state: str, now: datetime
) -> dict[str, Any] | None:
    """The pending authorisation request with this state, removed (each is used once)."""
    table = store.oidc_requests
    row = (await session.execute(select(table).where(table.c.state == state))).one_or_none()
    await session.execute(
        delete(table).where((table.c.state == state) | (table.c.expires_at <= now))
    )
    if row is None or utc(row.expires_at) <= now:
        return None
    return dict(row._asdict())


# the read model


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
    stmt = insert(session, store.incidents).values(**values)
    updates = {k: v for k, v in values.items() if k != "incident_id"}
    await session.execute(stmt.on_conflict_do_update(index_elements=["incident_id"], set_=updates))


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


async def save_overdue(
    session: AsyncSession,
    referral_id: str,
    agency: str,
    incident_id: str,
    due_by: datetime,
    overdue_since: datetime,
) -> None:
    stmt = insert(session, store.overdue_referrals).values(
        referral_id=referral_id,
        agency=agency,
        incident_id=incident_id,
        due_by=due_by,
        overdue_since=overdue_since,
    )
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["referral_id"]))


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
    stmt = insert(session, store.referral_outcomes).values(**values)
    updates = {k: v for k, v in values.items() if k != "referral_id"}
    await session.execute(stmt.on_conflict_do_update(index_elements=["referral_id"], set_=updates))


async def save_perpetrator_change(
    session: AsyncSession, event_id: str, change: Prioritised, prioritised: bool
) -> None:
    stmt = insert(session, store.perpetrator_changes).values(
        event_id=event_id,
        perpetrator_id=change.perpetrator_id,
        area=change.area,
        prioritised=prioritised,
        at=change.at,
    )
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["event_id"]))


async def facts_between(
    session: AsyncSession, area: str | None, start: datetime, end: datetime
) -> Facts:
    """The read model's facts of one area (or all) from `start` (included) to `end`."""
    i, c, o, p = (
        store.incidents,
        store.marac_cases,
        store.overdue_referrals,
        store.perpetrator_changes,
    )
    q_incidents = select(i).where(i.c.reported_at >= start, i.c.reported_at < end)
    q_listings = select(c).where(c.c.listed_at >= start, c.c.listed_at < end)
    q_overdue = (
        select(o, i.c.area)
        .join(i, i.c.incident_id == o.c.incident_id)
        .where(o.c.due_by >= start, o.c.due_by < end)
    )
    q_perps = select(p).where(p.c.prioritised.is_(True), p.c.at >= start, p.c.at < end)
    r = store.referral_outcomes
    # an outcome counts in an area once the incident's decision is known
    q_outcomes = (
        select(r, i.c.area)
        .join(i, i.c.incident_id == r.c.incident_id)
        .where(r.c.counted_at >= start, r.c.counted_at < end)
    )
    if area:
        q_incidents = q_incidents.where(i.c.area == area)
        q_listings = q_listings.where(c.c.area == area)
        q_overdue = q_overdue.where(i.c.area == area)
        q_perps = q_perps.where(p.c.area == area)
        q_outcomes = q_outcomes.where(i.c.area == area)
    return Facts(
        incidents=[_incident(r) for r in (await session.execute(q_incidents)).all()],
        listings=[
            Listing(r.case_id, r.meeting_id, r.area, r.meeting_date, r.repeat, utc(r.listed_at))
            for r in (await session.execute(q_listings)).all()
        ],
        overdue=[
            Overdue(r.referral_id, r.agency, r.area, utc(r.due_by))
            for r in (await session.execute(q_overdue)).all()
        ],
        prioritised=[
            Prioritised(r.perpetrator_id, r.area, utc(r.at))
            for r in (await session.execute(q_perps)).all()
        ],
        outcomes=[_outcome(row) for row in (await session.execute(q_outcomes)).all()],
    )


async def areas(session: AsyncSession) -> list[str]:
    """Every area the read model has heard of."""
    found = set((await session.execute(select(store.incidents.c.area).distinct())).scalars())
    found |= set((await session.execute(select(store.marac_cases.c.area).distinct())).scalars())
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
