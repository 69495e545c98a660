"""The meeting itself in the console (contract sections 6 and 11): a meeting's cases with
their sources, the research returned and the actions; a case, where the coordinator
records the actions the meeting agrees; and an agency's research form, with its history.

Thin as every page: parse, call marac as the person, a template. Marac decides who may
do what (scopes) and what is valid (its 422s, shown beside their fields).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from console import marac_calls
from console.api import first_href, next_href
from console.domain.people import Person
from console.inputs import NotFoundPage, cursor, identifier
from console.marac_errors import simple_errors, typed_date
from console.marac_refer import AT_MEETING, acting_agencies
from console.upstream import Invalid, Upstream
from console.web import FormTokenDep, PersonDep, UpstreamDep, check_csrf, needs, render

router = APIRouter(include_in_schema=False)
After = Annotated[str | None, Query(max_length=1024)]
Box = Annotated[str, Form(max_length=10)]
LongText = Annotated[str, Form(max_length=8000)]
ACTION_FIELDS = {
    "agency": "The agency",
    "description": "What the agency will do",
    "due_by": "The due date",
}
RESEARCH_FIELDS = {
    "known": "Whether your agency knows the victim or household",
    "summary": "What your agency knows",
    "risks": "The risks your agency sees",
    "completed_by": "Your name",
}


@router.get("/marac/meetings/{meeting_id}/cases", response_class=HTMLResponse)
async def meeting_cases(
    request: Request, meeting_id: str, person: PersonDep, upstream: UpstreamDep, after: After = None
) -> Response:
    """The meeting's cases a page at a time, each with its sources, research and actions."""
    needs(person, "marac:read")
    meeting_id = identifier(meeting_id)
    meeting = await upstream.meeting(person, meeting_id)
    cases = await marac_calls.meeting_cases(upstream, person, meeting_id, cursor(after))
    return render(
        request,
        "marac_meeting_cases.html",
        person,
        meeting=meeting,
        cases=cases.items,
        acting=acting_agencies(person),
        agencies=AT_MEETING,
        added="added" in request.query_params,
        next_href=next_href(request, cases),
        first_href=first_href(request),
    )


async def _case_page(
    request: Request,
    person: Person,
    upstream: Upstream,
    case_id: str,
    status: int = 200,
    action: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    found = await marac_calls.case(upstream, person, case_id)
    referrals = [
        await marac_calls.referral(upstream, person, str(s["marac_referral_id"]))
        for s in found.get("sources", [])
        if s.get("kind") == "marac_referral"
    ]
    return render(
        request,
        "marac_case.html",
        person,
        status,
        case=found,
        referrals={str(r["marac_referral_id"]): r for r in referrals},
        acting=acting_agencies(person),
        agencies=AT_MEETING,
        action=action or {},
        errors=errors or {},
        added="added" in request.query_params,
    )


@router.get("/marac/cases/{case_id}", response_class=HTMLResponse)
async def case_page(
    request: Request, case_id: str, person: PersonDep, upstream: UpstreamDep
) -> Response:
    needs(person, "marac:read")
    return await _case_page(request, person, upstream, identifier(case_id))


@router.post("/marac/cases/{case_id}/actions", response_class=HTMLResponse)
async def add_action(
    request: Request,
    case_id: str,
    person: PersonDep,
    upstream: UpstreamDep,
    csrf_token: FormTokenDep,
    agency: Annotated[str, Form(max_length=64)] = "",
    description: Annotated[str, Form(max_length=4000)] = "",
    day: Annotated[str, Form(alias="due_by-day", max_length=10)] = "",
    month: Annotated[str, Form(alias="due_by-month", max_length=10)] = "",
    year: Annotated[str, Form(alias="due_by-year", max_length=10)] = "",
    back: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """The coordinator records an action the meeting agreed (`marac:admin`)."""
    check_csrf(person, csrf_token)
    needs(person, "marac:admin")
    case_id = identifier(case_id)
    meeting = identifier(back) if back else None
    typed = {
        "agency": agency,
        "description": description.strip(),
        "day": day,
        "month": month,
        "year": year,
    }
    due = typed_date(day, month, year)
    errors = (
        {}
        if due or not any((day, month, year))
        else {"due_by-day": "Enter a real date, for example 15 12 2026"}
    )
    if not errors:
        body = {
            k: v
            for k, v in (("agency", agency), ("description", typed["description"]), ("due_by", due))
            if v
        }
        try:
            await marac_calls.agree_action(upstream, person, case_id, body)
        except Invalid as exc:
            errors = simple_errors(exc.errors, ACTION_FIELDS, dates=("due_by",))
        else:
            if meeting:  # recorded from the meeting's page: back to the case there
                return RedirectResponse(
                    f"/marac/meetings/{meeting}/cases?added=1#case-{case_id}", 303
                )
            return RedirectResponse(f"/marac/cases/{case_id}?added=1#actions", 303)
    return await _case_page(request, person, upstream, case_id, 400, typed, errors)


def _agency_of(person: Person, agency: str) -> str:
    if agency not in AT_MEETING:
        raise NotFoundPage
    needs(person, f"marac:act:{agency}")
    return agency


async def _research_page(
    request: Request,
    person: Person,
    upstream: Upstream,
    case_id: str,
    agency: str,
    after: str | None,
    status: int = 200,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    history = await marac_calls.research_history(upstream, person, case_id, agency, after)
    found = await marac_calls.case(upstream, person, case_id) if person.may("marac:read") else None
    current: dict[str, Any] = history.items[0] if history.items and not after else {}
    if typed is None:
        typed = {k: str(current.get(k) or "") for k in ("summary", "risks", "completed_by")}
        known = current.get("known")
        typed["known"] = "yes" if known is True else "no" if known is False else ""
    return render(
        request,
        "marac_research.html",
        person,
        status,
        case_id=case_id,
        case=found,
        agency=agency,
        history=history.items,
        typed=typed,
        errors=errors or {},
        saved="saved" in request.query_params,
        next_href=next_href(request, history),
        first_href=first_href(request),
    )


@router.get("/marac/cases/{case_id}/research/{agency}", response_class=HTMLResponse)
async def research_page(
    request: Request,
    case_id: str,
    agency: str,
    person: PersonDep,
    upstream: UpstreamDep,
    after: After = None,
) -> Response:
    agency = _agency_of(person, agency)
    return await _research_page(
        request, person, upstream, identifier(case_id), agency, cursor(after)
    )


@router.post("/marac/cases/{case_id}/research/{agency}", response_class=HTMLResponse)
async def record_research(
    request: Request,
    case_id: str,
    agency: str,
    person: PersonDep,
    upstream: UpstreamDep,
    csrf_token: FormTokenDep,
    known: Annotated[str, Form(max_length=3)] = "",
    summary: LongText = "",
    risks: LongText = "",
    completed_by: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """An agency's research before the meeting: marac keeps the earlier versions."""
    check_csrf(person, csrf_token)
    agency = _agency_of(person, agency)
    case_id = identifier(case_id)
    typed = {
        "known": known,
        "summary": summary.strip(),
        "risks": risks.strip(),
        "completed_by": completed_by.strip(),
    }
    body: dict[str, Any] = {k: v for k, v in typed.items() if v and k != "known"}
    if known in ("yes", "no"):
        body["known"] = known == "yes"
    try:
        await marac_calls.put_research(upstream, person, case_id, agency, body)
    except Invalid as exc:
        errors = simple_errors(exc.errors, RESEARCH_FIELDS)
        return await _research_page(
            request, person, upstream, case_id, agency, None, 400, typed, errors
        )
    return RedirectResponse(f"/marac/cases/{case_id}/research/{agency}?saved=1", 303)
