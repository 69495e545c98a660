"""The console's pages (contract section 11): thin, parse -> one query or one call to
the owning service's API -> a template."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from console import repository
from console.config import Settings
from console.domain.indicators import INDICATORS, Dashboard, chart, csv_rows, dashboard, shown
from console.web import (
    BadRequest,
    Forbidden,
    PersonDep,
    UpstreamDep,
    check_csrf,
    needs,
    render,
    slug,
)
from shared.service import Platform, PlatformDep
from shared.topics import AGENCIES

router = APIRouter(include_in_schema=False)
Text = Annotated[str | None, Query(max_length=64)]


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, person: PersonDep) -> Response:
    return render(request, "home.html", person, agencies=person.agencies(AGENCIES))


# partner inbox


@router.get("/referrals", response_class=HTMLResponse)
async def inbox(
    request: Request, person: PersonDep, upstream: UpstreamDep, agency: Text = None
) -> Response:
    chosen = _agency(person, agency)
    if chosen is None:
        return render(request, "agencies.html", person, agencies=person.agencies(AGENCIES))
    referrals = await upstream.inbox(person, chosen)
    return render(request, "referrals.html", person, agency=chosen, referrals=referrals)


@router.get("/referrals/{referral_id}", response_class=HTMLResponse)
async def referral(
    request: Request,
    referral_id: str,
    person: PersonDep,
    upstream: UpstreamDep,
    agency: Text = None,
) -> Response:
    chosen = _agency(person, agency)
    if chosen is None:
        raise BadRequest("Say which agency's referral this is ('agency').")
    record = await upstream.referral(person, chosen, referral_id)
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
    incident: Annotated[str | None, Form(max_length=64)] = None,
    csrf_token: Annotated[str | None, Form(max_length=100)] = None,
) -> Response:
    check_csrf(person, csrf_token)
    chosen = _agency(person, agency)
    if chosen is None or not person.may_acknowledge(chosen):
        raise Forbidden(f"Your account may not acknowledge referrals to {agency}.")
    record = await upstream.referral(person, chosen, referral_id, _uuid(incident))
    await upstream.acknowledge(person, str(record["referral_id"]))
    return RedirectResponse(
        f"/referrals/{record['referral_id']}?agency={chosen}"
        f"&incident={record['incident_id']}&acknowledged=1",
        303,
    )


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
    request: Request, person: PersonDep, upstream: UpstreamDep, area: Text = None
) -> Response:
    needs(person, "marac:read")
    chosen = slug(area, "area")
    meetings = await upstream.meetings(person, chosen)
    waiting = await upstream.waiting(person, chosen) if chosen else []
    areas = sorted({m["area"] for m in meetings})
    return render(
        request, "marac.html", person, area=chosen, areas=areas, meetings=meetings, waiting=waiting
    )


@router.get("/marac/meetings/{meeting_id}", response_class=HTMLResponse)
async def meeting(
    request: Request, meeting_id: str, person: PersonDep, upstream: UpstreamDep
) -> Response:
    needs(person, "marac:read")
    found = await upstream.meeting(person, meeting_id)
    cases = await upstream.meeting_cases(person, meeting_id)
    return render(request, "meeting.html", person, meeting=found, cases=cases)


@router.get("/marac/meetings/{meeting_id}/cases.csv")
async def meeting_csv(meeting_id: str, person: PersonDep, upstream: UpstreamDep) -> Response:
    needs(person, "marac:read")
    answer = await upstream.meeting_csv(person, meeting_id)
    disposition = answer.headers.get("content-disposition", "attachment")
    return Response(
        answer.content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )


# dashboard


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_page(
    request: Request,
    person: PersonDep,
    platform: PlatformDep,
    area: Text = None,
    from_: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    to: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    needs(person, "dashboard:read")
    chosen, start, end = _period(platform, area, from_, to)
    board, areas = await _dashboard(platform, chosen, start, end)
    return render(
        request,
        "dashboard.html",
        person,
        area=chosen,
        areas=areas,
        start=start,
        end=end,
        board=board,
        chart=chart(board),
        indicators=INDICATORS,
        shown=shown,
    )


@router.get("/dashboard.csv")
async def dashboard_csv(
    person: PersonDep,
    platform: PlatformDep,
    area: Text = None,
    from_: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    to: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    needs(person, "dashboard:read")
    chosen, start, end = _period(platform, area, from_, to)
    board, _ = await _dashboard(platform, chosen, start, end)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(csv_rows(board, chosen or "all"))
    name = f"mash-indicators-{chosen or 'all'}-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _period(
    platform: Platform[Settings], area: str | None, start: str | None, end: str | None
) -> tuple[str | None, date, date]:
    """The area and dates asked for; by default the last 30 days."""
    zone = ZoneInfo(platform.settings.timezone)
    today = datetime.now(zone).date()
    try:
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(start) if start else last - timedelta(days=30)
    except ValueError:
        raise BadRequest("Dates must look like 2026-11-21.") from None
    if first > last:
        raise BadRequest("The start date must not be after the end date.")
    if (last - first).days > 3 * 366:
        raise BadRequest("Choose a period of at most three years.")
    return slug(area, "area"), first, last


async def _dashboard(
    platform: Platform[Settings], area: str | None, start: date, end: date
) -> tuple[Dashboard, list[str]]:
    settings = platform.settings
    zone = ZoneInfo(settings.timezone)
    since = datetime.combine(start, time(), zone)
    until = datetime.combine(end + timedelta(days=1), time(), zone)
    async with platform.sessions() as session:
        facts = await repository.facts_between(session, area, since, until)
        areas = await repository.areas(session)
    women = settings.adult_female_population.get(area) if area else None
    return dashboard(facts, start, end, zone, women), areas


# perpetrators


@router.get("/perpetrators", response_class=HTMLResponse)
async def perpetrators(
    request: Request, person: PersonDep, upstream: UpstreamDep, area: Text = None
) -> Response:
    needs(person, "perpetrators:read")
    chosen = slug(area, "area")
    found = await upstream.perpetrators(person, chosen) if chosen else []
    return render(request, "perpetrators.html", person, area=chosen, perpetrators=found)
