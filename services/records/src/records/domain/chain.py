"""The hash chain of each service's log entries (contract section 12): a changed, missing
or inserted entry shows.

Each entry is linked to the one before it from the same service:

    hash = sha256(previous hash (64 lowercase hex characters, ASCII) + canonical JSON)

where the canonical JSON is the entry's object with sorted keys, no spaces, UTF-8 (not
\\u-escaped), `at` in UTC as `YYYY-MM-DDTHH:MM:SS.ffffffZ`. A service's first entry
chains from `GENESIS`. Anyone can recompute a link with `sha256sum`:

    printf '%s%s' "$previous" "$canonical_json" | sha256sum

After the retention job erases a service's oldest entries, the chain resumes from a
checkpoint: the position (`seq`) and hash of the last erased entry, kept insert-only, so
the remaining entries still verify from the oldest one kept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
"""The hash a service's first entry chains from."""


@dataclass(frozen=True)
class Record:
    """One log entry, as the service that made it published it (shared.schemas.AuditEntry)."""

    entry_id: str
    at: datetime
    service: str
    operation: str
    sub: str
    via: str
    route: str
    resource: str
    ids: tuple[str, ...]
    subjects: tuple[str, ...]
    recipient: str | None
    status: int | str


@dataclass(frozen=True)
class Link:
    """Where a chain stands: the position and hash of its latest entry (0 and GENESIS
    before the first)."""

    seq: int
    hash: str


START = Link(0, GENESIS)
_FIELDS = tuple(f.name for f in fields(Record))


@dataclass(frozen=True)
class Chained:
    """A kept entry with its place in its service's chain."""

    record: Record
    seq: int
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Break:
    """The first entry of a chain that does not verify, and why."""

    service: str
    entry_id: str
    reason: str


def instant(moment: datetime) -> str:
    """An instant as the canonical form writes it: UTC, microseconds, `Z`."""
    if moment.tzinfo is None:  # SQLite hands back UTC without its offset
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fields_of(record: Record) -> dict[str, Any]:
    """The entry's fields by name, its ids and subjects as lists: what its canonical JSON,
    its row in the store and its answer in the API are each made of. The fields are flat,
    so this is what `dataclasses.asdict` gives, without its deep copy (about half of a
    link's cost in the steady phase's profile)."""
    body = {name: getattr(record, name) for name in _FIELDS}
    body["ids"] = list(record.ids)
    body["subjects"] = list(record.subjects)
    return body


def canonical(record: Record) -> bytes:
    """The entry's canonical JSON: sorted keys, no spaces, UTF-8."""
    body = fields_of(record)
    body["at"] = instant(record.at)
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_hash(previous: str, record: Record) -> str:
    """The hash of `record` chained after an entry whose hash is `previous`."""
    return hashlib.sha256(previous.encode("ascii") + canonical(record)).hexdigest()


def chain(after: Link, record: Record) -> Chained:
    """`record` as the next entry of a chain that stands at `after`."""
    return Chained(record, after.seq + 1, after.hash, link_hash(after.hash, record))


Indexed = tuple[frozenset[str], frozenset[str]]
"""An entry's people and record ids as kept one a row for searching."""


def index_of(record: Record) -> Indexed:
    return frozenset(record.subjects), frozenset(record.ids)


def walk(
    service: str,
    start: Link,
    entries: Iterable[Chained],
    indexed: Mapping[str, Indexed] | None = None,
) -> Link | Break:
    """Follow one service's kept entries in chain order from `start` (its checkpoint, or
    START): where the chain stands after them, or the first that does not follow. With
    `indexed` (the search rows found for each entry), an entry whose rows differ from it
    breaks too: a search would miss it or find it wrongly."""
    at = start
    nothing: Indexed = (frozenset(), frozenset())
    for entry in entries:
        entry_id = entry.record.entry_id
        if entry.record.service != service:
            return Break(service, entry_id, "entry of another service")
        if entry.seq <= at.seq:
            return Break(service, entry_id, "entry out of place in the chain")
        if entry.seq != at.seq + 1 or entry.prev_hash != at.hash:
            return Break(service, entry_id, "an entry before it is missing or changed")
        if link_hash(at.hash, entry.record) != entry.hash:
            return Break(service, entry_id, "entry changed")
        if indexed is not None and indexed.get(entry_id, nothing) != index_of(entry.record):
            return Break(service, entry_id, "its people or ids as searched differ from it")
        at = Link(entry.seq, entry.hash)
    return at
