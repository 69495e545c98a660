"""The policy page (contract sections 4 and 11, scope `triage:policy`): the triage policy
in force and its history, a trial of an edited copy over a period, the trial's progress
and summary (a table and a chart), and applying it after a confirmation.

Every answer is triage's, asked as the signed-in person: the console keeps no policy and
no trial of its own. A trial's page refreshes itself while it runs (a `<meta>` refresh,
no script), and its address, holding only the trial's id, is the way back to it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from starlette.background import BackgroundTask

from console.inputs import BadRequest, NotFoundPage, day, identifier
from console.policy_form import copy_of, field_errors, filled
from console.upstream import Rejected, Unavailable, segments
from console.web import FormTokenDep, PersonDep, UpstreamDep, check_csrf, needs, render, slug

router = APIRouter(include_in_schema=False)
SCOPE = "triage:policy"
REFRESH_SECONDS = 2
Since = Annotated[str, Form(max_length=10)]


@router.get("/policy", response_class=HTMLResponse)
async def policy_page(
    request: Request,
    person: PersonDep,
    upstream: UpstreamDep,
    applied: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    needs(person, SCOPE)
    view = await upstream.json("triage", "/v1/policy", person)
    form = copy_of(view["current"], datetime.now(UTC).date())
    history = list(reversed(view.get("history", [])))
    shown = applied if applied and applied == view["current"].get("version") else None
    return render(
        request, "policy.html", person, view=view, history=history, form=form, applied=shown
    )


@router.post("/policy/trials", response_class=HTMLResponse)
async def start_trial(request: Request, person: PersonDep, upstream: UpstreamDep) -> Response:
    """A trial of the form's policy; a form with mistakes comes back with each one named."""
    sent = await request.form()
    check_csrf(person, sent.get("csrf_token"))
    needs(person, SCOPE)
    view = await upstream.json("triage", "/v1/policy", person)
    texts = {k: v for k, v in sent.items() if isinstance(v, str) and len(v) <= 20_000}
    form, body = filled(view["current"], texts)
    if form.period["area"]:
        try:
            slug(form.period["area"], "area")
        except BadRequest as exc:
            form.errors["area"] = exc.detail
    if not form.errors:
        try:
            answer = await upstream.call("triage", "POST", "/v1/policy-trials", person, body=body)
        except Rejected as exc:
            if exc.status != 422:
                raise
            form.errors.update(field_errors(form, exc.errors) or {"policy": exc.detail})
        else:
            try:
                trial_id = identifier(str(answer.json().get("trial_id", "")))
            except (ValueError, AttributeError, NotFoundPage):
                raise Unavailable("triage") from None
            return RedirectResponse(f"/policy/trials/{trial_id}", 303)
    history = list(reversed(view.get("history", [])))
    context = {"view": view, "history": history, "form": form, "applied": None}
    return render(request, "policy.html", person, 400, **context)


async def _trial(upstream: UpstreamDep, person: PersonDep, trial_id: str) -> dict[str, Any]:
    found: dict[str, Any] = await upstream.json(
        "triage", segments("v1", "policy-trials", trial_id), person
    )
    return found


@router.get("/policy/trials/{trial_id}", response_class=HTMLResponse)
async def trial_page(
    request: Request, trial_id: str, person: PersonDep, upstream: UpstreamDep
) -> Response:
    needs(person, SCOPE)
    trial = await _trial(upstream, person, identifier(trial_id))
    return _trial_view(request, person, trial)


def _trial_view(
    request: Request,
    person: PersonDep,
    trial: dict[str, Any],
    status: int = 200,
    since: str = "",
    error: str = "",
) -> HTMLResponse:
    summary = trial.get("summary") or {}
    return render(
        request,
        "policy_trial.html",
        person,
        status,
        trial=trial,
        summary=summary,
        chart=chart(summary),
        refresh=REFRESH_SECONDS if trial.get("status") == "running" else None,
        since=since,
        error=error,
    )


def chart(summary: dict[str, Any]) -> dict[str, Any]:
    """What the trial's chart draws: the same figures as its tables."""
    referrals: dict[str, dict[str, int]] = summary.get("referrals") or {}
    moves: dict[str, int] = summary.get("risk_level") or {}
    agencies = sorted(referrals)
    return {
        "agencies": agencies,
        "added": [referrals[a].get("added", 0) for a in agencies],
        "removed": [referrals[a].get("removed", 0) for a in agencies],
        "moves": sorted(moves),
        "moved": [moves[m] for m in sorted(moves)],
    }


@router.get("/policy/trials/{trial_id}/changes.csv")
async def trial_changes(trial_id: str, person: PersonDep, upstream: UpstreamDep) -> Response:
    """Each decision the trial changes, by ids only, streamed as triage sends it."""
    needs(person, SCOPE)
    trial_id = identifier(trial_id)
    path = segments("v1", "policy-trials", trial_id, "changes.csv")
    answer = await upstream.stream("triage", path, person)
    return StreamingResponse(
        answer.aiter_bytes(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="trial-{trial_id}-changes.csv"',
            "Cache-Control": "no-store",
        },
        background=BackgroundTask(answer.aclose),
    )


@router.post("/policy/trials/{trial_id}/apply", response_class=HTMLResponse)
async def apply_trial(
    request: Request,
    trial_id: str,
    person: PersonDep,
    upstream: UpstreamDep,
    csrf_token: FormTokenDep,
    redecide_since: Since = "",
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """First the question (what will happen, from which date), then, confirmed, the
    change: the trial's policy becomes current and triage decides again since the date."""
    check_csrf(person, csrf_token)
    needs(person, SCOPE)
    trial_id = identifier(trial_id)
    trial = await _trial(upstream, person, trial_id)
    try:
        since = day(redecide_since.strip(), "redecide_since")
    except BadRequest:
        since = None
    if since is None:
        error = "Enter the date from which incidents are decided again, like 2026-11-01."
        return _trial_view(request, person, trial, 400, redecide_since, error)
    if confirm != "yes":
        return render(request, "policy_apply.html", person, trial=trial, since=since)
    path = segments("v1", "policy-trials", trial_id, "apply")
    body = {"redecide_since": since.isoformat()}
    await upstream.call("triage", "POST", path, person, body=body)
    applied = urlencode({"applied": str(trial.get("policy_version", ""))})
    return RedirectResponse(f"/policy?{applied}", 303)
