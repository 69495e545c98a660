"""The dashboard (contract section 11, scope `dashboard:read`): the indicators of
domain.md from the console's own read model (counts, never people), for an area and a
period, as a page with charts and as a CSV streamed a line at a time."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse

from console import repository
from console.config import Settings
from console.domain.indicators import INDICATORS, Dashboard, chart, csv_rows, dashboard, shown
from console.inputs import BadRequest, day
from console.web import PersonDep, needs, render, slug
from shared.service import Platform, PlatformDep

router = APIRouter(include_in_schema=False)
Text = Annotated[str | None, Query(max_length=64)]


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_page(
    request: Request,
    person: PersonDep,
    platform: PlatformDep,
    area: Text = None,
    from_: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    to: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    needs(person, "dashboard:read")
    chosen, start, end = _period(platform, area, from_, to)
    board, areas = await _dashboard(platform, chosen, start, end)
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
    area: Text = None,
    from_: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    to: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    needs(person, "dashboard:read")
    chosen, start, end = _period(platform, area, from_, to)
    board, _ = await _dashboard(platform, chosen, start, end)
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
    platform: Platform[Settings], area: str | None, start: date, end: date
) -> tuple[Dashboard, list[str]]:
    settings = platform.settings
    zone = ZoneInfo(settings.timezone)
    since = datetime.combine(start, time(), zone)
    until = datetime.combine(end + timedelta(days=1), time(), zone)
    async with platform.sessions() as session:
        facts = await repository.facts_between(session, area, since, until)
        areas = await repository.areas(session)
    women = settings.adult_female_population.get(area) if area else None
    return dashboard(facts, start, end, zone, women), areas
