"""The referral record of contract section 5, as agencies read it from the ledger."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
    status: str
    attempts: int
    deliver_after: datetime
    delivered_at: datetime | None
    trace: dict[str, str]
    published: bool
    """Whether the referral's event is on the agency's topic (the relay purges published
    outbox rows after a while: a missing row was published)."""


def _delivery(row: LedgerEntry, status: str, attempts: int) -> dict[str, Any]:
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
        return _delivery(row, "delivered" if row.published else "pending", 0)
    return _delivery(row, row.status, row.attempts)


def _record(row: LedgerEntry, delivery: dict[str, Any], acknowledged: bool) -> dict[str, Any]:
    record = ReferralCreated(
        referral_id=row.referral_id,
        agency=row.agency,
        incident_id=row.incident_id,
        reason=row.reason,
        risk_level=row.risk_level,
        created_at=utc(row.created_at),
        data=row.data,
        delivery=delivery,
        acknowledged_at=utc(row.acknowledged_at) if acknowledged and row.acknowledged_at else None,
        subject=row.subject,
        review_due_at=utc(row.review_due_at) if row.review_due_at else None,
    )
    return record.model_dump(mode="json")


def current_record(row: LedgerEntry) -> dict[str, Any]:
    """The record as it stands now (GET /v1/referrals)."""
    return _record(row, delivery_of(row), acknowledged=True)


def created_record(row: LedgerEntry) -> dict[str, Any]:
    """The record as it was made: what its topic event and every webhook POST carry, the
    same bytes each time, so a receiver's dedupe and the signature see one body."""
    return _record(row, _delivery(row, "pending", 0), acknowledged=False)


def body_of(record: dict[str, Any]) -> bytes:
    """The raw JSON body of a record (compact, as on Kafka)."""
    return json.dumps(record, separators=(",", ":")).encode()
