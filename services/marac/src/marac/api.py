"""Marac's HTTP API (contract section 6): thin, parse -> handler -> answer."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from marac import handlers, repository
from marac.domain.listing import MaracCase, agenda, agenda_key, waiting_key
from marac.domain.meeting import Action, Research
from marac.domain.referrals import refusals
from marac.domain.returns import COLUMNS, quarter_dates
from marac.schemas import (
    ActionOutcome,
    ActionRequest,
    ActionView,
    CaseDetail,
    CaseView,
    MaracReferralAccepted,
    MaracReferralRequest,
    MaracReferralView,
    MeetingRequest,
    MeetingView,
    OutcomeRequest,
    OutcomeView,
    ResearchRequest,
    ResearchView,
    SourceView,
    csv_lines,
    csv_rows,
)
from shared.audit import ReadAudit, audited
from shared.auth import CurrentPrincipal, Principal, require
from shared.errors import FieldErrors
from shared.pagination import PAGED, PageDep, seek
from shared.schemas.marac import MaracAgency
from shared.service import PlatformDep

router = APIRouter(prefix="/v1", tags=["marac"])
Admin = Annotated[Principal, Depends(require("marac:admin"))]
Reader = Annotated[Principal, Depends(require("marac:read"))]
CaseReader = Annotated[ReadAudit, Depends(audited("marac:read"))]
"""A reader of cases (victims' and suspects' names): every such read is audited."""
AreaQuery = Annotated[
    str | None,
    Query(pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$", max_length=64, description="The MARAC area"),
]
PROBLEMS: dict[int | str, dict[str, str]] = {
    401: {"description": "No token, or not a valid one"},
    403: {"description": "The token lacks the scope"},
    422: {"description": "Problem details naming every bad field"},
}
UNKNOWN: dict[int | str, dict[str, str]] = {404: {"description": "Unknown meeting"}}


@router.post(
    "/meetings",
    status_code=201,
    response_model=MeetingView,
    summary="Arrange a MARAC meeting",
    responses={409: {"description": "The area already meets that day"}, **PROBLEMS},
)
async def create_meeting(body: MeetingRequest, platform: PlatformDep, _: Admin) -> MeetingView:
    """A meeting of an area on a date (one a day per area); cases waiting for a meeting
    are then listed on it, highest priority first."""
    now = datetime.now(UTC)
    if body.date < handlers.local_date(now, platform.settings):
        raise FieldErrors([{"loc": ["body", "date"], "msg": "must not be in the past"}])
    try:
        meeting = await handlers.create_meeting(platform, body.area, body.date, body.capacity, now)
    except handlers.DuplicateMeeting:
        raise HTTPException(409, "This area already has a meeting on that date.") from None
    return MeetingView.of(meeting)


@router.get(
    "/meetings",
    response_model=list[MeetingView],
    summary="The meetings, by date",
    responses={**PAGED, **PROBLEMS},
)
async def list_meetings(
    platform: PlatformDep,
    _: Reader,
    page: PageDep,
    response: Response,
    area: AreaQuery = None,
    from_date: Annotated[
        date | None, Query(alias="from", description="Only meetings on or after this date")
    ] = None,
) -> list[MeetingView]:
    """Meetings by date (then area), a page at a time (`limit`, `after`; `Link: <next>;
    rel="next"` while more remain)."""
    after = page.after  # a cursor this list did not issue: 422 before any read
    async with platform.sessions() as session:
        meetings = await repository.meetings_of(session, area, from_date, after, page.fetch)
    shown = page.answer(response, meetings, lambda m: (m.date, m.area, m.meeting_id))
    return [MeetingView.of(m) for m in shown]


@router.get(
    "/meetings/{meeting_id}/cases",
    response_model=list[CaseView],
    summary="A meeting's list, in agenda order",
    responses={**PAGED, **UNKNOWN, **PROBLEMS},
)
async def meeting_cases(
    meeting_id: UUID, platform: PlatformDep, audit: CaseReader, page: PageDep, response: Response
) -> list[CaseView]:
    """Cases with children first, then adult-only cases; highest `priority` first in each;
    a page at a time (`limit`, `after`; `Link: <next>; rel="next"` while more remain).
    Only the cases of the page answered are logged as consulted."""
    after = page.after  # a cursor this list did not issue: 422 before any read
    async with platform.uow() as session:
        meeting = await repository.find_meeting(session, str(meeting_id))
        cases = await repository.cases_on(session, meeting.meeting_id) if meeting else []
        # a meeting's list is bounded by its capacity (at most 200): its order is computed
        rows = seek(agenda(cases), agenda_key, after)[: page.fetch]
        shown = page.answer(response, rows, agenda_key)
        await audit.record(
            session, "marac_case", [c.case_id for c in shown], 200 if meeting else 404
        )
    if meeting is None:
        raise HTTPException(404, "No meeting has this id.")
    return [CaseView.of(c) for c in shown]


@router.get(
    "/meetings/{meeting_id}/cases.csv",
    summary="A meeting's list as CSV",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **UNKNOWN, **PROBLEMS},
)
async def meeting_cases_csv(
    meeting_id: UUID, platform: PlatformDep, audit: CaseReader
) -> StreamingResponse:
    """The whole list in agenda order, as a CSV file streamed a row at a time."""
    async with platform.uow() as session:
        meeting = await repository.find_meeting(session, str(meeting_id))
        cases = agenda(await repository.cases_on(session, meeting.meeting_id) if meeting else [])
        # logged as entries of at most 500 ids each (shared.audit)
        ids = [c.case_id for c in cases]
        await audit.record(session, "marac_case", ids, 200 if meeting else 404)
    if meeting is None:
        raise HTTPException(404, "No meeting has this id.")
    filename = f"marac-{meeting.area}-{meeting.date.isoformat()}.csv"
    return StreamingResponse(
        csv_lines(meeting, (CaseView.of(c) for c in cases)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/cases",
    response_model=list[CaseView],
    summary="Cases by area and status",
    responses={**PAGED, **PROBLEMS},
)
async def find_cases(
    platform: PlatformDep,
    audit: CaseReader,
    page: PageDep,
    response: Response,
    area: AreaQuery = None,
    status: Literal["awaiting_meeting", "listed"] | None = None,
) -> list[CaseView]:
    """`status=awaiting_meeting`: eligible cases no meeting has room for yet, in the order
    they will get places; `status=listed`: cases on meetings, by meeting date and agenda;
    neither: the waiting ones, then the listed ones. A page at a time (`limit`, `after`;
    `Link: <next>; rel="next"` while more remain); only the page's cases are logged."""
    after = page.after  # a cursor this list did not issue: 422 before any read
    async with platform.uow() as session:
        rows: list[MaracCase] = []
        if status != "listed":  # the queue: as long as the cases no meeting has room for
            waiting = await repository.find_cases(session, area, "awaiting_meeting")
            rows = seek(sorted(waiting, key=_case_order), _case_order, after)[: page.fetch]
        if status != "awaiting_meeting" and len(rows) < page.fetch:
            # the cursor's meeting (when it is a listed case's) and enough meetings after it
            start = (after[1], after[2]) if after and after[0] == 1 else None
            listed = await repository.listed_from(session, area, start, page.fetch - len(rows))
            rows += seek(sorted(listed, key=_case_order), _case_order, after)
        shown = page.answer(response, rows[: page.fetch], _case_order)
        await audit.record(session, "marac_case", [c.case_id for c in shown])
    return [CaseView.of(c) for c in shown]


def _case_order(case: MaracCase) -> tuple[Any, ...]:
    """Waiting cases first, in queue order; then listed ones by meeting and agenda."""
    if case.status == "awaiting_meeting":
        return (0, *waiting_key(case))
    return (1, case.meeting_date or date.min, case.meeting_id or "", *agenda_key(case))


# an agency's referral to MARAC (contract section 6, "The meeting itself")


async def referrer(principal: CurrentPrincipal) -> Principal:
    """A token that may refer for some agency (403 otherwise), checked before the body;
    which agency is checked against the form's `referring_agency`."""
    if not any(s.startswith("marac:refer:") for s in principal.scopes):
        raise HTTPException(403, "This token lacks the scope 'marac:refer:<agency>'.")
    return principal


Referrer = Annotated[Principal, Depends(referrer)]


@router.post(
    "/marac-referrals",
    status_code=202,
    response_model=MaracReferralAccepted,
    summary="Refer a victim to MARAC (any agency)",
    responses={
        200: {"description": "The same referral again: its id"},
        409: {"description": "The reference already names another referral"},
        **PROBLEMS,
    },
)
async def refer(
    body: MaracReferralRequest, platform: PlatformDep, principal: Referrer, response: Response
) -> MaracReferralAccepted:
    """The SafeLives referral form. The victim joins their open case or opens one, listed
    like any eligible incident; the IDVA service is referred too (unless it referred)."""
    if not principal.may(f"marac:refer:{body.referring_agency}"):
        raise HTTPException(403, f"This token cannot refer for '{body.referring_agency}'.")
    answers = {str(q): yes for q, yes in body.dash.answers.items()} if body.dash else None
    found = refusals(
        body.criteria,
        answers,
        body.professional_judgement_reason,
        body.consent,
        body.consent_reason,
    )
    if found:
        raise FieldErrors([{"loc": list(r.loc), "msg": r.msg} for r in found])
    command = handlers.ReferToMarac(
        form=body.model_dump(mode="json"),
        referring_agency=body.referring_agency,
        referral_ref=body.referral_ref,
        area=body.area,
        victim=body.victim,
        perpetrators=tuple(body.perpetrators),
        children_count=len(body.children),
        children_born=tuple(c.date_of_birth for c in body.children),
        criteria=tuple(body.criteria),
        consent=body.consent,
        dash_answers=answers,
    )
    try:
        done = await handlers.refer(platform, command, principal.subject, datetime.now(UTC))
    except handlers.ReferenceReused:
        raise HTTPException(409, "This reference already names another referral.") from None
    if not done.created:
        response.status_code = 200
    return MaracReferralAccepted(marac_referral_id=UUID(done.marac_referral_id))


@router.get(
    "/marac-referrals/{marac_referral_id}",
    response_model=MaracReferralView,
    summary="An agency's MARAC referral, as received",
    responses={404: {"description": "Unknown referral"}, **PROBLEMS},
)
async def referral(
    marac_referral_id: UUID, platform: PlatformDep, audit: CaseReader
) -> MaracReferralView:
    """The form (for the meeting, and for the IDVA service's referral), less the victim's
    equality monitoring, which is only ever counted."""
    async with platform.uow() as session:
        found = await repository.find_referral(session, str(marac_referral_id))
        keys = await repository.victim_keys(session, found.victim_ref) if found else ()
        status = 200 if found else 404
        await audit.record(
            session, "marac_referral", [str(marac_referral_id)], status, subjects=keys
        )
    if found is None:
        raise HTTPException(404, "No MARAC referral has this id.")
    # equality monitoring is counted only, never shown (domain.md, principle 8)
    victim = {k: v for k, v in found.form["victim"].items() if k != "equality"}
    return MaracReferralView.model_validate(
        {
            **found.form,
            "victim": victim,
            "marac_referral_id": found.marac_referral_id,
            "case_id": found.case_id,
            "received_at": found.received_at,
        }
    )


# the case itself: its sources, each agency's research, its actions

AgencyPath = Annotated[MaracAgency, Path(description="The agency")]


def acting_for(agency: str, principal: Principal, *also: str) -> None:
    """403 unless the token may act for `agency` (or holds one of `also`)."""
    if not principal.may(f"marac:act:{agency}", *also):
        raise HTTPException(403, f"This token lacks the scope 'marac:act:{agency}'.")


async def actor(agency: Annotated[str, Path()], principal: CurrentPrincipal) -> Principal:
    """A token that may act for the path's agency (403 otherwise), before the body."""
    acting_for(agency, principal)
    return principal


async def agency_reader(agency: Annotated[str, Path()], principal: CurrentPrincipal) -> Principal:
    """`marac:read`, or `marac:act:<agency>` for the agency's own."""
    acting_for(agency, principal, "marac:read")
    return principal


Actor = Annotated[Principal, Depends(actor)]
AgencyReader = Annotated[Principal, Depends(agency_reader)]
UNKNOWN_CASE: dict[int | str, dict[str, str]] = {404: {"description": "Unknown case"}}


@router.get(
    "/cases/{case_id}",
    response_model=CaseDetail,
    summary="A case with its sources, research and actions",
    responses={**UNKNOWN_CASE, **PROBLEMS},
)
async def case_detail(case_id: UUID, platform: PlatformDep, audit: CaseReader) -> CaseDetail:
    """Its sources (incidents and agencies' referrals), each agency's current research,
    and the actions agreed on it. An open action past its due date is `overdue`."""
    today = handlers.local_date(datetime.now(UTC), platform.settings)
    async with platform.uow() as session:
        case = await repository.find_case(session, str(case_id))
        research = await repository.current_research(session, case.case_id) if case else []
        actions = await repository.actions_of(session, case.case_id) if case else []
        keys = await repository.victim_keys(session, case.victim_ref) if case else ()
        await audit.record(
            session, "marac_case", [str(case_id)], 200 if case else 404, subjects=keys
        )
    if case is None:
        raise HTTPException(404, "No case has this id.")
    return CaseDetail(
        **CaseView.of(case).model_dump(),
        sources=SourceView.all_of(case),
        research=[ResearchView.of(r) for r in research],
        actions=[ActionView.of(a, today) for a in actions],
    )


@router.put(
    "/cases/{case_id}/research/{agency}",
    response_model=ResearchView,
    summary="Record an agency's research on a case",
    responses={**UNKNOWN_CASE, **PROBLEMS},
)
async def put_research(
    case_id: UUID,
    agency: AgencyPath,
    body: ResearchRequest,
    platform: PlatformDep,
    principal: Actor,
    request: Request,
) -> ResearchView:
    """What the agency knows, before the meeting: it becomes the current version; the
    earlier one is kept (`/history`)."""
    research = Research(
        case_id=str(case_id),
        agency=agency,
        version=0,
        known=body.known,
        summary=body.summary,
        risks=body.risks,
        completed_by=body.completed_by,
        recorded_at=datetime.now(UTC),
    )
    route = _route(request)
    saved = await handlers.record_research(platform, research, principal.subject, route)
    if saved is None:
        raise HTTPException(404, "No case has this id.")
    return ResearchView.of(saved)


@router.get(
    "/cases/{case_id}/research/{agency}/history",
    response_model=list[ResearchView],
    summary="Every version of an agency's research, the latest first",
    responses={**UNKNOWN_CASE, **PAGED, **PROBLEMS},
)
async def research_history(
    case_id: UUID,
    agency: AgencyPath,
    platform: PlatformDep,
    principal: AgencyReader,
    page: PageDep,
    response: Response,
    request: Request,
) -> list[ResearchView]:
    after = page.after
    read = ReadAudit(platform.outbox, platform.name, principal.subject, _route(request))
    async with platform.uow() as session:
        case = await repository.find_case(session, str(case_id))
        versions = (
            await repository.research_history(session, str(case_id), agency, after, page.fetch)
            if case
            else []
        )
        keys = await repository.victim_keys(session, case.victim_ref) if case else ()
        await read.record(
            session, "marac_case", [str(case_id)], 200 if case else 404, subjects=keys
        )
    if case is None:
        raise HTTPException(404, "No case has this id.")
    shown = page.answer(response, versions, lambda r: (r.version,))
    return [ResearchView.of(r) for r in shown]


def _route(request: Request) -> str:
    return getattr(request.scope.get("route"), "path", None) or request.url.path


# actions agreed at the meeting, tracked until done

UNKNOWN_ACTION: dict[int | str, dict[str, str]] = {404: {"description": "Unknown action"}}


async def any_actor(principal: CurrentPrincipal) -> Principal:
    """A token that may act for some agency (403 otherwise), checked before the body;
    which agency is checked against the action's."""
    if not any(s.startswith("marac:act:") for s in principal.scopes):
        raise HTTPException(403, "This token lacks the scope 'marac:act:<agency>'.")
    return principal


AnyActor = Annotated[Principal, Depends(any_actor)]


async def action_reader(
    principal: CurrentPrincipal, agency: Annotated[str | None, Query()] = None
) -> Principal:
    """`marac:read` sees every action; `marac:act:<agency>` its agency's own (`agency`
    required): checked before anything else of the request."""
    if not principal.may("marac:read"):
        acting_for(agency or "<agency>", principal)
    return principal


ActionReader = Annotated[Principal, Depends(action_reader)]


@router.post(
    "/cases/{case_id}/actions",
    status_code=201,
    response_model=ActionView,
    summary="Record an action the meeting agreed",
    responses={**UNKNOWN_CASE, **PROBLEMS},
)
async def agree_action(
    case_id: UUID, body: ActionRequest, platform: PlatformDep, principal: Admin, request: Request
) -> ActionView:
    """Owned by one agency, due by a date; open until that agency completes it."""
    now = datetime.now(UTC)
    today = handlers.local_date(now, platform.settings)
    if body.due_by < today:
        raise FieldErrors([{"loc": ["body", "due_by"], "msg": "must not be in the past"}])
    action = Action(
        action_id=str(uuid4()),
        case_id=str(case_id),
        area="",
        agency=body.agency,
        description=body.description,
        due_by=body.due_by,
        done=False,
        agreed_at=now,
    )
    agreed = await handlers.agree_action(platform, action, principal.subject, _route(request))
    if agreed is None:
        raise HTTPException(404, "No case has this id.")
    return ActionView.of(agreed, today)


@router.post(
    "/actions/{action_id}/complete",
    response_model=ActionView,
    summary="Complete an action with its outcome (its own agency only)",
    responses={409: {"description": "Already completed otherwise"}, **UNKNOWN_ACTION, **PROBLEMS},
)
async def complete_action(
    action_id: UUID,
    body: ActionOutcome,
    platform: PlatformDep,
    principal: AnyActor,
    request: Request,
) -> ActionView:
    now = datetime.now(UTC)
    async with platform.sessions() as session:
        action = await repository.find_action(session, str(action_id))
    if action is None:
        raise HTTPException(404, "No action has this id.")
    acting_for(action.agency, principal)
    try:
        done = await handlers.complete_action(
            platform, action, body.outcome, principal.subject, _route(request), now
        )
    except handlers.ActionDone:
        raise HTTPException(409, "This action was already completed otherwise.") from None
    return ActionView.of(done, handlers.local_date(now, platform.settings))


@router.get(
    "/actions",
    response_model=list[ActionView],
    summary="Actions by area, agency and status, the most pressing first",
    responses={**PAGED, **PROBLEMS},
)
async def list_actions(
    platform: PlatformDep,
    principal: ActionReader,
    page: PageDep,
    response: Response,
    request: Request,
    area: AreaQuery = None,
    agency: MaracAgency | None = None,
    status: Literal["open", "overdue", "done"] | None = None,
) -> list[ActionView]:
    """`marac:read` sees every action; `marac:act:<agency>` its agency's own (`agency`
    required). `overdue`: open past its due date."""
    after = page.after
    today = handlers.local_date(datetime.now(UTC), platform.settings)
    read = ReadAudit(platform.outbox, platform.name, principal.subject, _route(request))
    async with platform.uow() as session:
        found = await repository.find_actions(
            session, area, agency, status, today, after, page.fetch
        )
        shown = page.answer(response, found, lambda a: (a.due_by, a.action_id))
        await read.record(session, "action", [a.action_id for a in shown])
    return [ActionView.of(a, today) for a in shown]


# the meeting's outcome


@router.post(
    "/meetings/{meeting_id}/outcome",
    response_model=OutcomeView,
    summary="Record a meeting's outcome: each case discussed (closed) or deferred",
    responses={
        409: {"description": "The meeting is still to come, or its outcome is recorded"},
        **UNKNOWN,
        **PROBLEMS,
    },
)
async def meeting_outcome(
    meeting_id: UUID,
    body: OutcomeRequest,
    platform: PlatformDep,
    principal: Admin,
    request: Request,
) -> OutcomeView:
    """On or after the meeting's date, naming every case on its list once. Discussed
    cases are closed (a past listing for the repeat rule); deferred ones wait again, first
    in line for the next meeting with room."""
    discussed = [str(c) for c in body.discussed]
    deferred = [str(c) for c in body.deferred]
    try:
        meeting = await handlers.record_outcome(
            platform,
            str(meeting_id),
            discussed,
            deferred,
            principal.subject,
            _route(request),
            datetime.now(UTC),
        )
    except handlers.NotHeld:
        raise HTTPException(409, "The meeting has not been held yet.") from None
    except handlers.OutcomeKnown:
        raise HTTPException(409, "This meeting's outcome is already recorded.") from None
    except handlers.OutcomeInvalid as exc:
        raise FieldErrors([{"loc": list(p.loc), "msg": p.msg} for p in exc.problems]) from None
    if meeting is None:
        raise HTTPException(404, "No meeting has this id.")
    return OutcomeView(meeting_id=meeting_id, discussed=body.discussed, deferred=body.deferred)


# the SafeLives national dataset return


@router.get(
    "/returns/safelives.csv",
    summary="The SafeLives MARAC national dataset return for an area and quarter",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **PROBLEMS},
)
async def safelives_return(
    platform: PlatformDep,
    principal: Admin,
    request: Request,
    area: Annotated[
        str, Query(pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$", max_length=64, description="The area")
    ],
    quarter: Annotated[str, Query(max_length=7, description="The quarter, e.g. 2026-Q3")],
) -> StreamingResponse:
    """One row per meeting held in the quarter, counted from the cases discussed at it
    (columns: domain.md). A case is referred by the agency of its first source."""
    try:
        first, last = quarter_dates(quarter)
    except ValueError as exc:
        raise FieldErrors([{"loc": ["query", "quarter"], "msg": str(exc)}]) from None
    today = handlers.local_date(datetime.now(UTC), platform.settings)
    found = await handlers.national_return(platform, area, first, last, today)
    async with platform.uow() as session:
        read = ReadAudit(platform.outbox, platform.name, principal.subject, _route(request))
        await read.record(session, "meeting", [f"{area}:{quarter}"])
    filename = f"safelives-{area}-{quarter}.csv"
    return StreamingResponse(
        csv_rows([COLUMNS, *found]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
