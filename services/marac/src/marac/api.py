"""Marac's HTTP API (contract section 6): thin, parse -> handler -> answer."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from marac import handlers, repository
from marac.domain.listing import Meeting, agenda, waiting_queue
from marac.schemas import CaseView, MeetingRequest, MeetingView, as_csv
from shared.auth import Principal, require
from shared.errors import FieldErrors
from shared.service import PlatformDep

router = APIRouter(prefix="/v1", tags=["marac"])
Admin = Annotated[Principal, Depends(require("marac:admin"))]
Reader = Annotated[Principal, Depends(require("marac:read"))]
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
    responses=PROBLEMS,
)
async def list_meetings(
    platform: PlatformDep,
    _: Reader,
    area: AreaQuery = None,
    from_date: Annotated[
        date | None, Query(alias="from", description="Only meetings on or after this date")
    ] = None,
) -> list[MeetingView]:
    async with platform.sessions() as session:
        meetings = await repository.meetings_of(session, area, from_date)
    return [MeetingView.of(m) for m in meetings]


@router.get(
    "/meetings/{meeting_id}/cases",
    response_model=list[CaseView],
    summary="A meeting's list, in agenda order",
    responses={**UNKNOWN, **PROBLEMS},
)
async def meeting_cases(meeting_id: UUID, platform: PlatformDep, _: Reader) -> list[CaseView]:
    """Cases with children first, then adult-only cases; highest `priority` first in each."""
    return (await _meeting_list(platform, meeting_id))[1]


@router.get(
    "/meetings/{meeting_id}/cases.csv",
    summary="A meeting's list as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **UNKNOWN, **PROBLEMS},
)
async def meeting_cases_csv(meeting_id: UUID, platform: PlatformDep, _: Reader) -> Response:
    meeting, cases = await _meeting_list(platform, meeting_id)
    filename = f"marac-{meeting.area}-{meeting.date.isoformat()}.csv"
    return Response(
        as_csv(meeting, cases),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/cases",
    response_model=list[CaseView],
    summary="Cases by area and status",
    responses=PROBLEMS,
)
async def find_cases(
    platform: PlatformDep,
    _: Reader,
    area: AreaQuery = None,
    status: Literal["awaiting_meeting", "listed"] | None = None,
) -> list[CaseView]:
    """`status=awaiting_meeting`: eligible cases no meeting has room for yet, in the order
    they will get places; `status=listed`: cases on meetings, by meeting date and agenda."""
    async with platform.sessions() as session:
        cases = await repository.find_cases(session, area, status)
    listed = agenda(c for c in cases if c.status == "listed")
    # by meeting, each in agenda order (the sort is stable)
    listed.sort(key=lambda c: (c.meeting_date or date.min, c.meeting_id or ""))
    return [CaseView.of(c) for c in [*waiting_queue(cases), *listed]]


async def _meeting_list(platform: PlatformDep, meeting_id: UUID) -> tuple[Meeting, list[CaseView]]:
    async with platform.sessions() as session:
        meeting = await repository.find_meeting(session, str(meeting_id))
        if meeting is None:
            raise HTTPException(404, "No meeting has this id.")
        cases = await repository.cases_on(session, meeting.meeting_id)
    return meeting, [CaseView.of(c) for c in agenda(cases)]
