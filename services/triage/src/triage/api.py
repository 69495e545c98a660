"""Triage's HTTP API (contract section 4): thin, parse -> handler -> answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.auth import Principal, require
from shared.schemas import TriageDecided
from shared.schemas.v1 import RiskLevel
from shared.text import checked
from triage import handlers, queries
from triage.deciding import Triage

router = APIRouter(prefix="/v1", tags=["triage"])
Reader = Annotated[Principal, Depends(require("triage:read"))]
Regrader = Annotated[Principal, Depends(require("triage:regrade"))]
PROBLEMS: dict[int | str, dict[str, str]] = {
    401: {"description": "No token, or not a valid one"},
    403: {"description": "The token lacks the scope"},
    404: {"description": "Triage knows no incident with this id (yet)"},
    422: {"description": "Problem details naming every bad field"},
}
Text = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=2000),
    checked(multiline=True, visible=True),
]
Author = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=200),
    checked(visible=True),
]


def _triage(request: Request) -> Triage:
    triage: Triage = request.app.state.triage
    return triage


TriageDep = Annotated[Triage, Depends(_triage)]


class RegradeRequest(BaseModel):
    """The central referral unit's re-grade. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    risk_level: RiskLevel = Field(examples=["high"])
    reason: Text = Field(examples=["Escalating threats reported by the IDVA."])
    by: Author = Field(examples=["DS 4321, CRU"])


class RegradeAccepted(BaseModel):
    incident_id: UUID
    regrade_id: UUID
    decision_id: UUID = Field(description="The decision the re-grade made")
    status: Literal["accepted"] = "accepted"


@router.get(
    "/decisions/{incident_id}",
    response_model=TriageDecided,
    summary="The latest decision on an incident",
    responses={404: {"description": "No decision on this incident yet"}, **PROBLEMS},
)
async def get_decision(incident_id: UUID, triage: TriageDep, _: Reader) -> TriageDecided:
    """The latest decision: the data of its `mash.triage.decided` event."""
    async with triage.platform.sessions() as session:
        decision = await queries.current_decision(session, str(incident_id))
    if decision is None:
        raise HTTPException(404, "There is no decision on this incident yet.")
    return TriageDecided.model_validate(decision)


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
