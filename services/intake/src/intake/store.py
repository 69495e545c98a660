"""Intake's tables: incidents (no personal data beyond what the outbox carries) and DASHes."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

from shared.tables import message_tables

metadata = MetaData()
messages = message_tables(metadata)

incidents = Table(
    "incidents",
    metadata,
    Column("incident_id", String(36), primary_key=True),
    Column("force", String(64), nullable=False),
    Column("control_room_ref", String(64), nullable=False),
    Column("area", String(64), nullable=False),
    Column("victim_key", String(64), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("trace_id", String(32), nullable=True),  # the W3C trace the incident began in
    # its people's pseudonymous keys (shared.audit.keys_of): what its log entries name
    Column("subjects", JSON, nullable=True),
    UniqueConstraint("force", "control_room_ref", name="uq_incident_force_ref"),
)

risk_assessments = Table(
    "risk_assessments",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column(
        "incident_id", String(36), ForeignKey("incidents.incident_id"), nullable=False, index=True
    ),
    Column("fingerprint", String(64), nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("incident_id", "fingerprint", name="uq_risk_assessment_incident_body"),
)
