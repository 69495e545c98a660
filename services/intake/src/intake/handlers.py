"""Intake's commands: accept an incident, accept a later DASH. Each commits its state, its
outgoing event and its log entry (`collected`, contract section 12) together (the outbox)
before anyone is told it was accepted.

The victim's equality monitoring never travels with the incident: `mash.incidents.v1`
carries the incident without it (triage, notify and perpetrators must never receive it,
issue 21), and the block goes, in the same transaction, on the internal topic
`mash.intake.equality.v1`, which only marac reads, for its national dataset return."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from intake import repository
from intake.config import Settings
from intake.domain.rules import fingerprint, timing_errors
from shared import audit
from shared.audit import Item, ReadAudit
from shared.envelope import CloudEvent
from shared.errors import FieldErrors
from shared.identity import victim_key
from shared.schemas import (
    Dash,
    EqualityGiven,
    IncidentReport,
    IncidentReported,
    RiskAssessmentSubmitted,
)
from shared.service import Platform
from shared.telemetry import current_trace_id
from shared.topics import (
    EQUALITY_GIVEN,
    INCIDENT_REPORTED,
    INCIDENTS,
    INTAKE_EQUALITY,
    RISK_ASSESSMENT_SUBMITTED,
)

SOURCE = "/mash/intake"


class ReferenceConflict(Exception):
    """The control room reused a reference for a different incident."""


class UnknownIncident(Exception):
    """No incident has this id."""


@dataclass(frozen=True)
class Accepted:
    """The id of what was accepted (an incident, an assessment), and whether this request
    created it."""

    id: UUID
    created: bool


async def report_incident(
    platform: Platform[Settings], report: IncidentReport, now: datetime, caller: ReadAudit
) -> Accepted:
    """Record an incident and its `mash.incident.reported` event, once per reference, and
    log its collection by `caller` (the people by their keys only)."""
    settings = platform.settings
    people = [report.victim, report.suspect, *report.children]
    subjects = audit.keys_of(settings.hub.pseudonym_key, people)
    errors = timing_errors(report, now, timedelta(seconds=settings.clock_skew_seconds))
    if errors:
        raise FieldErrors(errors)
    digest = fingerprint(report)

    async def record(session: AsyncSession) -> Accepted | repository.Incident:
        """The incident and its event, or the incident already recorded under the reference."""
        existing = await repository.find_by_reference(
            session, report.force, report.control_room_ref
        )
        if existing is not None:
            return existing
        incident_id, event_id = uuid4(), uuid4()
        key = victim_key(settings.hub.pseudonym_key, report.victim, incident_id)
        await repository.add_incident(
            session,
            repository.Incident(
                incident_id=incident_id,
                force=report.force,
                control_room_ref=report.control_room_ref,
                area=report.area,
                victim_key=key,
                fingerprint=digest,
                event_id=event_id,
                received_at=now,
                trace_id=current_trace_id(),
                subjects=subjects,
            ),
        )
        data = IncidentReported(
            **report.model_dump(exclude={"victim": {"equality"}}),
            incident_id=incident_id,
            received_at=now,
        )
        await _stage_equality(platform, session, report, incident_id, key, now)
        await platform.outbox.add(
            session,
            INCIDENTS,
            key,
            CloudEvent(
                id=str(event_id),
                source=SOURCE,
                type=INCIDENT_REPORTED,
                subject=str(incident_id),
                data=data.model_dump(mode="json"),
                time=now,
            ),
        )
        collected = caller.entry("collected", "incident")
        found = [Item(str(incident_id), subjects)]
        await audit.log(platform.outbox, session, collected, found, now)
        return Accepted(incident_id, created=True)

    try:
        # concurrent reports share one transaction; each is answered after it commits
        outcome = await platform.group_commit.run(record)
    except IntegrityError:
        # a concurrent post of the same reference (another replica) won the unique constraint
        async with platform.sessions() as session:
            found = await repository.find_by_reference(
                session, report.force, report.control_room_ref
            )
        if found is None:
            raise
        outcome = found
    if isinstance(outcome, Accepted):
        return outcome
    existing = outcome
    if existing.fingerprint != digest:
        raise ReferenceConflict(report.control_room_ref)
    return Accepted(existing.incident_id, created=False)


async def _stage_equality(
    platform: Platform[Settings],
    session: AsyncSession,
    report: IncidentReport,
    incident_id: UUID,
    key: str,
    now: datetime,
) -> None:
    """The victim's equality monitoring, if given, for marac alone: the incident's id, area
    and time with it, nothing else (no name, no other personal data). Its order against
    the incident's event does not matter: marac counts it by incident id, whenever it
    came."""
    equality = report.victim.equality
    if equality is None:
        return
    data = EqualityGiven(
        incident_id=incident_id, area=report.area, reported_at=report.reported_at, equality=equality
    )
    await platform.outbox.add(
        session,
        INTAKE_EQUALITY,
        key,
        CloudEvent(
            id=str(uuid4()),
            source=SOURCE,
            type=EQUALITY_GIVEN,
            subject=str(incident_id),
            data=data.model_dump(mode="json"),
            time=now,
        ),
    )


async def submit_risk_assessment(
    platform: Platform[Settings], incident_id: UUID, dash: Dash, now: datetime, caller: ReadAudit
) -> Accepted:
    """Record a DASH completed after the report and publish it on the incident's key, and
    log its collection by `caller` (ids: the assessment and its incident; subjects: the
    incident's people). The same body again for the same incident is the same assessment
    (a retried post): nothing new is collected."""
    digest = fingerprint(dash)
    try:
        async with platform.uow() as session:
            incident = await repository.find(session, incident_id)
            if incident is None:
                raise UnknownIncident(str(incident_id))
            existing = await repository.find_risk_assessment(session, incident_id, digest)
            if existing is None:
                event_id = uuid4()
                await repository.add_risk_assessment(session, event_id, incident_id, digest, now)
                data = RiskAssessmentSubmitted(
                    **dash.model_dump(), incident_id=incident_id, submitted_at=now
                )
                await platform.outbox.add(
                    session,
                    INCIDENTS,
                    incident.victim_key,
                    CloudEvent(
                        id=str(event_id),
                        source=SOURCE,
                        type=RISK_ASSESSMENT_SUBMITTED,
                        subject=str(incident_id),
                        data=data.model_dump(mode="json"),
                        time=now,
                    ),
                )
                collected = caller.entry("collected", "risk_assessment")
                ids = audit.items([str(event_id), str(incident_id)], incident.subjects)
                await audit.log(platform.outbox, session, collected, ids, now)
                return Accepted(event_id, created=True)
    except IntegrityError:
        # a concurrent post of the same body won the unique constraint
        async with platform.sessions() as session:
            existing = await repository.find_risk_assessment(session, incident_id, digest)
        if existing is None:
            raise
    return Accepted(existing, created=False)
