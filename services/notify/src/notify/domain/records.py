"""The referral record of contract section 5, as agencies read it from the ledger."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from notify.domain.clocks import is_overdue
from notify.domain.delivery import Status
from shared.db import utc
from shared.schemas import ReferralCreated


@dataclass(frozen=True)
class LedgerEntry:
    """One referral as the ledger holds it, with its delivery, and whether its event is on
    the agency's topic yet."""

    referral_id: str
    incident_id: str
    agency: str
    subject: str
    reason: str
    risk_level: str
    decision_id: str
    victim_key: str
    data: dict[str, Any]
    created_at: datetime
    review_due_at: datetime | None
    acknowledged_at: datetime | None
    channel: str
    status: Status
    attempts: int
    deliver_after: datetime
    delivered_at: datetime | None
    trace: dict[str, str]
    published: bool
    """Whether the referral's event is on the agency's topic (the relay purges published
    outbox rows after a while: a missing row was published)."""
    due_by: datetime | None = None
    overdue_since: datetime | None = None
    """Set once, when the referral was escalated as overdue."""


def _delivery(row: LedgerEntry, status: Status, attempts: int) -> dict[str, Any]:
    delivery: dict[str, Any] = {"status": status, "attempts": attempts, "channel": row.channel}
    if row.agency == "school":
        delivery["deliver_after"] = utc(row.deliver_after).isoformat().replace("+00:00", "Z")
    return delivery


def delivery_of(row: LedgerEntry) -> dict[str, Any]:
    """A referral's delivery as agencies see it.

    Webhook: the worker's state. Topic only (the agency had no subscription when the
    referral was made): delivered once its event is on the agency's topic.
    """
    if row.channel == "topic":
        return _delivery(row, Status.DELIVERED if row.published else Status.PENDING, 0)
    return _delivery(row, row.status, row.attempts)


NO_RISK_LEVEL = frozenset({"school"})
"""Agencies whose records carry no `risk_level` (domain.md: a school never learns it)."""


def overdue(row: LedgerEntry, now: datetime) -> bool:
    """Whether the referral was not acknowledged by its `due_by` (as of `now`)."""
    if row.overdue_since is not None:
        return True
    if row.due_by is None:
        return False
    acknowledged = utc(row.acknowledged_at) if row.acknowledged_at else None
    return is_overdue(utc(row.due_by), acknowledged, now)


def _record(row: LedgerEntry, delivery: dict[str, Any], now: datetime | None) -> dict[str, Any]:
    """`now` None: the record as it was made (not acknowledged, not overdue)."""
    record = ReferralCreated(
        referral_id=row.referral_id,
        agency=row.agency,
        incident_id=row.incident_id,
        reason=row.reason,
        risk_level=None if row.agency in NO_RISK_LEVEL else row.risk_level,
        created_at=utc(row.created_at),
        data=row.data,
        delivery=delivery,
        acknowledged_at=utc(row.acknowledged_at) if now and row.acknowledged_at else None,
        subject=row.subject,
        review_due_at=utc(row.review_due_at) if row.review_due_at else None,
        due_by=utc(row.due_by) if row.due_by else None,
        overdue=overdue(row, now) if now else False,
    )
    rendered = record.model_dump(mode="json")
    if row.agency in NO_RISK_LEVEL:
        del rendered["risk_level"]  # absent, not null
    return rendered


def current_record(row: LedgerEntry, now: datetime) -> dict[str, Any]:
    """The record as it stands at `now` (GET /v1/referrals)."""
    return _record(row, delivery_of(row), now)


def created_record(row: LedgerEntry) -> dict[str, Any]:
    """The record as it was made: what its topic event and every webhook POST carry, the
    same bytes each time, so a receiver's dedupe and the signature see one body."""
    return _record(row, _delivery(row, Status.PENDING, 0), None)


def body_of(record: dict[str, Any]) -> bytes:
    """The raw JSON body of a record (compact, as on Kafka)."""
    return json.dumps(record, separators=(",", ":")).encode()
