"""Triage's HTTP API (contract section 4): thin, parse -> handler -> answer."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse

from shared.audit import ReadAudit, audited
from shared.auth import Principal, require
from shared.errors import FieldErrors
from shared.schemas import TriageDecided
from triage import handlers, repository, trials
from triage.domain.policy import TriagePolicy
from triage.domain.trial import Outcome
from triage.handlers import Triage
from triage.schemas import (
    ApplyAccepted,
    ApplyRequest,
    PolicyChange,
    PolicyView,
    RegradeAccepted,
    RegradeRequest,
    TrialAccepted,
    TrialRequest,
    TrialView,
)

router = APIRouter(prefix="/v1", tags=["triage"])
Audited = Annotated[ReadAudit, Depends(audited("triage:read"))]
Regrader = Annotated[ReadAudit, Depends(audited("triage:regrade"))]
"""A re-grader, and who and which route the alteration is logged as (contract section 12)."""
PolicyMaker = Annotated[Principal, Depends(require("triage:policy"))]
Consulter = Annotated[ReadAudit, Depends(audited("triage:policy"))]
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
async def get_decision(incident_id: UUID, triage: TriageDep, audit: Audited) -> TriageDecided:
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


NO_TRIAL: dict[int | str, dict[str, str]] = {
    404: {"description": "Triage has no trial with this id"}
}


@router.get("/policy", response_model=PolicyView, summary="The policy in force", responses=PROBLEMS)
async def get_policy(triage: TriageDep, _: PolicyMaker) -> PolicyView:
    """The policy decisions are made under now, and every policy applied, oldest first."""
    async with triage.platform.sessions() as session:
        current = await handlers.policy_in_force(triage, session)
        history = await repository.policy_history(session)
    changes = [
        PolicyChange(version=h.version, applied_at=h.applied_at, applied_by=h.applied_by)
        for h in history
    ]
    return PolicyView(current=current, history=changes)


@router.post(
    "/policy-trials",
    status_code=202,
    response_model=TrialAccepted,
    summary="Try a policy on the decisions of a period",
    responses=PROBLEMS,
)
async def start_trial(
    body: TrialRequest, triage: TriageDep, principal: PolicyMaker
) -> TrialAccepted:
    """Decide every incident of the period again under the policy, in the background;
    nothing is published, nothing changes."""
    policy = TriagePolicy.model_validate(body.policy.model_dump())
    order = trials.TrialOrder(policy, body.date_from, body.date_to, body.area)
    try:
        trial_id = await trials.start_trial(triage, order, principal.subject, datetime.now(UTC))
    except trials.VersionInUse:
        msg = "a policy with this version was in force already: give the trial a new version"
        raise FieldErrors([{"loc": ["body", "policy", "version"], "msg": msg}]) from None
    return TrialAccepted(trial_id=UUID(trial_id))


async def _trial(triage: Triage, trial_id: UUID) -> repository.Trial:
    async with triage.platform.sessions() as session:
        trial = await repository.find_trial(session, str(trial_id))
    if trial is None:
        raise HTTPException(404, "Triage has no trial with this id.")
    return trial


@router.get(
    "/policy-trials/{trial_id}",
    response_model=TrialView,
    summary="A trial's progress and summary",
    responses={**NO_TRIAL, **PROBLEMS},
)
async def get_trial(trial_id: UUID, triage: TriageDep, _: PolicyMaker) -> TrialView:
    trial = await _trial(triage, trial_id)
    return TrialView(
        trial_id=trial_id,
        status=trial.status,
        policy_version=trial.policy.version,
        done=trial.done,
        total=trial.total,
        summary=trial.summary,
    )


CSV_COLUMNS = (
    "incident_id",
    "area",
    "reported_at",
    *(
        f"{what}_{when}"
        for what in ("risk_level", "flags", "marac_criteria", "referrals")
        for when in ("before", "after")
    ),
)


def _cells(outcome: Outcome) -> tuple[str, ...]:
    return (
        outcome.risk_level,
        " ".join(outcome.flags),
        " ".join(outcome.criteria),
        " ".join(outcome.referrals),
    )


@router.get(
    "/policy-trials/{trial_id}/changes.csv",
    response_class=StreamingResponse,
    summary="Each decision the trial changes, by ids only",
    responses={200: {"content": {"text/csv": {}}}, **NO_TRIAL, **PROBLEMS},
)
async def trial_changes(trial_id: UUID, triage: TriageDep, audit: Consulter) -> StreamingResponse:
    """Streamed, a page of the store at a time: incident id, area, reported_at, and the
    risk level, flags, MARAC criteria and referrals before and after. No personal data;
    the decisions each page names are logged as consulted as it is read."""
    await _trial(triage, trial_id)

    async def lines() -> AsyncIterator[str]:
        yield _csv_line(CSV_COLUMNS)
        after = 0
        while True:
            async with triage.platform.uow() as session:
                page = await repository.trial_changes(session, str(trial_id), after, 1000)
                if page:
                    await audit.record(session, "decision", [c.incident_id for _, c in page])
            for _, change in page:
                before, now = _cells(change.before), _cells(change.after)
                paired = tuple(cell for pair in zip(before, now, strict=True) for cell in pair)
                yield _csv_line(
                    (change.incident_id, change.area, change.reported_at.isoformat(), *paired)
                )
            if len(page) < 1000:
                return
            after = page[-1][0]

    name = f"trial-{trial_id}-changes.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(lines(), media_type="text/csv", headers=headers)


def _csv_line(cells: tuple[str, ...]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


@router.post(
    "/policy-trials/{trial_id}/apply",
    status_code=202,
    response_model=ApplyAccepted,
    summary="Make a trial's policy current",
    responses={**NO_TRIAL, 409: {"description": "Not finished, or applied already"}, **PROBLEMS},
)
async def apply_trial(
    trial_id: UUID, body: ApplyRequest, request: Request, triage: TriageDep, principal: PolicyMaker
) -> ApplyAccepted:
    """The trial's policy becomes current (logged: altered); the incidents reported since
    `redecide_since` are decided again under it in the background and published."""
    route = getattr(request.scope.get("route"), "path", None) or request.url.path
    now = datetime.now(UTC)
    try:
        await trials.apply_trial(
            triage, str(trial_id), body.redecide_since, principal.subject, route, now
        )
    except trials.UnknownTrial:
        raise HTTPException(404, "Triage has no trial with this id.") from None
    except trials.NotApplicable as exc:
        raise HTTPException(409, str(exc)) from None
    trial = await _trial(triage, trial_id)
    return ApplyAccepted(trial_id=trial_id, policy_version=trial.policy.version)
