"""The review page (contract sections 11 and 12, scope `reviews:read`): for a Domestic
Abuse Related Death Review, the hub's part of a person's chronology, oldest first, or
what one agency had received by a moment (the referral records exactly as sent), on
screen, on paper (print styles) and as CSV.

As on the records page, the person is searched for by a POST with the session's CSRF
token, and so is each next page and the CSV: names and dates of birth never appear in an
address. The moment is entered in the hub's own time zone and sent to records in UTC.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse

from console.calls import Calls
from console.domain.people import Person
from console.inputs import BadRequest, cursor, day
from console.records import Search, checked
from console.upstream import MAX_PAGES, Page
from console.web import FormTokenDep, PersonDep, UpstreamDep, check_csrf, needs, render
from shared.service import PlatformDep
from shared.topics import AGENCIES

router = APIRouter(include_in_schema=False)
SCOPE = "reviews:read"
SEARCH = "/v1/chronology/search"
Field = Annotated[str, Form(max_length=200)]
Short = Annotated[str, Form(max_length=10)]
EVENT_COLUMNS = ("at", "agency", "event", "ids", "summary")
RECEIVED_COLUMNS = ("created_at", "agency", "referral_id", "incident_id", "record")


@dataclass
class Shown:
    """Which view: the whole chronology, or what `agency` had received by `as_of`."""

    agency: str = ""
    on: str = ""
    at: str = ""
    as_of: datetime | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def params(self) -> dict[str, str]:
        if not self.agency:
            return {}
        moment = self.as_of.astimezone(UTC).isoformat() if self.as_of else ""
        return {"agency": self.agency, "as_of": moment}


def shown(agency: str, on: str, at: str, zone: ZoneInfo) -> Shown:
    """The view asked for; a moment is a date and, optionally, a time (default: the end
    of that day), in the hub's time zone; no date with an agency means now."""
    view = Shown(agency.strip(), on.strip(), at.strip())
    if view.agency and view.agency not in AGENCIES:
        view.errors["agency"] = "Choose an agency from the list."
    if (view.on or view.at) and not view.agency:
        view.errors["agency"] = "Choose the agency whose records to show as of that moment."
    try:
        when = day(view.on, "as of") if view.on else None
    except BadRequest as exc:
        view.errors["as_of"] = exc.detail
        return view
    if view.at and when is None:
        view.errors["as_of"] = "Enter the date as well as the time."
    clock = _clock(view.at)
    if clock is None:
        view.errors["as_of-time"] = "Enter the time like 09:30."
        return view
    if when is not None:
        view.as_of = datetime.combine(when, clock, zone)
    return view


def _clock(text: str) -> time | None:
    """A time of day like 09:30 (none given: the end of the day), or None."""
    if not text:
        return time(23, 59, 59)
    try:
        return time.fromisoformat(text) if len(text) == 5 and text[2] == ":" else None
    except ValueError:
        return None


async def _form(
    person: Person,
    csrf_token: object,
    search: Search,
    agency: str,
    on: str,
    at: str,
    zone: ZoneInfo,
) -> tuple[Search, Shown]:
    check_csrf(person, csrf_token)
    needs(person, SCOPE)
    return checked(search), shown(agency, on, at, zone)


@router.get("/reviews", response_class=HTMLResponse)
async def review_page(request: Request, person: PersonDep) -> Response:
    needs(person, SCOPE)
    return render(request, "review.html", person, **_context(Search(), Shown()))


@router.post("/reviews", response_class=HTMLResponse)
async def review_search(
    request: Request,
    person: PersonDep,
    upstream: UpstreamDep,
    platform: PlatformDep,
    csrf_token: FormTokenDep,
    person_id: Field = "",
    given_name: Field = "",
    family_name: Field = "",
    birth_day: Annotated[str, Form(alias="date_of_birth-day", max_length=10)] = "",
    birth_month: Annotated[str, Form(alias="date_of_birth-month", max_length=10)] = "",
    birth_year: Annotated[str, Form(alias="date_of_birth-year", max_length=10)] = "",
    agency: Annotated[str, Form(max_length=64)] = "",
    as_of: Short = "",
    as_of_time: Annotated[str, Form(alias="as_of-time", max_length=10)] = "",
    after: Annotated[str, Form(max_length=1024)] = "",
    whole: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    """One page of the list; or, for printing, every page of it on one (`whole`)."""
    search = Search(person_id, given_name, family_name, birth_day, birth_month, birth_year)
    zone = ZoneInfo(platform.settings.timezone)
    search, view = await _form(person, csrf_token, search, agency, as_of, as_of_time, zone)
    if search.errors or view.errors:
        return render(request, "review.html", person, 400, **_context(search, view))
    if whole:
        every = upstream.every("records", SEARCH, person, view.params(), body=search.body())
        found = Page([item async for item in every])
    else:
        found = await _page(upstream, person, search, view, cursor(after))
    context = _context(search, view, found, later=bool(after), whole=bool(whole))
    return render(request, "review.html", person, **context)


async def _page(
    upstream: Calls, person: Person, search: Search, view: Shown, after: str | None
) -> Page:
    """One page of the chronology (or of the records received), oldest first."""
    return await upstream.page("records", SEARCH, person, view.params(), after, dict(search.body()))


def _context(
    search: Search, view: Shown, found: Page | None = None, later: bool = False, whole: bool = False
) -> Any:
    return {
        "whole": whole,
        "search": search,
        "view": view,
        "errors": {**search.errors, **view.errors},
        "page": found,
        "later": later,
        "agencies": AGENCIES,
        "printed_at": datetime.now(UTC),
    }


@router.post("/reviews/chronology.csv")
async def review_csv(
    person: PersonDep,
    upstream: UpstreamDep,
    platform: PlatformDep,
    csrf_token: FormTokenDep,
    person_id: Field = "",
    given_name: Field = "",
    family_name: Field = "",
    birth_day: Annotated[str, Form(alias="date_of_birth-day", max_length=10)] = "",
    birth_month: Annotated[str, Form(alias="date_of_birth-month", max_length=10)] = "",
    birth_year: Annotated[str, Form(alias="date_of_birth-year", max_length=10)] = "",
    agency: Annotated[str, Form(max_length=64)] = "",
    as_of: Short = "",
    as_of_time: Annotated[str, Form(alias="as_of-time", max_length=10)] = "",
) -> Response:
    """The whole list as CSV, a page of records' answer at a time (every page logged by
    records as it is read)."""
    search = Search(person_id, given_name, family_name, birth_day, birth_month, birth_year)
    zone = ZoneInfo(platform.settings.timezone)
    search, view = await _form(person, csrf_token, search, agency, as_of, as_of_time, zone)
    if search.errors or view.errors:
        raise BadRequest(next(iter({**search.errors, **view.errors}.values())))
    first = await _page(upstream, person, search, view, None)
    name = f"received-{view.agency}.csv" if view.agency else "chronology.csv"
    return StreamingResponse(
        _csv_lines(upstream, person, search, view, first),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


async def _csv_lines(
    upstream: Calls, person: Person, search: Search, view: Shown, found: Page
) -> AsyncIterator[str]:
    yield _line(RECEIVED_COLUMNS if view.agency else EVENT_COLUMNS)
    for _ in range(MAX_PAGES):
        for item in found.items:
            yield _line(_received_row(item) if view.agency else _event_row(item))
        if found.after is None:
            return
        found = await _page(upstream, person, search, view, found.after)


def _event_row(event: dict[str, Any]) -> list[str]:
    ids = event.get("ids") or []
    return [
        str(event.get("at", "")),
        str(event.get("agency", "")),
        str(event.get("event", "")),
        " ".join(str(i) for i in ids) if isinstance(ids, list) else "",
        str(event.get("summary", "")),
    ]


def _received_row(record: dict[str, Any]) -> list[str]:
    return [
        str(record.get("created_at", "")),
        str(record.get("agency", "")),
        str(record.get("referral_id", "")),
        str(record.get("incident_id", "")),
        json.dumps(record, ensure_ascii=False, separators=(",", ":")),
    ]


def _line(cells: Sequence[str]) -> str:
    """One CSV line; a cell that a spreadsheet would read as a formula is quoted as text."""
    out = io.StringIO()
    safe = [f"'{c}" if c[:1] in ("=", "+", "-", "@", "\t", "\r") else c for c in cells]
    csv.writer(out, lineterminator="\r\n").writerow(safe)
    return out.getvalue()
