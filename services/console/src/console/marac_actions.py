"""An agency's MARAC actions (open, overdue, done) and completing one with its outcome
(`marac:act:<agency>`, or `marac:read` to see every agency's); and the coordinator's
SafeLives national dataset return (`marac:admin`), streamed from marac as it comes."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from starlette.background import BackgroundTask

from console import marac_calls
from console.api import first_href, next_href
from console.domain.people import Person
from console.inputs import BadRequest, cursor, identifier
from console.marac_errors import simple_errors
from console.marac_refer import AT_MEETING, acting_agencies
from console.upstream import Invalid
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

router = APIRouter(include_in_schema=False)
Text = Annotated[str | None, Query(max_length=64)]
STATUSES = ("open", "overdue", "done")
QUARTER = re.compile(r"^\d{4}-Q[1-4]$")


def _agency(person: Person, agency: str | None) -> str | None:
    """The agency whose actions are shown: any (or all) for `marac:read`, else one of the
    person's own (their only one when none is asked for)."""
    chosen = slug(agency, "agency")
    if chosen is not None and chosen not in AT_MEETING:
        raise BadRequest(f"There is no MARAC agency called '{chosen}'.")
    if person.may("marac:read"):
        return chosen
    mine = acting_agencies(person)
    if not mine:
        raise Forbidden("Your account does not have the 'marac:act:<agency>' permission.")
    if chosen is None:
        return mine[0]
    if chosen not in mine:
        raise Forbidden(f"Your account may not see the actions of {chosen}.")
    return chosen


@router.get("/marac/actions", response_class=HTMLResponse)
async def actions_page(
    request: Request,
    person: PersonDep,
    upstream: UpstreamDep,
    agency: Text = None,
    status: Text = None,
    area: Text = None,
    after: Annotated[str | None, Query(max_length=1024)] = None,
) -> Response:
    chosen = _agency(person, agency)
    shown = status if status in STATUSES else "open"
    place = slug(area, "area")
    found = await marac_calls.actions(upstream, person, chosen, shown, place, cursor(after))
    return render(
        request,
        "marac_actions.html",
        person,
        agency=chosen,
        status=shown,
        area=place,
        statuses=STATUSES,
        actions=found.items,
        choices=AT_MEETING if person.may("marac:read") else acting_agencies(person),
        acting=acting_agencies(person),
        next_href=next_href(request, found),
        first_href=first_href(request),
    )


async def _action_page(
    request: Request,
    person: Person,
    upstream: UpstreamDep,
    action_id: str,
    agency: str,
    status: int = 200,
    outcome: str = "",
    errors: dict[str, str] | None = None,
) -> Response:
    found = await marac_calls.action(upstream, person, agency, action_id)
    return render(
        request,
        "marac_action.html",
        person,
        status,
        action=found,
        outcome=outcome,
        errors=errors or {},
        completed="completed" in request.query_params,
    )


def _own(person: Person, agency: str | None) -> str:
    chosen = slug(agency, "agency")
    if chosen is None or chosen not in AT_MEETING:
        raise BadRequest("Say which agency's action this is ('agency').")
    needs(person, f"marac:act:{chosen}")
    return chosen


@router.get("/marac/actions/{action_id}", response_class=HTMLResponse)
async def action_page(
    request: Request, action_id: str, person: PersonDep, upstream: UpstreamDep, agency: Text = None
) -> Response:
    """One of the agency's actions, and the form that completes it."""
    return await _action_page(
        request, person, upstream, identifier(action_id), _own(person, agency)
    )


@router.post("/marac/actions/{action_id}/complete", response_class=HTMLResponse)
async def complete_action(
    request: Request,
    action_id: str,
    person: PersonDep,
    upstream: UpstreamDep,
    csrf_token: FormTokenDep,
    agency: Annotated[str, Form(max_length=64)] = "",
    outcome: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    check_csrf(person, csrf_token)
    chosen = _own(person, agency)
    action_id = identifier(action_id)
    try:
        await marac_calls.complete_action(upstream, person, action_id, outcome.strip())
    except Invalid as exc:
        errors = simple_errors(exc.errors, {"outcome": "The outcome"})
        return await _action_page(
            request, person, upstream, action_id, chosen, 400, outcome, errors
        )
    return RedirectResponse(f"/marac/actions/{action_id}?agency={chosen}&completed=1", 303)


# the SafeLives national dataset return


@router.get("/marac/returns", response_class=HTMLResponse)
async def return_page(request: Request, person: PersonDep) -> Response:
    needs(person, "marac:admin")
    return render(request, "marac_return.html", person, area="", quarter="", errors={})


@router.get("/marac/returns/safelives.csv", response_model=None)
async def return_csv(
    request: Request,
    person: PersonDep,
    upstream: UpstreamDep,
    area: Annotated[str, Query(max_length=64)] = "",
    quarter: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    """The quarter's return as marac streams it, or the form with what is wrong."""
    needs(person, "marac:admin")
    errors: dict[str, str] = {}
    if not re.fullmatch(r"[a-z0-9]+(?:[-_][a-z0-9]+)*", area):
        errors["area"] = "Enter the area as a lower-case name, for example southampton"
    if not QUARTER.match(quarter):
        errors["quarter"] = "Enter the quarter as a year and quarter, for example 2026-Q3"
    if errors:
        return render(
            request, "marac_return.html", person, 400, area=area, quarter=quarter, errors=errors
        )
    answer = await marac_calls.national_return(upstream, person, area, quarter)
    name = f'attachment; filename="safelives-{area}-{quarter}.csv"'
    return StreamingResponse(
        answer.aiter_bytes(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": name, "Cache-Control": "no-store"},
        background=BackgroundTask(answer.aclose),
    )
