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

from shared.tables import platform_tables

metadata = MetaData()
platform = platform_tables(metadata)

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
