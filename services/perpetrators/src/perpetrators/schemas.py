"""What the API answers (contract section 10): the perpetrator, and the list as CSV.

The event schemas are the same models (`shared.schemas`): a topic's data is exactly
what `GET /v1/perpetrators/{id}` answers. No victim appears in any of them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from uuid import UUID

from perpetrators.domain.perpetrator import Perpetrator
from shared.schemas import (
    PerpetratorComponents,
    PerpetratorPerson,
    PerpetratorRecord,
    PerpetratorSummary,
)
from shared.schemas.v1 import ScoreHistoryEntry

__all__ = ["PerpetratorRecord", "PerpetratorSummary", "as_csv", "record_of", "summary_of"]


def summary_of(perpetrator: Perpetrator) -> PerpetratorSummary:
    """One row of an area's list."""
    score, parts, person = perpetrator.score, perpetrator.score.components, perpetrator.person
    return PerpetratorSummary(
        perpetrator_id=perpetrator.perpetrator_id,
        area=perpetrator.area,
        score=score.score,
        priority=perpetrator.priority,
        components=PerpetratorComponents(
            recency=parts.recency,
            frequency=parts.frequency,
            gravity=parts.gravity,
            victims=parts.victims,
        ),
        policy_version=score.policy_version,
        policy_owner=score.policy_owner,
        person=PerpetratorPerson(
            given_name=person.given_name,
            family_name=person.family_name,
            date_of_birth=person.date_of_birth,
        ),
        incidents_24m=score.incidents_24m,
        victims_count=score.victims_count,
        children_involved=score.children_involved,
        last_incident_at=score.last_incident_at,
        scored_at=score.scored_at,
    )


def record_of(perpetrator: Perpetrator) -> PerpetratorRecord:
    """One perpetrator with their incidents and score history (also an event's data)."""
    return PerpetratorRecord(
        **summary_of(perpetrator).model_dump(),
        incident_ids=[UUID(i) for i in perpetrator.incident_ids],
        history=[
            ScoreHistoryEntry(scored_at=h.scored_at, score=h.score) for h in perpetrator.history
        ],
    )


CSV_COLUMNS = (
    "position",
    "perpetrator_id",
    "area",
    "score",
    "priority",
    "recency",
    "frequency",
    "gravity",
    "victims",
    "policy_version",
    "policy_owner",
    "given_name",
    "family_name",
    "date_of_birth",
    "incidents_24m",
    "victims_count",
    "children_involved",
    "last_incident_at",
    "scored_at",
)


def as_csv(perpetrators: list[PerpetratorSummary]) -> str:
    """The list as CSV, one row per perpetrator in the list's order."""
    return CSV_HEADER + "".join(csv_rows(perpetrators))


def csv_rows(perpetrators: Iterable[PerpetratorSummary], start: int = 1) -> Iterator[str]:
    """CSV lines, one per perpetrator in the list's order, numbered from `start` (a
    streamed answer writes one batch of the list at a time)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for position, p in enumerate(perpetrators, start=start):
        parts = p.components
        out.seek(0)
        out.truncate()
        writer.writerow(
            [
                position,
                p.perpetrator_id,
                _cell(p.area),
                p.score,
                str(p.priority).lower(),
                parts.recency,
                parts.frequency,
                parts.gravity,
                parts.victims,
                _cell(p.policy_version),
                _cell(p.policy_owner),
                _cell(p.person.given_name),
                _cell(p.person.family_name),
                _date(p.person.date_of_birth),
                p.incidents_24m,
                p.victims_count,
                str(p.children_involved).lower(),
                _moment(p.last_incident_at),
                _moment(p.scored_at),
            ]
        )
        yield out.getvalue()


def _header() -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(CSV_COLUMNS)
    return out.getvalue()


CSV_HEADER = _header()


def _cell(text: str) -> str:
    # a name like "=cmd|..." must not become a formula when the list is opened in a spreadsheet
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _date(day: date | None) -> str:
    return day.isoformat() if day else ""


def _moment(moment: datetime | None) -> str:
    return moment.isoformat().replace("+00:00", "Z") if moment else ""
