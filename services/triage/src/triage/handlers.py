"""Triage's commands and event handlers: load, call the domain, save, emit.

Each runs in one transaction; every decision goes out through the outbox with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import utc
from shared.envelope import CloudEvent
from shared.identity import victim_key
from shared.kafka import PoisonMessage
from shared.schemas import Dash, IncidentReported, MaracCaseListed, RiskAssessmentSubmitted
from shared.schemas.v1 import Regrade, RiskLevel
from shared.topics import INCIDENT_REPORTED, MARAC_CASE_LISTED, RISK_ASSESSMENT_SUBMITTED
from triage import histories, queries, store
from triage.deciding import Triage, decide_and_publish, knock_on_cause, redecide_if_changed
from triage.domain.identity import identify


class UnknownIncident(Exception):
    """Triage has no incident with this id (yet)."""


@dataclass(frozen=True)
class RegradeOrder:
    """The central referral unit's re-grade: the level, why, and by whom."""

    risk_level: RiskLevel
    reason: str
    by: str
    principal: str


@dataclass(frozen=True)
class Regraded:
    regrade_id: UUID
    decision_id: UUID


async def incident_reported(
    triage: Triage, session: AsyncSession, event: CloudEvent, now: datetime
) -> None:
    """A new incident: remember it in its people's history and decide on it."""
    incident = IncidentReported.model_validate(event.data)
    incident_id = str(incident.incident_id)
    victim = identify(triage.secret, incident.victim)
    suspect = identify(triage.secret, incident.suspect) if incident.suspect else None
    await queries.lock(session, queries.lock_names(incident_id, victim, suspect), now)
    if await queries.find_incident(session, incident_id) is not None:
        return  # already decided on: the same incident again under another event id
    key = victim_key(triage.secret, incident.victim, incident_id)
    await queries.add_incident(session, incident, key, victim, suspect, now)
    await decide_and_publish(triage, session, incident_id, event.id, now)
    # Another victim's incidents travel on another partition: one reported later may have
    # been decided first. Its windows now hold this one, so decide on it again.
    later = await histories.later_incidents(
        session, victim, suspect, incident.reported_at, exclude=[incident_id]
    )
    for other in later:
        await redecide_if_changed(triage, session, other, knock_on_cause(event.id, other), now)


async def risk_assessment_submitted(
    triage: Triage, session: AsyncSession, event: CloudEvent, now: datetime
) -> None:
    """A DASH completed after the report: it replaces the incident's DASH; decide again.

    A CRU re-grade already made stays in force (the level is the CRU's until it re-grades
    again); the new score still counts for `visible_high_risk` and the flags.
    """
    submitted = RiskAssessmentSubmitted.model_validate(event.data)
    incident_id = str(submitted.incident_id)
    row = await queries.find_incident(session, incident_id)
    if row is None:
        # one victim's events share a partition, so the incident always comes first
        raise PoisonMessage("a risk assessment for an incident triage has never seen")
    record = queries.record_of(row)
    await queries.lock(session, queries.lock_names(incident_id, record.victim, record.suspect), now)
    dash = Dash.model_validate(submitted.model_dump(include=set(Dash.model_fields)))
    await queries.set_incident(session, incident_id, dash=dash.model_dump(mode="json"))
    await decide_and_publish(triage, session, incident_id, event.id, now)


async def case_listed(
    triage: Triage, session: AsyncSession, event: CloudEvent, now: datetime
) -> None:
    """A victim listed at a MARAC: remember it (pseudonymously) for `repeat_marac`."""
    listing = MaracCaseListed.model_validate(event.data)
    victim = identify(triage.secret, listing.victim, listing.victim_person_id)
    if not victim.hashes:
        return  # matches nobody, so it could never make anyone a repeat
    await queries.lock(session, victim.hashes, now)
    await session.execute(
        store.marac_listings.insert().values(
            event_id=event.id,
            case_id=str(listing.case_id),
            victim_pid=victim.person_id,
            victim_ndob=victim.names_dob,
            listed_at=utc(listing.listed_at),
            incident_ids=[str(i) for i in listing.incident_ids],
        )
    )
    # the victim's next incident may have been decided before this listing arrived
    listed = [str(i) for i in listing.incident_ids]
    since = min(
        (utc(r.reported_at) for r in await queries.history_of(session, listed)),
        default=utc(listing.listed_at) - timedelta(days=366),
    )
    for other in await histories.later_incidents(session, victim, None, since, exclude=listed):
        await redecide_if_changed(triage, session, other, knock_on_cause(event.id, other), now)


async def regrade(
    triage: Triage, incident_id: UUID, order: RegradeOrder, now: datetime
) -> Regraded:
    """Record the CRU's re-grade (who, when, why) and publish the decision it makes."""
    key = str(incident_id)
    async with triage.platform.uow() as session:
        row = await queries.find_incident(session, key)
        if row is None:
            raise UnknownIncident(key)
        record = queries.record_of(row)
        await queries.lock(session, queries.lock_names(key, record.victim, record.suspect), now)
        regrade_id = uuid4()
        grade = Regrade(risk_level=order.risk_level, reason=order.reason, by=order.by, at=now)
        await session.execute(
            store.regrades.insert().values(
                regrade_id=str(regrade_id),
                incident_id=key,
                risk_level=order.risk_level,
                reason=order.reason,
                by=order.by,
                principal=order.principal,
                at=utc(now),
            )
        )
        await queries.set_incident(session, key, regrade=grade.model_dump(mode="json"))
        decided = await decide_and_publish(triage, session, key, str(regrade_id), now)
    return Regraded(regrade_id, decided.decision_id)


EventHandler = Callable[[Triage, AsyncSession, CloudEvent, datetime], Awaitable[None]]
EVENT_HANDLERS: dict[str, EventHandler] = {
    INCIDENT_REPORTED: incident_reported,
    RISK_ASSESSMENT_SUBMITTED: risk_assessment_submitted,
    MARAC_CASE_LISTED: case_listed,
}
