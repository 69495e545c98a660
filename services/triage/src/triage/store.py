"""Triage's tables (tables only: the queries are `repository`). The people tables
(`incident_people`, `marac_listings`) hold keyed hashes (pseudonyms) and times, never
names; the incident as accepted is kept once, to decide again and to answer with."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
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
    Index("ix_incident_history_reported", "reported_at", "seq"),  # triage's order
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

# The policy in force: the newest row, else the settings' `TRIAGE_POLICY` (the initial one).
# An applied policy's re-decision of the incidents since `redecide_since` is a background
# job, checkpointed on the row (`redecided_at`/`redecided_seq`: the last incident done).
policies = Table(
    "policies",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("version", String(64), nullable=False, unique=True),
    Column("policy", JSON, nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
    Column("applied_by", String(256), nullable=False),
    Column("trial_id", String(36), nullable=True),
    Column("redecide_since", DateTime(timezone=True), nullable=False),
    Column("redecide_status", String(16), nullable=False),
    Column("redecided_at", DateTime(timezone=True), nullable=True),
    Column("redecided_seq", BigInteger, nullable=True),
)

# A trial and its progress, checkpointed with each batch: `cursor_at`/`cursor_seq` name the
# last incident decided (triage's order), `summary` the counts so far.
policy_trials = Table(
    "policy_trials",
    metadata,
    Column("trial_id", String(36), primary_key=True),
    Column("policy", JSON, nullable=False),
    Column("version", String(64), nullable=False),
    Column("date_from", Date, nullable=False),
    Column("date_to", Date, nullable=False),
    Column("area", String(64), nullable=True),
    Column("status", String(16), nullable=False, index=True),
    Column("done", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("summary", JSON, nullable=False),
    Column("cursor_at", DateTime(timezone=True), nullable=True),
    Column("cursor_seq", BigInteger, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(256), nullable=False),
)

# Each decision a trial changes, by ids only (no person): what `changes.csv` streams.
policy_trial_changes = Table(
    "policy_trial_changes",
    metadata,
    Column("trial_id", String(36), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("incident_id", String(36), nullable=False),
    Column("area", String(64), nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),
    Column("before", JSON, nullable=False),
    Column("after", JSON, nullable=False),
)
