"""An agency's MARAC referral (contract sections 6 and 11, scope `marac:refer:<agency>`):
the SafeLives referral form, sent to marac as the person, marac's refusals shown beside
their fields; and the referral as received, for the meeting (`marac:read`).

The form is a POST with the session's CSRF token; what it holds (names, dates of birth,
the DASH) goes to marac in the body and nowhere else: never into an address or a log.
"""

from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from console import marac_calls, marac_errors, marac_form
from console.domain.people import Person
from console.inputs import identifier
from console.marac_form import ReferralForm
from console.upstream import Invalid, Rejected
from console.web import (
    TEMPLATES,
    Forbidden,
    FormTokenDep,
    PersonDep,
    UpstreamDep,
    check_csrf,
    needs,
    render,
)
from shared.dash_questions import QUESTIONS
from shared.schemas.marac import MaracAgency, ReferringAgency

router = APIRouter(include_in_schema=False)
REFERRING: tuple[str, ...] = get_args(ReferringAgency)
AT_MEETING: tuple[str, ...] = get_args(MaracAgency)


def referring_agencies(person: Person) -> list[str]:
    """The agencies this person may refer for (`marac:refer:<agency>`)."""
    return [a for a in REFERRING if person.may(f"marac:refer:{a}")]


def acting_agencies(person: Person) -> list[str]:
    """The agencies this person researches and completes actions for (`marac:act:<agency>`)."""
    return [a for a in AT_MEETING if person.may(f"marac:act:{a}")]


# the navigation and the home page show these pages to whoever may use them
TEMPLATES.env.globals.update(
    marac_referring=referring_agencies,
    marac_acting=acting_agencies,
    dash_questions=QUESTIONS,
    marac_agencies=AT_MEETING,
)


def _mine(person: Person) -> list[str]:
    mine = referring_agencies(person)
    if not mine:
        raise Forbidden("Your account does not have the 'marac:refer:<agency>' permission.")
    return mine


def _page(request: Request, person: Person, form: ReferralForm, status: int = 200) -> Response:
    return render(
        request,
        "marac_refer.html",
        person,
        status,
        form=form,
        agencies=referring_agencies(person),
        criteria=marac_form.CRITERIA,
        perpetrators=range(marac_form.PERPETRATORS),
        children=range(marac_form.CHILDREN),
    )


@router.get("/marac/refer", response_class=HTMLResponse)
async def referral_form(
    request: Request, person: PersonDep, agency: Annotated[str | None, Query(max_length=64)] = None
) -> Response:
    mine = _mine(person)
    chosen = agency if agency in mine else mine[0]
    return _page(request, person, ReferralForm(values={"referring_agency": chosen}))


@router.post("/marac/refer", response_class=HTMLResponse)
async def send_referral(
    request: Request, person: PersonDep, upstream: UpstreamDep, csrf_token: FormTokenDep
) -> Response:
    check_csrf(person, csrf_token)
    mine = _mine(person)
    form = marac_form.read((await request.form()).multi_items())
    if form.get("referring_agency") not in mine:
        raise Forbidden(f"Your account may not refer for '{form.get('referring_agency')}'.")
    body = marac_form.body(form)
    if body is None:
        return _page(request, person, form, 400)
    try:
        referral_id, new = await marac_calls.refer(upstream, person, body)
    except Invalid as exc:
        return _page(request, person, marac_errors.with_errors(form, exc.errors), 400)
    except Rejected as exc:
        if exc.status != 409:
            raise
        form.errors["referral_ref"] = (
            "Your reference already names another referral: use a new reference"
        )
        return _page(request, person, form, 409)
    return RedirectResponse(f"/marac/refer/sent?id={referral_id}&new={int(new)}", 303)


@router.get("/marac/refer/sent", response_class=HTMLResponse)
async def referral_sent(
    request: Request,
    person: PersonDep,
    id: Annotated[str, Query(max_length=64)],
    new: Annotated[int, Query(ge=0, le=1)] = 1,
) -> Response:
    _mine(person)
    return render(request, "marac_referred.html", person, referral_id=identifier(id), new=bool(new))


@router.get("/marac/referrals/{referral_id}", response_class=HTMLResponse)
async def referral_received(
    request: Request, referral_id: str, person: PersonDep, upstream: UpstreamDep
) -> Response:
    """The form as marac received it, each DASH answer beside its question."""
    needs(person, "marac:read")
    found: dict[str, Any] = await marac_calls.referral(upstream, person, identifier(referral_id))
    # equality monitoring is counted, never shown (marac leaves it out; so does the page)
    found["victim"] = {k: v for k, v in found.get("victim", {}).items() if k != "equality"}
    return render(request, "marac_referral.html", person, referral=given(found))


def given(value: Any) -> Any:
    """A record without the fields nobody filled in (null, empty), so the page lists
    what the referrer said, not every box of the form."""
    if isinstance(value, dict):
        kept = {k: given(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [given(v) for v in value]
    return value
