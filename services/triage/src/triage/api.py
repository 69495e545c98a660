"""Triage's HTTP API (contract section 4): thin, parse -> handler -> answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request

from shared.audit import ReadAudit, audited
from shared.schemas import TriageDecided
from triage import handlers, repository
from triage.handlers import Triage
from triage.schemas import RegradeAccepted, RegradeRequest

router = APIRouter(prefix="/v1", tags=["triage"])
Reader = Annotated[ReadAudit, Depends(audited("triage:read"))]
Regrader = Annotated[ReadAudit, Depends(audited("triage:regrade"))]
"""A re-grader, and who and which route the alteration is logged as (contract section 12)."""
PROBLEMS: dict[int | str, dict[str, str]] = {
    401: {"description": "No token, or not a valid one"},
    403: {"description": "The token lacks the scope"},
    404: {"description": "Triage knows no incident with this id (yet)"},
    422: {"description": "Problem details naming every bad field"},
}


async def _triage(request: Request) -> Triage:
    triage: Triage = request.app.state.triage
    return triage


TriageDep = Annotated[Triage, Depends(_triage)]


@router.get(
    "/decisions/{incident_id}",
    response_model=TriageDecided,
    summary="The latest decision on an incident",
    responses={404: {"description": "No decision on this incident yet"}, **PROBLEMS},
)
async def get_decision(incident_id: UUID, triage: TriageDep, audit: Reader) -> TriageDecided:
    """The latest decision: the data of its `mash.triage.decided` event. Audited."""
    async with triage.platform.uow() as session:
        decision = await repository.current_decision(session, str(incident_id))
        status, keys = (200, triage.keys(decision.incident)) if decision else (404, ())
        await audit.record(session, "decision", [str(incident_id)], status, subjects=keys)
    if decision is None:
        raise HTTPException(404, "There is no decision on this incident yet.")
    return decision


@router.post(
    "/incidents/{incident_id}/regrade",
    status_code=202,
    response_model=RegradeAccepted,
    summary="Re-grade an incident's risk (central referral unit)",
    responses=PROBLEMS,
)
async def regrade(
    incident_id: UUID, body: RegradeRequest, triage: TriageDep, caller: Regrader
) -> RegradeAccepted:
    """Set the risk level outright; a new decision (`risk_basis: regrade`) is published.
    Referrals already made stay: a lower re-grade withdraws nothing."""
    order = handlers.RegradeOrder(body.risk_level, body.reason, body.by, caller.sub, caller.route)
    try:
        done = await handlers.regrade(triage, incident_id, order, datetime.now(UTC))
    except handlers.UnknownIncident:
        raise HTTPException(404, "Triage knows no incident with this id.") from None
    return RegradeAccepted(
        incident_id=incident_id, regrade_id=done.regrade_id, decision_id=done.decision_id
    )
