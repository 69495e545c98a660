"""The records API (contract section 12), for the data protection officer: thin, parse ->
one read -> log the consultation -> answer. Lists are oldest first, paginated (section 2);
every answer is itself logged as `consulted` (resource `records`) on records' own topic,
in the transaction that read it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from records import handlers, repository
from records.repository import Filters, Listed, Position
from records.schemas import Operation, PersonSearch, Verification, csv_rows, entry_of
from shared.audit import Item, ReadAudit, audited
from shared.errors import FieldErrors
from shared.pagination import PAGED, Key, PageDep
from shared.schemas import AuditEntry
from shared.service import PlatformDep

router = APIRouter(prefix="/v1", tags=["records"])
Audit = Annotated[ReadAudit, Depends(audited("records:read"))]
PROBLEMS: dict[int | str, dict[str, str]] = {
    401: {"description": "No token, or not a valid one"},
    403: {"description": "The token lacks the scope"},
    422: {"description": "Problem details naming every bad field"},
}
CSV_PAGE = 500


async def _records(request: Request) -> handlers.Records:
    records: handlers.Records = request.app.state.records
    return records


RecordsDep = Annotated[handlers.Records, Depends(_records)]


def filters(
    incident_id: Annotated[
        str | None, Query(max_length=128, description="An id the entry names")
    ] = None,
    subject: Annotated[str | None, Query(max_length=128, description="A person's key")] = None,
    sub: Annotated[str | None, Query(max_length=256, description="Who processed")] = None,
    operation: Annotated[Operation | None, Query(description="What was done")] = None,
    since: Annotated[
        AwareDatetime | None, Query(alias="from", description="From (RFC 3339)")
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(alias="to", description="Before (RFC 3339)")
    ] = None,
) -> Filters:
    # UTC, as stored: SQLite compares times as text, without their offsets
    since, until = (t.astimezone(UTC) if t else None for t in (since, until))
    return Filters(incident_id, (subject,) if subject else (), sub, operation, since, until)


FiltersDep = Annotated[Filters, Depends(filters)]


def position_of(key: Key | None) -> Position | None:
    """Where a page starts: the (at, row id) its cursor names (signed for this list)."""
    if key is None:
        return None
    if len(key) != 2 or not isinstance(key[0], datetime) or not isinstance(key[1], int):
        raise FieldErrors([{"loc": ["query", "after"], "msg": "not a cursor of this list"}])
    return Position(key[0], key[1])


def _key(row: Listed) -> Key:
    return (row.position.at, row.position.id)


async def _read(
    platform: PlatformDep,
    audit: ReadAudit,
    found: Filters,
    after: Position | None,
    limit: int,
    fetch: int,
) -> list[Listed]:
    """Up to `fetch` entries after `after`; the first `limit` (the page answered) logged as
    consulted in the same transaction."""
    async with platform.uow() as session:
        rows = await repository.listed(session, found, after, fetch)
        read = [Item(r.record.entry_id, r.record.subjects) for r in rows[:limit]]
        await audit.record(session, "records", read, subjects=found.subjects)
    return rows


@router.get(
    "/records",
    response_model=list[AuditEntry],
    summary="Log entries, oldest first",
    responses={**PAGED, **PROBLEMS},
)
async def list_records(
    response: Response,
    platform: PlatformDep,
    audit: Audit,
    found: FiltersDep,
    page: PageDep,
) -> list[AuditEntry]:
    """The entries naming `incident_id` among their ids, about the person keyed `subject`,
    by `sub`, of one `operation`, processed `from` (inclusive) `to` (exclusive)."""
    after = position_of(page.after)
    rows = await _read(platform, audit, found, after, page.limit, page.fetch)
    return [entry_of(r.record) for r in page.answer(response, rows, _key)]


@router.post(
    "/records/search",
    response_model=list[AuditEntry],
    summary="The entries about one person",
    responses={**PAGED, **PROBLEMS},
)
async def search_records(
    response: Response,
    platform: PlatformDep,
    audit: Audit,
    person: Annotated[PersonSearch, Body()],
    page: PageDep,
) -> list[AuditEntry]:
    """Who collected, combined, consulted and received this person's data, and when: a
    subject access request's or a complaint's answer. The names are not stored."""
    if errors := person.missing():
        raise FieldErrors(errors)
    after = position_of(page.after)
    keys = handlers.person_keys(platform.settings.hub.pseudonym_key, person)
    rows = await _read(platform, audit, Filters(subjects=keys), after, page.limit, page.fetch)
    return [entry_of(r.record) for r in page.answer(response, rows, _key)]


@router.get(
    "/records.csv",
    summary="Log entries as CSV, for the ICO",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **PROBLEMS},
)
async def records_csv(platform: PlatformDep, audit: Audit, found: FiltersDep) -> StreamingResponse:
    """The same filters as the list; the whole file, streamed, each part logged before
    it is sent."""
    first = await _read(platform, audit, found, None, CSV_PAGE, CSV_PAGE + 1)

    async def lines() -> AsyncIterator[str]:
        rows = first
        yield csv_rows((r.record for r in rows[:CSV_PAGE]), header=True)
        while len(rows) > CSV_PAGE:
            after = rows[CSV_PAGE - 1].position
            rows = await _read(platform, audit, found, after, CSV_PAGE, CSV_PAGE + 1)
            yield csv_rows(r.record for r in rows[:CSV_PAGE])

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="records.csv"'},
    )


@router.get(
    "/records/verify",
    response_model=Verification,
    response_model_exclude_none=True,
    summary="Verify every service's chain",
    responses=PROBLEMS,
)
async def verify_records(
    platform: PlatformDep, audit: Audit, records: RecordsDep
) -> dict[str, Any]:
    """`{"ok": true, "entries": N}`, or the first entry that breaks a chain."""
    verdict = await handlers.verify(records)
    async with platform.uow() as session:
        await audit.record(session, "records", [])
    if verdict.broken is None:
        return {"ok": True, "entries": verdict.entries}
    broken = verdict.broken
    return {
        "ok": False,
        "service": broken.service,
        "entry_id": broken.entry_id,
        "reason": broken.reason,
    }
