"""Triage's tables (tables only: the queries are `repository`). The people tables
(`incident_people`, `marac_listings`) hold keyed hashes (pseudonyms) and times, never
names; the incident as accepted is kept once, to decide again and to answer with."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from shared.tables import BigId, platform_tables

metadata = MetaData()
platform = platform_tables(metadata)

incidents = Table(
    "incidents",
    metadata,
    Column("incident_id", String(36), primary_key=True),
    Column("victim_key", String(64), nullable=False),
    Column("incident", JSON, nullable=False),
    Column("dash", JSON, nullable=True),
    Column("regrade", JSON, nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

incident_people = Table(
    "incident_history",  # the table's name in the database since migration 0001
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("incident_id", String(36), nullable=False, unique=True),
    Column("reported_at", DateTime(timezone=True), nullable=False),
    Column("victim_pid", String(64), nullable=True, index=True),
    Column("victim_ndob", String(64), nullable=True, index=True),
    Column("suspect_pid", String(64), nullable=True, index=True),
    Column("suspect_ndob", String(64), nullable=True, index=True),
)

marac_listings = Table(
    "marac_listings",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("case_id", String(36), nullable=False, index=True),
    Column("victim_pid", String(64), nullable=True, index=True),
    Column("victim_ndob", String(64), nullable=True, index=True),
    Column("listed_at", DateTime(timezone=True), nullable=False),
    Column("incident_ids", JSON, nullable=False),
)

regrades = Table(
    "regrades",
    metadata,
    Column("regrade_id", String(36), primary_key=True),
    Column("incident_id", String(36), nullable=False, index=True),
    Column("risk_level", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("by", String(200), nullable=False),
    Column("principal", String(200), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

decisions = Table(
    "decisions",
    metadata,
    Column("decision_id", String(36), primary_key=True),
    Column("incident_id", String(36), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("cause", String(64), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("decision", JSON, nullable=False),
    UniqueConstraint("incident_id", "version", name="uq_decision_version"),
)
