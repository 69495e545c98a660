"""The console's pages over the owning services (contract section 11): partner inboxes,
MARAC meetings, perpetrators. Thin: parse -> one call to the service's API -> a template."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from starlette.background import BackgroundTask

from console.inputs import BadRequest, cursor, identifier
from console.upstream import Page
from console.web import (
    Forbidden,
    FormTokenDep,
    PersonDep,
    UpstreamDep,
    check_csrf,
    needs,
    render,
    slug,
)
from shared.topics import AGENCIES

router = APIRouter(include_in_schema=False)
Text = Annotated[str | None, Query(max_length=64)]
After = Annotated[str | None, Query(max_length=1024)]


def next_href(request: Request, found: Page, name: str = "after") -> str | None:
    """This page's address with the next page's cursor, or None on the last page."""
    if found.after is None:
        return None
    params = {k: v for k, v in request.query_params.items() if k != name}
    return f"{request.url.path}?{urlencode({**params, name: found.after})}"


def first_href(request: Request, name: str = "after") -> str | None:
    """This list's first page, when the page shown is a later one."""
    if name not in request.query_params:
        return None
    params = {k: v for k, v in request.query_params.items() if k != name}
    return request.url.path + (f"?{urlencode(params)}" if params else "")


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, person: PersonDep) -> Response:
    return render(request, "home.html", person, agencies=person.agencies(AGENCIES))


# partner inbox


@router.get("/referrals", response_class=HTMLResponse)
async def inbox(
    request: Request,
    person: PersonDep,
    upstream: UpstreamDep,
    agency: Text = None,
    after: After = None,
) -> Response:
    chosen = _agency(person, agency)
    if chosen is None:
        return render(request, "agencies.html", person, agencies=person.agencies(AGENCIES))
    found = await upstream.inbox(person, chosen, cursor(after))
    return render(
        request,
        "referrals.html",
        person,
        agency=chosen,
        referrals=found.items,
        next_href=next_href(request, found),
        first_href=first_href(request),
    )


@router.get("/referrals/{referral_id}", response_class=HTMLResponse)
async def referral(
    request: Request,
    referral_id: str,
    person: PersonDep,
    upstream: UpstreamDep,
    agency: Text = None,
    incident: Text = None,
) -> Response:
    referral_id = identifier(referral_id)
    chosen = _agency(person, agency)
    if chosen is None:
        raise BadRequest("Say which agency's referral this is ('agency').")
    record = await upstream.referral(person, chosen, referral_id, _uuid(incident))
    return render(
        request,
        "referral.html",
        person,
        agency=chosen,
        referral=record,
        may_acknowledge=person.may_acknowledge(chosen),
        acknowledged="acknowledged" in request.query_params,
    )


@router.post("/referrals/{referral_id}/ack")
async def acknowledge(
    referral_id: str,
    person: PersonDep,
    upstream: UpstreamDep,
    agency: Annotated[str, Form(max_length=64)],
    csrf_token: FormTokenDep,
    incident: Annotated[str | None, Form(max_length=64)] = None,
) -> Response:
    check_csrf(person, csrf_token)
    referral_id = identifier(referral_id)
    chosen = _agency(person, agency)
    if chosen is None or not person.may_acknowledge(chosen):
        raise Forbidden(f"Your account may not acknowledge referrals to {agency}.")
    record = await upstream.referral(person, chosen, referral_id, _uuid(incident))
    await upstream.acknowledge(person, str(record["referral_id"]))
    query = urlencode(
        {"agency": chosen, "incident": str(record["incident_id"]), "acknowledged": "1"}
    )
    return RedirectResponse(f"/referrals/{referral_id}?{query}", 303)


def _uuid(value: str | None) -> str | None:
    """An incident id from the address (anything else is ignored)."""
    try:
        return str(UUID(value)) if value else None
    except ValueError:
        raise BadRequest("'incident' must be an incident id.") from None


def _agency(person: PersonDep, agency: str | None) -> str | None:
    """The agency asked for (403 when not this person's), or their only one."""
    chosen = slug(agency, "agency")
    if chosen is None:
        mine = person.agencies(AGENCIES)
        return mine[0] if len(mine) == 1 else None
    if chosen not in AGENCIES:
        raise BadRequest(f"There is no agency called '{chosen}'.")
    if not person.may_read_referrals(chosen):
        raise Forbidden(f"Your account may not read the referrals of {chosen}.")
    return chosen


# MARAC coordinator


@router.get("/marac", response_class=HTMLResponse)
async def marac(
    request: Request,
    person: PersonDep,
    upstream: UpstreamDep,
    area: Text = None,
    after: After = None,
    waiting_after: After = None,
) -> Response:
    needs(person, "marac:read")
    chosen = slug(area, "area")
    meetings = await upstream.meetings(person, chosen, cursor(after))
    waiting = await upstream.waiting(person, chosen, cursor(waiting_after)) if chosen else Page([])
    areas = sorted({str(m.get("area")) for m in meetings.items})
    return render(
        request,
        "marac.html",
        person,
        area=chosen,
        areas=areas,
        meetings=meetings.items,
        waiting=waiting.items,
        next_href=next_href(request, meetings),
        first_href=first_href(request),
        waiting_next_href=next_href(request, waiting, "waiting_after"),
        waiting_first_href=first_href(request, "waiting_after"),
    )


@router.get("/marac/meetings/{meeting_id}", response_class=HTMLResponse)
async def meeting(
    request: Request,
    meeting_id: str,
    person: PersonDep,
    upstream: UpstreamDep,
    after: After = None,
) -> Response:
    needs(person, "marac:read")
    meeting_id = identifier(meeting_id)
    found = await upstream.meeting(person, meeting_id)
    cases = await upstream.meeting_cases(person, meeting_id, cursor(after))
    return render(
        request,
        "meeting.html",
        person,
        meeting=found,
        cases=cases.items,
        next_href=next_href(request, cases),
        first_href=first_href(request),
    )


@router.get("/marac/meetings/{meeting_id}/cases.csv")
async def meeting_csv(meeting_id: str, person: PersonDep, upstream: UpstreamDep) -> Response:
    needs(person, "marac:read")
    meeting_id = identifier(meeting_id)
    answer = await upstream.meeting_csv(person, meeting_id)
    # the file's name made here from the checked id, streamed as marac sends it
    name = f'attachment; filename="marac-{meeting_id}.csv"'
    return StreamingResponse(
        answer.aiter_bytes(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": name, "Cache-Control": "no-store"},
        background=BackgroundTask(answer.aclose),
    )


# perpetrators


@router.get("/perpetrators", response_class=HTMLResponse)
async def perpetrators(
    request: Request,
    person: PersonDep,
    upstream: UpstreamDep,
    area: Text = None,
    after: After = None,
) -> Response:
    needs(person, "perpetrators:read")
    chosen = slug(area, "area")
    found = await upstream.perpetrators(person, chosen, cursor(after)) if chosen else Page([])
    return render(
        request,
        "perpetrators.html",
        person,
        area=chosen,
        perpetrators=found.items,
        next_href=next_href(request, found),
        first_href=first_href(request),
    )
