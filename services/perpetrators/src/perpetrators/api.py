"""Perpetrators' HTTP API (contract section 10): thin, parse -> query -> audit -> answer.

Every answer discloses personal data (the suspects' names and dates of birth), so every
one logs a `consulted` entry (with the perpetrators' keys) in the transaction it reads in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from perpetrators import repository
from perpetrators.domain.scoring import months_before
from perpetrators.schemas import (
    CSV_HEADER,
    PerpetratorRecord,
    PerpetratorSummary,
    csv_rows,
    record_of,
    summary_of,
)
from shared.audit import Item, ReadAudit, audited
from shared.pagination import PAGED, PageDep
from shared.service import PlatformDep

router = APIRouter(prefix="/v1", tags=["perpetrators"])
Audit = Annotated[ReadAudit, Depends(audited("perpetrators:read"))]
AreaQuery = Annotated[
    str,
    Query(pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$", max_length=64, description="The area"),
]
CohortQuery = Annotated[
    Literal["priority", "all"],
    Query(description="`priority` (default): the priority cohort only; `all`: everyone scored"),
]
PerpetratorId = Annotated[str, Path(max_length=64, description="The perpetrator's pseudonym")]
PROBLEMS: dict[int | str, dict[str, str]] = {
    401: {"description": "No token, or not a valid one"},
    403: {"description": "The token lacks the scope"},
    422: {"description": "Problem details naming every bad field"},
}
RESOURCE: Final = "perpetrator"


CSV_BATCH = 500
"""Rows read (and logged) at a time while a CSV streams."""


async def _log(session: AsyncSession, audit: ReadAudit, ids: list[str]) -> None:
    """Log a consultation of these perpetrators, each with their own people's keys."""
    keys = await repository.identity_keys(session, ids)
    await audit.record(session, RESOURCE, [Item(i, keys.get(i, ())) for i in ids])


@router.get(
    "/perpetrators",
    response_model=list[PerpetratorSummary],
    summary="An area's perpetrators, highest score first",
    responses={**PAGED, **PROBLEMS},
)
async def list_perpetrators(
    platform: PlatformDep,
    audit: Audit,
    area: AreaQuery,
    page: PageDep,
    response: Response,
    cohort: CohortQuery = "priority",
) -> list[PerpetratorSummary]:
    """The area's priority cohort (or everyone scored, `cohort=all`), each with the parts of
    the score, the policy's version and owner, a page at a time (`limit`, `after`; `Link:
    <next>; rel="next"` while more remain). A perpetrator's area is that of their latest
    incident."""
    after = page.after  # a cursor this list did not issue: 422 before any read
    async with platform.uow() as session:
        found = await repository.in_area(session, area, cohort == "priority", after, page.fetch)
        shown = page.answer(response, found, repository.area_key)
        await _log(session, audit, [p.perpetrator_id for p in shown])
    return [summary_of(p) for p in shown]


@router.get(
    "/perpetrators.csv",
    summary="An area's perpetrators as CSV",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **PROBLEMS},
)
async def list_perpetrators_csv(
    platform: PlatformDep, audit: Audit, area: AreaQuery, cohort: CohortQuery = "priority"
) -> StreamingResponse:
    """The whole list as a CSV file, streamed: read (and logged as consulted) 500 rows at a
    time, each batch before its rows are sent."""
    priority_only = cohort == "priority"

    async def lines() -> AsyncIterator[str]:
        yield CSV_HEADER
        after: tuple[Any, ...] | None = None
        position = 1
        while True:
            async with platform.uow() as session:
                batch = await repository.in_area(session, area, priority_only, after, CSV_BATCH)
                if batch or after is None:  # an empty list is logged once too
                    await _log(session, audit, [p.perpetrator_id for p in batch])
            for line in csv_rows((summary_of(p) for p in batch), start=position):
                yield line
            position += len(batch)
            if len(batch) < CSV_BATCH:
                return
            after = repository.area_key(batch[-1])

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="perpetrators-{area}.csv"'},
    )


@router.get(
    "/perpetrators/{perpetrator_id}",
    response_model=PerpetratorRecord,
    summary="One perpetrator, with incidents and score history",
    responses={404: {"description": "Unknown perpetrator"}, **PROBLEMS},
)
async def one_perpetrator(
    perpetrator_id: PerpetratorId, platform: PlatformDep, audit: Audit
) -> PerpetratorRecord:
    """The perpetrator as in the list, plus the ids of the incidents the score counts and
    every change of score."""
    window = partial(months_before, months=platform.settings.policy.window_months)
    async with platform.uow() as session:
        found = await repository.find(session, perpetrator_id, window)
        # an unsuccessful look-up is audited too: someone asked for this id
        keys = (await repository.identity_keys(session, [perpetrator_id])).get(perpetrator_id, ())
        status = 200 if found else 404
        await audit.record(session, RESOURCE, [perpetrator_id], status, subjects=keys)
    if found is None:
        raise HTTPException(404, "No perpetrator has this id.")
    return record_of(found)
