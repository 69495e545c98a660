"""Intake's HTTP API (contract section 3): thin, parse -> handler -> answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Response

from intake import handlers, repository
from intake.schemas import AssessmentAccepted, IncidentAccepted, IncidentStatus
from shared.audit import ReadAudit, audited
from shared.errors import ParsedOnce
from shared.schemas import Dash, IncidentReport
from shared.service import PlatformDep
from shared.telemetry import mark_incident

router = APIRouter(prefix="/v1", tags=["incidents"], route_class=ParsedOnce)
"""Its routes take the JSON body `RequestLimits` already parsed (one parse a request)."""
Writer = Annotated[ReadAudit, Depends(audited("incidents:write"))]
"""A writer, and who and which route its collection is logged as (contract section 12)."""
Audited = Annotated[ReadAudit, Depends(audited("incidents:read"))]
PROBLEMS: dict[int | str, dict[str, str]] = {
    401: {"description": "No token, or not a valid one"},
    403: {"description": "The token lacks the scope"},
    413: {"description": "Body over 1 MiB"},
    422: {"description": "Problem details naming every bad field"},
}


@router.post(
    "/incidents",
    status_code=202,
    response_model=IncidentAccepted,
    summary="Report a domestic abuse incident",
    responses={
        200: {
            "description": "Already accepted: the same body for the same reference",
            "model": IncidentAccepted,
        },
        409: {"description": "The reference is already used by a different incident"},
        **PROBLEMS,
    },
)
async def report_incident(
    report: IncidentReport, platform: PlatformDep, caller: Writer, response: Response
) -> IncidentAccepted:
    """Accept an incident. It is committed with its event before this answers 202; the same
    `(force, control_room_ref)` again answers 200 with the same id (identical body) or 409."""
    try:
        accepted = await handlers.report_incident(platform, report, datetime.now(UTC), caller)
    except handlers.ReferenceConflict:
        raise HTTPException(
            409, "This control_room_ref was already reported with a different body."
        ) from None
    mark_incident(accepted.id)
    if not accepted.created:
        response.status_code = 200
    return IncidentAccepted(incident_id=accepted.id, control_room_ref=report.control_room_ref)


@router.post(
    "/incidents/{incident_id}/risk-assessments",
    status_code=202,
    response_model=AssessmentAccepted,
    summary="Add a DASH completed after the report",
    responses={
        200: {
            "description": "Already accepted: the same body for the same incident",
            "model": AssessmentAccepted,
        },
        404: {"description": "Unknown incident"},
        **PROBLEMS,
    },
)
async def submit_risk_assessment(
    incident_id: UUID, dash: Dash, platform: PlatformDep, caller: Writer, response: Response
) -> AssessmentAccepted:
    """Accept a later DASH; triage decides again with it. The same body again for the same
    incident answers 200 with the same `assessment_id` and publishes nothing new."""
    try:
        accepted = await handlers.submit_risk_assessment(
            platform, incident_id, dash, datetime.now(UTC), caller
        )
    except handlers.UnknownIncident:
        raise HTTPException(404, "No incident has this id.") from None
    mark_incident(incident_id)
    if not accepted.created:
        response.status_code = 200
    return AssessmentAccepted(incident_id=incident_id, assessment_id=accepted.id)


@router.get(
    "/incidents/{incident_id}",
    response_model=IncidentStatus,
    summary="An incident's status",
    responses={404: {"description": "Unknown incident"}, **PROBLEMS},
)
async def get_incident(incident_id: UUID, platform: PlatformDep, audit: Audited) -> IncidentStatus:
    """The incident's status; the read is audited (committed before the answer)."""
    async with platform.uow() as session:
        incident = await repository.find(session, incident_id)
        status, subjects = (200, incident.subjects) if incident else (404, ())
        await audit.record(session, "incident", [str(incident_id)], status, subjects=subjects)
    if incident is None:
        raise HTTPException(404, "No incident has this id.")
    return IncidentStatus(
        incident_id=incident.incident_id,
        control_room_ref=incident.control_room_ref,
        force=incident.force,
        area=incident.area,
        received_at=incident.received_at,
        status="published" if incident.published else "accepted",
        trace_id=incident.trace_id,
    )
