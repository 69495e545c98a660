"""The queries perpetrators needs, returning domain objects (rows never leave this module)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from perpetrators import store
from perpetrators.domain.perpetrator import (
    IncidentOnRecord,
    Perpetrator,
    PersonDetails,
    ScoreChange,
)
from perpetrators.domain.scoring import Components, Incident, Score
from shared.db import insert, utc
from shared.identity import Identity
from shared.pagination import keyset
from shared.schemas.v1 import RiskLevel

P = store.perpetrators


async def resolve_perpetrator(
    session: AsyncSession, identity: Identity, new_id: str, now: datetime
) -> str:
    """The perpetrator these identity hashes belong to (a new one: `new_id`); every hash
    is recorded against them. Two different person ids are two people, even when the
    names and date of birth agree. The caller holds the hashes first (`shared.db.hold`)."""
    rows = (
        await session.execute(
            select(store.identities).where(store.identities.c.identity.in_(identity.hashes))
        )
    ).all()
    known = {row.identity: row.perpetrator_id for row in rows}
    ref = new_id
    if identity.person_id and identity.person_id in known:
        ref = known[identity.person_id]
    elif identity.names_dob and identity.names_dob in known:
        candidate = known[identity.names_dob]
        if identity.person_id is None or not await _has_person_id(session, candidate):
            ref = candidate
    kinds = {identity.person_id: "pid", identity.names_dob: "ndob"}
    missing = [h for h in identity.hashes if h not in known]
    if missing:
        stmt = insert(session, store.identities).values(
            [
                {"identity": h, "kind": kinds[h], "perpetrator_id": ref, "created_at": now}
                for h in missing
            ]
        )
        await session.execute(stmt.on_conflict_do_nothing(index_elements=["identity"]))
    return ref


async def identity_keys(session: AsyncSession, refs: list[str]) -> dict[str, tuple[str, ...]]:
    """Each perpetrator's identity hashes: the hub's pseudonymous keys of the person (the
    log names them, never the person)."""
    if not refs:
        return {}
    stmt = (
        select(store.identities.c.perpetrator_id, store.identities.c.identity)
        .where(store.identities.c.perpetrator_id.in_(refs))
        .order_by(store.identities.c.kind.desc())  # pid first, as shared.identity does
    )
    found: dict[str, tuple[str, ...]] = {}
    for row in (await session.execute(stmt)).all():
        found[row.perpetrator_id] = (*found.get(row.perpetrator_id, ()), row.identity)
    return found


async def _has_person_id(session: AsyncSession, perpetrator_id: str) -> bool:
    stmt = select(store.identities.c.identity).where(
        store.identities.c.perpetrator_id == perpetrator_id, store.identities.c.kind == "pid"
    )
    return (await session.execute(stmt.limit(1))).first() is not None


async def save_incident(session: AsyncSession, perpetrator_id: str, kept: IncidentOnRecord) -> None:
    """Record the incident, or update it from a later decision (a DASH, a re-grade): one
    incident is one row, so a redelivery or a second decision never adds an incident."""
    stmt = insert(session, store.incidents).values(**incident_values(perpetrator_id, kept))
    stmt = stmt.on_conflict_do_update(
        index_elements=["incident_id"],
        set_={name: stmt.excluded[name] for name in CHANGING},
        # decisions may arrive out of order: the latest decision's facts stand
        where=store.incidents.c.decided_at <= stmt.excluded.decided_at,
    )
    await session.execute(stmt)


CHANGING = ("decided_at", "risk_level", "child_present", "abuse_types")
"""What a later decision of a stored incident changes (`save_incident`)."""


def incident_values(perpetrator_id: str, kept: IncidentOnRecord) -> dict[str, Any]:
    """An incident on record as its row."""
    incident, suspect = kept.incident, kept.suspect
    return {
        "incident_id": incident.incident_id,
        "perpetrator_id": perpetrator_id,
        "area": kept.area,
        "reported_at": incident.reported_at,
        "decided_at": kept.decided_at,
        "risk_level": incident.risk_level,
        "child_present": incident.child_present,
        "abuse_types": list(incident.abuse_types),
        "victim_pid": incident.victim.person_id,
        "victim_ndob": incident.victim.names_dob,
        "suspect_given_name": suspect.given_name,
        "suspect_family_name": suspect.family_name,
        "suspect_date_of_birth": suspect.date_of_birth,
    }


async def incidents_of(session: AsyncSession, perpetrator_id: str) -> list[IncidentOnRecord]:
    """Every incident on record against the perpetrator, oldest first."""
    stmt = (
        select(store.incidents)
        .where(store.incidents.c.perpetrator_id == perpetrator_id)
        .order_by(store.incidents.c.reported_at, store.incidents.c.incident_id)
    )
    return [incident_of(row) for row in (await session.execute(stmt)).all()]


async def lock(session: AsyncSession, perpetrator_id: str) -> Perpetrator | None:
    """The perpetrator's standing, locked until the transaction ends; None when new."""
    stmt = select(P).where(P.c.perpetrator_id == perpetrator_id).with_for_update()
    row = (await session.execute(stmt)).first()
    return perpetrator_of(row) if row else None


async def save(session: AsyncSession, perpetrator: Perpetrator, before: Perpetrator | None) -> None:
    """Store the new standing; a changed score also goes into the history."""
    score, values = perpetrator.score, standing_values(perpetrator)
    if before is None:
        await session.execute(
            P.insert().values(perpetrator_id=perpetrator.perpetrator_id, **values)
        )
    else:
        await session.execute(
            update(P).where(P.c.perpetrator_id == perpetrator.perpetrator_id).values(**values)
        )
    if before is None or before.score.score != score.score:
        await session.execute(
            store.score_history.insert().values(
                perpetrator_id=perpetrator.perpetrator_id,
                scored_at=score.scored_at,
                score=score.score,
            )
        )


def standing_values(perpetrator: Perpetrator) -> dict[str, Any]:
    """A perpetrator's standing as its row (but the id)."""
    score, parts, person = perpetrator.score, perpetrator.score.components, perpetrator.person
    return {
        "area": perpetrator.area,
        "given_name": person.given_name,
        "family_name": person.family_name,
        "date_of_birth": person.date_of_birth,
        "score": score.score,
        "recency": parts.recency,
        "frequency": parts.frequency,
        "gravity": parts.gravity,
        "victims": parts.victims,
        "priority": perpetrator.priority,
        "incidents_24m": score.incidents_24m,
        "victims_count": score.victims_count,
        "children_involved": score.children_involved,
        "last_incident_at": score.last_incident_at,
        "last_incident_id": perpetrator.last_incident_id,
        "scored_at": score.scored_at,
        "policy_version": score.policy_version,
        "policy_owner": score.policy_owner,
    }


async def find(
    session: AsyncSession,
    perpetrator_id: str,
    window_start: Callable[[datetime], datetime] | None = None,
) -> Perpetrator | None:
    """The perpetrator with their score history and the ids of their incidents (those from
    `window_start(scored_at)` on, when given: the ones the score counted)."""
    row = (await session.execute(select(P).where(P.c.perpetrator_id == perpetrator_id))).first()
    if row is None:
        return None
    found = perpetrator_of(row)
    start = window_start(found.score.scored_at) if window_start else None
    incidents = select(store.incidents.c.incident_id).where(
        store.incidents.c.perpetrator_id == perpetrator_id
    )
    if start is not None:
        incidents = incidents.where(store.incidents.c.reported_at >= start)
    incidents = incidents.order_by(store.incidents.c.reported_at, store.incidents.c.incident_id)
    history = (
        select(store.score_history)
        .where(store.score_history.c.perpetrator_id == perpetrator_id)
        .order_by(store.score_history.c.id)
    )
    return replace(
        found,
        incident_ids=tuple((await session.execute(incidents)).scalars()),
        history=tuple(
            ScoreChange(utc(h.scored_at), h.score) for h in (await session.execute(history)).all()
        ),
    )


NEVER = datetime(1900, 1, 1, tzinfo=UTC)
"""Stands for "no incident yet" in the list's key: such perpetrators come last."""
AREA_ORDER: tuple[tuple[Any, bool], ...] = (
    (P.c.score, True),
    (func.coalesce(P.c.last_incident_at, literal(NEVER, P.c.last_incident_at.type)), True),
    (P.c.perpetrator_id, False),
)
"""Highest score first, then the most recent incident; the id breaks ties (a cursor's key)."""


def area_key(perpetrator: Perpetrator) -> tuple[int, datetime, str]:
    """A perpetrator's place in its area's list, as `AREA_ORDER` sorts it."""
    last = perpetrator.score.last_incident_at or NEVER
    return (perpetrator.score.score, last, perpetrator.perpetrator_id)


async def in_area(
    session: AsyncSession,
    area: str,
    priority_only: bool,
    after: Sequence[Any] | None = None,
    limit: int | None = None,
) -> list[Perpetrator]:
    """The area's perpetrators, highest score first (ties: the most recent incident):
    `limit` of them after the one whose `area_key` is `after` (a page)."""
    stmt = select(P).where(P.c.area == area)
    if priority_only:
        stmt = stmt.where(P.c.priority.is_(True))
    if after is not None:
        stmt = stmt.where(keyset(AREA_ORDER, after))
    stmt = stmt.order_by(*(c.desc() if d else c for c, d in AREA_ORDER)).limit(limit)
    return [perpetrator_of(row) for row in (await session.execute(stmt)).all()]


async def all_ids(session: AsyncSession) -> list[str]:
    """Every perpetrator on record (the daily re-score visits each)."""
    stmt = select(P.c.perpetrator_id).order_by(P.c.perpetrator_id)
    return list((await session.execute(stmt)).scalars())


def incident_of(row: Any) -> IncidentOnRecord:
    return IncidentOnRecord(
        incident=Incident(
            incident_id=row.incident_id,
            reported_at=utc(row.reported_at),
            risk_level=cast(RiskLevel, row.risk_level),
            child_present=row.child_present,
            abuse_types=tuple(row.abuse_types),
            victim=Identity(row.victim_pid, row.victim_ndob),
        ),
        area=row.area,
        decided_at=utc(row.decided_at),
        suspect=PersonDetails(
            row.suspect_given_name, row.suspect_family_name, row.suspect_date_of_birth
        ),
    )


def perpetrator_of(row: Any) -> Perpetrator:
    return Perpetrator(
        perpetrator_id=row.perpetrator_id,
        area=row.area,
        person=PersonDetails(row.given_name, row.family_name, row.date_of_birth),
        score=Score(
            score=row.score,
            components=Components(row.recency, row.frequency, row.gravity, row.victims),
            incidents_24m=row.incidents_24m,
            victims_count=row.victims_count,
            children_involved=row.children_involved,
            last_incident_at=utc(row.last_incident_at) if row.last_incident_at else None,
            scored_at=utc(row.scored_at),
            policy_version=row.policy_version,
            policy_owner=row.policy_owner,
        ),
        priority=row.priority,
        last_incident_id=row.last_incident_id,
    )
