"""The chronology for a Domestic Abuse Related Death Review (contract 12), scope
`reviews:read`: a person's events oldest first, or, with `?agency=&as_of=`, the referral
records exactly as that agency had received them by then. Lists paginated (section 2),
CSVs streamed; every answer logged as `consulted` (resource `records`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel

from records import handlers, reviews
from records.api import PROBLEMS, position_of
from records.disclosures import Disclosure
from records.reviews import Step
from records.schemas import PersonSearch
from shared.audit import ReadAudit, audited
from shared.errors import FieldErrors
from shared.pagination import PAGED, Key, Page, PageDep
from shared.schemas.v1 import Agency
from shared.service import PlatformDep

router = APIRouter(prefix="/v1", tags=["reviews"])
Audit = Annotated[ReadAudit, Depends(audited("reviews:read"))]
CSV_PAGE = 500


class ChronologyEvent(BaseModel):
    """One step: when, which agency, what (the review's vocabulary), which records."""

    at: str
    agency: str
    event: str
    ids: list[str]
    summary: str


class View(BaseModel):
    """The chronology, or (with an agency) what that agency had received by `as_of`."""

    agency: Agency | None = None
    as_of: datetime | None = None

    @property
    def received(self) -> bool:
        return self.agency is not None


def view(
    agency: Annotated[
        Agency | None, Query(description="The agency whose received records are asked")
    ] = None,
    as_of: Annotated[
        AwareDatetime | None, Query(description="By when (RFC 3339; default: now)")
    ] = None,
) -> View:
    if as_of is not None and agency is None:
        raise FieldErrors([{"loc": ["query", "agency"], "msg": "as_of needs an agency"}])
    at = (as_of or datetime.now(UTC)).astimezone(UTC)
    return View(agency=agency, as_of=at if agency else None)


ViewDep = Annotated[View, Depends(view)]
Subject = Annotated[str, Query(min_length=1, max_length=128, description="A person's key")]
ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        **PAGED[200],
        "description": "The person's events (`ChronologyEvent`s) oldest first; with `agency`,"
        " the referral records as that agency received them, in the order they were sent",
        "content": {"application/json": {}},
    },
    **PROBLEMS,
}


def _step_key(step: Step) -> Key:
    return (step.position.at, step.position.id)


def _sent_key(found: Disclosure) -> Key:
    return (found.disclosed_at, found.id)


async def _answer(
    response: Response,
    platform: PlatformDep,
    audit: ReadAudit,
    keys: Sequence[str],
    shown: View,
    page: Page,
) -> Response:
    position = position_of(page.after)
    after = (position.at, position.id) if position else None
    if shown.agency is not None and shown.as_of is not None:
        found = await reviews.read_received(
            platform, audit, keys, shown.agency, shown.as_of, after, page.limit, page.fetch
        )
        body = reviews.records_json(page.answer(response, found, _sent_key))
    else:
        steps = await reviews.read_events(platform, audit, keys, position, page.limit, page.fetch)
        events = [reviews.event_json(s.event) for s in page.answer(response, steps, _step_key)]
        body = json.dumps(events, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {k: v for k, v in response.headers.items() if k.lower() == "link"}
    return Response(body, media_type="application/json", headers=headers)


@router.get(
    "/chronology",
    response_model=list[ChronologyEvent],
    summary="A person's chronology",
    responses=ANSWER,
)
async def chronology(
    response: Response,
    platform: PlatformDep,
    audit: Audit,
    subject: Subject,
    shown: ViewDep,
    page: PageDep,
) -> Response:
    """Every event about the person keyed `subject`, oldest first; with `agency` (and
    `as_of`), what that agency had been sent by then."""
    return await _answer(response, platform, audit, (subject,), shown, page)


@router.post(
    "/chronology/search",
    response_model=list[ChronologyEvent],
    summary="A person's chronology, by id or names",
    responses=ANSWER,
)
async def chronology_search(
    response: Response,
    platform: PlatformDep,
    audit: Audit,
    person: Annotated[PersonSearch, Body()],
    shown: ViewDep,
    page: PageDep,
) -> Response:
    """As `GET /v1/chronology`, the person given as in `POST /v1/records/search`."""
    if errors := person.missing():
        raise FieldErrors(errors)
    keys = handlers.person_keys(platform.settings.hub.pseudonym_key, person)
    return await _answer(response, platform, audit, keys, shown, page)


@router.get(
    "/chronology.csv",
    summary="A person's chronology (or an agency's records by then) as CSV",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **PROBLEMS},
)
async def chronology_csv(
    platform: PlatformDep, audit: Audit, subject: Subject, shown: ViewDep
) -> StreamingResponse:
    """The same as the list, the whole file, streamed, each part logged before it is sent."""
    keys = (subject,)
    if shown.agency is not None and shown.as_of is not None:
        agency, as_of = shown.agency, shown.as_of

        async def received(after: tuple[datetime, int] | None) -> list[Disclosure]:
            return await reviews.read_received(
                platform, audit, keys, agency, as_of, after, CSV_PAGE, CSV_PAGE + 1
            )

        sent = await received(None)

        async def sent_lines() -> AsyncIterator[str]:
            found = sent
            yield reviews.received_csv(found[:CSV_PAGE], header=True)
            while len(found) > CSV_PAGE:
                last = found[CSV_PAGE - 1]
                found = await received((last.disclosed_at, last.id))
                yield reviews.received_csv(found[:CSV_PAGE])

        return _csv(sent_lines(), "received.csv")

    steps = await reviews.read_events(platform, audit, keys, None, CSV_PAGE, CSV_PAGE + 1)

    async def event_lines() -> AsyncIterator[str]:
        found = steps
        yield reviews.events_csv((s.event for s in found[:CSV_PAGE]), header=True)
        while len(found) > CSV_PAGE:
            after = found[CSV_PAGE - 1].position
            found = await reviews.read_events(platform, audit, keys, after, CSV_PAGE, CSV_PAGE + 1)
            yield reviews.events_csv(s.event for s in found[:CSV_PAGE])

    return _csv(event_lines(), "chronology.csv")


def _csv(lines: AsyncIterator[str], name: str) -> StreamingResponse:
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
