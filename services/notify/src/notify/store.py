"""Notify's tables: the referral ledger, its deliveries and every attempt, subscriptions.

Every timestamp is written in UTC (SQLite keeps no offset): see `shared.db.utc`.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from shared.tables import BigId, message_tables

metadata = MetaData()
messages = message_tables(metadata)

referrals = Table(
    "referrals",
    metadata,
    Column("referral_id", String(36), primary_key=True),
    Column("incident_id", String(36), nullable=False),
    Column("agency", String(32), nullable=False),
    Column("subject", String(16), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("risk_level", String(16), nullable=False),
    Column("decision_id", String(36), nullable=False),
    Column("victim_key", String(64), nullable=False),
    Column("data", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("review_due_at", DateTime(timezone=True), nullable=True),
    Column("acknowledged_at", DateTime(timezone=True), nullable=True),
    Column("due_by", DateTime(timezone=True), nullable=True),  # null only before clocks
    Column("clock_policy", String(32), nullable=True),
    Column("overdue_since", DateTime(timezone=True), nullable=True),  # set once: escalated
    # the pseudonymous keys of the person it is about (shared.audit): what its log entries name
    Column("subject_keys", JSON, nullable=True),
    UniqueConstraint("incident_id", "agency", "subject", name="uq_referral_once"),
    Index("ix_referrals_agency_created", "agency", "created_at"),
    Index("ix_referrals_clock", "overdue_since", "acknowledged_at", "due_by"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("referral_id", String(36), ForeignKey("referrals.referral_id"), primary_key=True),
    Column("agency", String(32), nullable=False),
    Column("channel", String(16), nullable=False),  # webhook | topic
    # notify.domain.delivery.Status: pending | failed | delivered | dead | cancelled
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("deliver_after", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=True),
    Column("version", Integer, nullable=False, default=0),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("last_error", String(200), nullable=True),
    Column("trace", JSON, nullable=False),
    # the subscription it was created (or last queued) under, pinned: a later PUT does not
    # redirect it; the secret stays sealed (notify.sealing)
    Column("webhook_url", String(2048), nullable=True),
    Column("secret", Text, nullable=True),
    Column("round_start", Integer, nullable=False, default=0, server_default="0"),
    Index("ix_deliveries_due", "agency", "status", "due_at"),
)

attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "referral_id", String(36), ForeignKey("referrals.referral_id"), nullable=False, index=True
    ),
    Column("attempt", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),  # null while in flight
    # notify.domain.delivery.Verdict: in_flight | delivered | retry | dead | unknown
    Column("verdict", String(16), nullable=False),
    Column("http_status", Integer, nullable=True),
    Column("error", String(200), nullable=True),
    UniqueConstraint("referral_id", "attempt", name="uq_attempt_number"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("agency", String(32), primary_key=True),
    Column("webhook_url", String(2048), nullable=False),
    Column("secret", Text, nullable=False),  # sealed (notify.sealing)
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
