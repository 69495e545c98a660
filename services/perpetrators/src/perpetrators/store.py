"""Perpetrators' tables. Of a victim, only the keyed hashes needed to count different
victims are kept: never a name, a date of birth, an address or a contact."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

from shared.tables import BigId, message_tables

metadata = MetaData()
messages = message_tables(metadata)

perpetrators = Table(
    "perpetrators",
    metadata,
    Column("perpetrator_id", String(64), primary_key=True),
    Column("area", String(64), nullable=False),
    Column("given_name", String(100), nullable=False),
    Column("family_name", String(100), nullable=False),
    Column("date_of_birth", Date, nullable=True),
    Column("score", Integer, nullable=False),
    Column("recency", Integer, nullable=False),
    Column("frequency", Integer, nullable=False),
    Column("gravity", Integer, nullable=False),
    Column("victims", Integer, nullable=False),
    Column("priority", Boolean, nullable=False),
    Column("incidents_24m", Integer, nullable=False),
    Column("victims_count", Integer, nullable=False),
    Column("children_involved", Boolean, nullable=False),
    Column("last_incident_at", DateTime(timezone=True), nullable=True),
    Column("last_incident_id", String(36), nullable=True),
    Column("scored_at", DateTime(timezone=True), nullable=False),
    Column("policy_version", String(64), nullable=False),
    Column("policy_owner", String(200), nullable=False),
    Index("ix_perpetrators_area_score", "area", "priority", "score"),
)

identities = Table(
    "perpetrator_identities",
    metadata,
    Column("identity", String(64), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("perpetrator_id", String(64), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

incidents = Table(
    "perpetrator_incidents",
    metadata,
    Column("incident_id", String(36), primary_key=True),
    Column("perpetrator_id", String(64), nullable=False, index=True),
    Column("area", String(64), nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("risk_level", String(16), nullable=False),
    Column("child_present", Boolean, nullable=False),
    Column("abuse_types", JSON, nullable=False),
    Column("victim_pid", String(64), nullable=True),
    Column("victim_ndob", String(64), nullable=True),
    Column("suspect_given_name", String(100), nullable=False),
    Column("suspect_family_name", String(100), nullable=False),
    Column("suspect_date_of_birth", Date, nullable=True),
)

score_history = Table(
    "score_history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("perpetrator_id", String(64), nullable=False, index=True),
    Column("scored_at", DateTime(timezone=True), nullable=False),
    Column("score", Integer, nullable=False),
)
