"""The referral record agencies read (`domain/records.py`): its delivery as it stands now,
and as it was made (what the topic event and every webhook POST carry)."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from notify.domain.delivery import Status
from notify.domain.records import LedgerEntry, body_of, created_record, current_record

MADE = datetime(2026, 11, 18, 21, 20, tzinfo=UTC)
NOW = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)
ENTRY = LedgerEntry(
    referral_id=str(uuid.uuid4()),
    incident_id=str(uuid.uuid4()),
    agency="idva",
    subject="victim",
    reason="high_risk",
    risk_level="high",
    decision_id=str(uuid.uuid4()),
    victim_key="k" * 64,
    data={"safe_to_contact": False},
    created_at=MADE,
    review_due_at=None,
    acknowledged_at=None,
    channel="webhook",
    status=Status.FAILED,
    attempts=2,
    deliver_after=MADE,
    delivered_at=None,
    trace={},
    published=True,
)


@pytest.mark.parametrize(("published", "status"), [(True, "delivered"), (False, "pending")])
def test_a_topic_only_referral_is_delivered_once_its_event_is_out(
    published: bool, status: str
) -> None:
    entry = replace(ENTRY, channel="topic", published=published)
    assert current_record(entry, NOW)["delivery"] == {
        "status": status,
        "attempts": 0,
        "channel": "topic",
    }


def test_a_webhook_referral_shows_the_workers_state_now_and_pending_as_made() -> None:
    assert current_record(ENTRY, NOW)["delivery"] == {
        "status": "failed",
        "attempts": 2,
        "channel": "webhook",
    }
    assert created_record(ENTRY)["delivery"] == {
        "status": "pending",
        "attempts": 0,
        "channel": "webhook",
    }


def test_the_record_as_made_never_carries_an_acknowledgement() -> None:
    acknowledged = replace(ENTRY, acknowledged_at=MADE)
    assert current_record(acknowledged, NOW)["acknowledged_at"] == "2026-11-18T21:20:00Z"
    assert created_record(acknowledged)["acknowledged_at"] is None


def test_a_school_referral_shows_when_it_is_held_until() -> None:
    school = replace(ENTRY, agency="school", subject="child:0", deliver_after=MADE)
    assert current_record(school, NOW)["delivery"]["deliver_after"] == "2026-11-18T21:20:00Z"


def test_the_body_is_compact_json_of_the_record() -> None:
    record = created_record(ENTRY)
    assert json.loads(body_of(record)) == record
    assert b": " not in body_of(record)


def test_a_school_record_has_no_risk_level_at_all() -> None:
    school = replace(ENTRY, agency="school", subject="child:0")
    for record in (current_record(school, NOW), created_record(school)):
        assert "risk_level" not in record  # absent, not null
    assert current_record(ENTRY, NOW)["risk_level"] == "high"


def test_the_record_shows_due_by_and_whether_it_is_overdue() -> None:
    due = replace(ENTRY, due_by=MADE + timedelta(hours=24))
    before, after = MADE + timedelta(hours=23), MADE + timedelta(hours=25)
    assert current_record(due, before)["due_by"] == "2026-11-19T21:20:00Z"
    assert current_record(due, before)["overdue"] is False
    assert current_record(due, after)["overdue"] is True
    in_time = replace(due, acknowledged_at=MADE + timedelta(hours=2))
    assert current_record(in_time, after)["overdue"] is False
    assert created_record(due)["overdue"] is False  # the record as made, on the topic
    escalated = replace(due, overdue_since=MADE + timedelta(hours=24))
    assert current_record(escalated, before)["overdue"] is True
