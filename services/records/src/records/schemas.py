"""The records API's own models: the person search body, the verification answer, and
the CSV form of the entries. An entry is answered as the contract's `AuditEntry`."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, Field

from records.domain.chain import Record, fields_of, instant
from shared.schemas import AuditEntry
from shared.schemas.v1 import CalendarDate, Name, PersonId, Strict

NAMES = ("given_name", "family_name", "date_of_birth")


class PersonSearch(Strict):
    """Whom to search for: a person id, or names and date of birth (or both). The keys are
    computed by the hub's identity rule; the names are neither stored nor logged."""

    person_id: PersonId | None = Field(default=None, examples=["N123456"])
    given_name: Name | None = Field(default=None, examples=["Alex"])
    family_name: Name | None = Field(default=None, examples=["Example"])
    date_of_birth: CalendarDate | None = Field(default=None, examples=["1990-04-01"])

    def missing(self) -> list[dict[str, Any]]:
        """The fields a search cannot go without, each named (problem details' `errors`)."""
        given = [n for n in NAMES if getattr(self, n) is not None]
        if self.person_id is not None and not given:
            return []
        if self.person_id is None and not given:
            return [{"loc": ["body", "person_id"], "msg": "a person_id, or names and birth"}]
        msg = "given with the other names and the date of birth"
        return [{"loc": ["body", n], "msg": msg} for n in NAMES if getattr(self, n) is None]


class Verification(BaseModel):
    """`{"ok": true, "entries": N}`, or the first break: service, entry and reason."""

    ok: bool
    entries: int | None = None
    service: str | None = None
    entry_id: str | None = None
    reason: str | None = None


def entry_of(record: Record) -> AuditEntry:
    return AuditEntry.model_validate(fields_of(record))


CSV_COLUMNS = (
    "entry_id",
    "at",
    "service",
    "operation",
    "sub",
    "via",
    "route",
    "resource",
    "ids",
    "subjects",
    "recipient",
    "status",
)


def cell(text: str) -> str:
    # a `sub` like "=cmd|..." must not become a formula when the file is opened
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_rows(records: Iterable[Record], header: bool = False) -> str:
    """Entries as CSV lines (ids and subjects space-separated), the header first if asked."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    for r in records:
        writer.writerow(
            [
                r.entry_id,
                instant(r.at),
                cell(r.service),
                r.operation,
                cell(r.sub),
                r.via,
                cell(r.route),
                r.resource,
                cell(" ".join(r.ids)),
                " ".join(r.subjects),
                cell(r.recipient or ""),
                cell(str(r.status)),
            ]
        )
    return out.getvalue()


Operation = Literal["collected", "altered", "consulted", "disclosed", "combined", "erased"]
