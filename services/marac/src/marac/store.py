"""Marac's tables: meetings, cases and the victims' identities (as keyed hashes only).

The database itself enforces the list rules that concurrent writers could break: a
meeting's `listed` never exceeds its `capacity`, a victim is never twice on one
meeting, and never waits twice.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    text,
)

from shared.tables import message_tables

metadata = MetaData()
messages = message_tables(metadata)

meetings = Table(
    "meetings",
    metadata,
    Column("meeting_id", String(36), primary_key=True),
    Column("area", String(64), nullable=False),
    Column("date", Date, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("listed", Integer, nullable=False, server_default="0"),
    Column("source", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("outcome_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("area", "date", name="uq_meeting_area_date"),
    CheckConstraint("capacity >= 1 AND capacity <= 200", name="ck_meeting_capacity"),
    CheckConstraint("listed >= 0 AND listed <= capacity", name="ck_meeting_listed"),
)

cases = Table(
    "cases",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("victim_ref", String(64), nullable=False, index=True),
    Column("victim_key", String(128), nullable=False),
    Column("area", String(64), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("meeting_id", String(36), ForeignKey("meetings.meeting_id"), nullable=True),
    Column("earliest_date", Date, nullable=False),
    Column("awaiting_since", DateTime(timezone=True), nullable=False),
    Column("listed_at", DateTime(timezone=True), nullable=True),
    Column("repeat", Boolean, nullable=False),
    Column("incidents", JSON, nullable=False),
    Column("referrals", JSON, nullable=False, server_default="[]"),
    Column("deferred", Boolean, nullable=False, server_default=text("false")),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("research_returned", JSON, nullable=False, server_default="[]"),
    # a closed case (discussed at its meeting) stays `listed` on it, with `closed_at` set
    UniqueConstraint("meeting_id", "victim_ref", name="uq_case_meeting_victim"),
    CheckConstraint(
        "(status = 'listed' AND meeting_id IS NOT NULL AND listed_at IS NOT NULL)"
        " OR (status = 'awaiting_meeting' AND meeting_id IS NULL)",
        name="ck_case_status",
    ),
    Index(
        "uq_case_awaiting_victim",
        "victim_ref",
        unique=True,
        sqlite_where=text("status = 'awaiting_meeting'"),
        postgresql_where=text("status = 'awaiting_meeting'"),
    ),
    Index("ix_case_meeting", "meeting_id"),
)

identities = Table(
    "victim_identities",
    metadata,
    Column("identity", String(64), primary_key=True),
    Column("victim_ref", String(64), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

marac_referrals = Table(
    "marac_referrals",
    metadata,
    Column("marac_referral_id", String(36), primary_key=True),
    Column("referring_agency", String(32), nullable=False),
    Column("referral_ref", String(64), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("form", JSON, nullable=False),
    Column("case_id", String(36), ForeignKey("cases.case_id"), nullable=False, index=True),
    Column("victim_ref", String(64), nullable=False, index=True),
    Column("area", String(64), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("received_by", String(256), nullable=False),
    UniqueConstraint("referring_agency", "referral_ref", name="uq_marac_referral_ref"),
)
"""Agencies' referral forms, whole (personal data stays here; the bus gets ids and facts).
`digest` is the form's hash: the same reference again is the same referral only when equal."""

research = Table(
    "research",
    metadata,
    Column("case_id", String(36), ForeignKey("cases.case_id"), primary_key=True),
    Column("agency", String(32), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("current", Boolean, nullable=False),
    Column("known", Boolean, nullable=False),
    Column("summary", String(8000), nullable=True),
    Column("risks", String(8000), nullable=True),
    Column("completed_by", String(200), nullable=False),
    Column("recorded_by", String(256), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
"""Each agency's research on a case: one current version, the earlier ones kept."""

actions = Table(
    "actions",
    metadata,
    Column("action_id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.case_id"), nullable=False, index=True),
    Column("area", String(64), nullable=False, index=True),
    Column("agency", String(32), nullable=False, index=True),
    Column("description", String(4000), nullable=False),
    Column("due_by", Date, nullable=False),
    Column("status", String(8), nullable=False),
    Column("agreed_at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(4000), nullable=True),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Column("escalated_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("status IN ('open', 'done')", name="ck_action_status"),
)
"""Actions agreed at a meeting, each owned by one agency; `escalated_at` once overdue."""

equality_given = Table(
    "equality_given",
    metadata,
    Column("incident_id", String(36), primary_key=True),
    Column("area", String(64), nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),
    Column("equality", JSON, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
"""The equality monitoring given on incidents' victims, one row per incident, from intake's
internal topic `mash.intake.equality.v1` (never from a decision: triage never has it).
Counted by the national dataset return only, looked up by incident id when it is made, so
whether it came before or after the incident's decision makes no difference."""
