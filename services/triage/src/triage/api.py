"""Triage's HTTP API (contract section 4): thin, parse -> handler -> answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request

from shared.audit import ReadAudit, audited
from shared.auth import Principal, require
from shared.schemas import TriageDecided
from triage import handlers, repository
from triage.handlers import Triage
from triage.schemas import RegradeAccepted, RegradeRequest

router = APIRouter(prefix="/v1", tags=["triage"])
Reader = Annotated[ReadAudit, Depends(audited("triage:read"))]
Regrader = Annotated[Principal, Depends(require("triage:regrade"))]
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
        await audit.record(session, "decision", [str(incident_id)], 200 if decision else 404)
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
    incident_id: UUID, body: RegradeRequest, triage: TriageDep, principal: Regrader
) -> RegradeAccepted:
    """Set the risk level outright; a new decision (`risk_basis: regrade`) is published.
    Referrals already made stay: a lower re-grade withdraws nothing."""
    order = handlers.RegradeOrder(body.risk_level, body.reason, body.by, principal.subject)
    try:
        done = await handlers.regrade(triage, incident_id, order, datetime.now(UTC))
    except handlers.UnknownIncident:
        raise HTTPException(404, "Triage knows no incident with this id.") from None
    return RegradeAccepted(
        incident_id=incident_id, regrade_id=done.regrade_id, decision_id=done.decision_id
    )
