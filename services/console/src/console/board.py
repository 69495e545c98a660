"""The dashboard (contract section 11, scope `dashboard:read`): the indicators of
domain.md from the console's own read model (counts, never people), for an area and a
period, as a page with charts and as a CSV streamed a line at a time.

One figure is not on the bus without people: the priority perpetrators. For a person who
may read them (`perpetrators:read`) it is counted from the perpetrators API's priority list,
asked as that person; for anyone else the page says what it needs."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse

from console import readmodel
from console.calls import Calls
from console.config import Settings
from console.domain.catalogue import INDICATORS
from console.domain.facts import Prioritised
from console.domain.indicators import (
    Dashboard,
    chart,
    csv_rows,
    dashboard,
    shown,
    without,
)
from console.domain.people import Person
from console.inputs import BadRequest, day
from console.upstream import Refused, Rejected, Unavailable
from console.web import PersonDep, UpstreamDep, needs, render, slug
from shared.service import Platform, PlatformDep

router = APIRouter(include_in_schema=False)
Text = Annotated[str | None, Query(max_length=64)]


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_page(
    request: Request,
    person: PersonDep,
    platform: PlatformDep,
    upstream: UpstreamDep,
    area: Text = None,
    from_: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    to: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    needs(person, "dashboard:read")
    chosen, start, end = _period(platform, area, from_, to)
    board, areas = await _dashboard(platform, upstream, person, chosen, start, end)
    return render(
        request,
        "dashboard.html",
        person,
        area=chosen,
        areas=areas,
        start=start,
        end=end,
        board=board,
        chart=chart(board),
        indicators=INDICATORS,
        shown=shown,
    )


@router.get("/dashboard.csv")
async def dashboard_csv(
    person: PersonDep,
    platform: PlatformDep,
    upstream: UpstreamDep,
    area: Text = None,
    from_: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    to: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    needs(person, "dashboard:read")
    chosen, start, end = _period(platform, area, from_, to)
    board, _ = await _dashboard(platform, upstream, person, chosen, start, end)
    name = f"mash-indicators-{chosen or 'all'}-{start.isoformat()}-{end.isoformat()}.csv"
    return StreamingResponse(
        _csv_lines(csv_rows(board, chosen or "all")),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _csv_lines(rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """A CSV file a line at a time (a download is streamed, never built whole)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow(row)
        yield out.getvalue()
        out.seek(0)
        out.truncate()


def _period(
    platform: Platform[Settings], area: str | None, start: str | None, end: str | None
) -> tuple[str | None, date, date]:
    """The area and dates asked for (the area checked first); by default the last 30 days."""
    chosen = slug(area, "area")
    zone = ZoneInfo(platform.settings.timezone)
    last = day(end, "to") or datetime.now(zone).date()
    first = day(start, "from") or max(last - timedelta(days=30), date(2000, 1, 1))
    if first > last:
        raise BadRequest("The start date must not be after the end date.")
    if (last - first).days > 3 * 366:
        raise BadRequest("Choose a period of at most three years.")
    return chosen, first, last


async def _dashboard(
    platform: Platform[Settings],
    upstream: Calls,
    person: Person,
    area: str | None,
    start: date,
    end: date,
) -> tuple[Dashboard, list[str]]:
    settings = platform.settings
    zone = ZoneInfo(settings.timezone)
    since = datetime.combine(start, time(), zone)
    until = datetime.combine(end + timedelta(days=1), time(), zone)
    async with platform.sessions() as session:
        facts = await readmodel.facts_between(session, area, since, until)
        areas = await readmodel.areas(session)
    women = settings.adult_female_population.get(area) if area else None
    found = await _prioritised(upstream, person, area, since, until)
    if isinstance(found, str):
        board = dashboard(facts, start, end, zone, datetime.now(UTC), women)
        return without(board, PRIORITY, found), areas
    board = dashboard(replace(facts, prioritised=found), start, end, zone, datetime.now(UTC), women)
    return board, areas


PRIORITY = "priority_perpetrators"
NEEDS_SCOPE = "Needs perpetrators:read"
NEEDS_AREA = "Choose an area"
NOT_ANSWERING = "Perpetrators service not answering"


async def _prioritised(
    upstream: Calls, person: Person, area: str | None, since: datetime, until: datetime
) -> list[Prioritised] | str:
    """The area's priority cohort whose score was set in the period (every page of the
    list, asked as the person), or why the figure cannot be shown."""
    if not person.may("perpetrators:read"):
        return NEEDS_SCOPE
    if area is None:
        return NEEDS_AREA  # the list is an area's (contract section 10)
    params = {"area": area, "cohort": "priority"}
    found: list[Prioritised] = []
    try:
        async for record in upstream.every("perpetrators", "/v1/perpetrators", person, params):
            entry = _entry(record, area)
            if entry is not None and since <= entry.at < until:
                found.append(entry)
    except Refused:
        return NEEDS_SCOPE
    except (Rejected, Unavailable):
        return NOT_ANSWERING
    return found


def _entry(record: dict[str, Any], area: str) -> Prioritised | None:
    """A priority list's row as the count needs it (its id and when it was scored); its
    person is read past, never kept."""
    try:
        at = datetime.fromisoformat(str(record["scored_at"]))
        perpetrator_id = str(record["perpetrator_id"])
    except (KeyError, ValueError):
        return None
    if record.get("priority") is not True or at.tzinfo is None:
        return None
    return Prioritised(perpetrator_id, area, at)
