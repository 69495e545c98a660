"""Log entries for the records domain's tests."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from records.domain.chain import START, Chained, Link, Record, chain

T0 = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def record(n: int = 0, service: str = "notify", **changes: Any) -> Record:
    found = Record(
        entry_id=str(uuid.UUID(int=n + 1)),
        at=T0 + timedelta(minutes=n),
        service=service,
        operation="disclosed",
        sub="notify",
        via="topic",
        route="mash.referrals.idva.v1",
        resource="referral",
        ids=(f"referral-{n}",),
        subjects=("k" * 64,),
        recipient="idva",
        status="ok",
    )
    return replace(found, **changes)


def chained(count: int, service: str = "notify") -> list[Chained]:
    """`count` entries of one service, properly chained from the start."""
    out: list[Chained] = []
    at = START
    for n in range(count):
        entry = chain(at, record(n, service))
        out.append(entry)
        at = Link(entry.seq, entry.hash)
    return out
