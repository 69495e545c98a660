"""Marac's HTTP API (contract section 6): thin, parse -> handler -> answer."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.responses import StreamingResponse

from marac import handlers, repository
from marac.domain.listing import MaracCase, agenda, agenda_key, waiting_key
from marac.schemas import CaseView, MeetingRequest, MeetingView, csv_lines
from shared.audit import ReadAudit, audited
from shared.auth import Principal, require
from shared.errors import FieldErrors
from shared.pagination import PAGED, PageDep, seek
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
