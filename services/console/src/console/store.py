"""The console's tables: sessions (and their people's own access tokens), used sign-in
links, and the read model of counts the dashboard is computed from (ids and facts only:
no name, date of birth or address)."""

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
    Text,
)

from shared.tables import message_tables

metadata = MetaData()
messages = message_tables(metadata)

sessions = Table(
    "sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True),
    Column("subject", String(200), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("method", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)

own_tokens = Table(
    "own_tokens",
    metadata,
    Column("session_hash", String(64), primary_key=True),
    Column("sealed", Text, nullable=False),
    Column("audience", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)
"""A session's person's own access token, sealed with a key only the session's cookie
gives (console.own_tokens): a copy of the database forwards nothing."""

used_links = Table(
    "used_sign_in_links",
    metadata,
    Column("link_id", String(64), primary_key=True),
    Column("used_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

oidc_requests = Table(
    "oidc_requests",
    metadata,
    Column("state", String(64), primary_key=True),
    Column("code_verifier", String(128), nullable=False),
    Column("nonce", String(64), nullable=False),
    Column("next_path", String(500), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

incidents = Table(
    "incident_facts",
    metadata,
    Column("incident_id", String(36), primary_key=True),
    Column("area", String(64), nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),
    Column("first_decided_at", DateTime(timezone=True), nullable=False),
    Column("last_decided_at", DateTime(timezone=True), nullable=False),
    Column("dash_at_first_report", Boolean, nullable=False),
    Column("dash_later", Boolean, nullable=False),
    Column("assessed", Boolean, nullable=False),
    Column("risk_level", String(16), nullable=False),
    Column("regrade", String(8), nullable=True),
    Column("flags", JSON, nullable=False),
    Column("children_count", Integer, nullable=False),
    Column("referrals", JSON, nullable=False),
    Index("ix_incident_facts_area_reported", "area", "reported_at"),
)

marac_cases = Table(
    "marac_cases",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("meeting_id", String(36), nullable=False),
    Column("area", String(64), nullable=False),
    Column("meeting_date", Date, nullable=False),
    Column("repeat", Boolean, nullable=False),
    Column("listed_at", DateTime(timezone=True), nullable=False),
    Index("ix_marac_cases_area_listed", "area", "listed_at"),
)

referral_outcomes = Table(
    "referral_outcomes",
    metadata,
    Column("referral_id", String(36), primary_key=True),
    Column("agency", String(64), nullable=False),
    Column("incident_id", String(36), nullable=False, index=True),
    Column("due_by", DateTime(timezone=True), nullable=True),
    Column("acknowledged_at", DateTime(timezone=True), nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("dead_at", DateTime(timezone=True), nullable=True),
    Column("counted_at", DateTime(timezone=True), nullable=True, index=True),
)

# marac's meeting: partner referrals, discussed cases with the research before them, actions

marac_referrals = Table(
    "marac_referrals",
    metadata,
    Column("marac_referral_id", String(36), primary_key=True),
    Column("case_id", String(36), nullable=False),
    Column("area", String(64), nullable=False),
    Column("agency", String(64), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("ix_marac_referrals_area_received", "area", "received_at"),
)

marac_closures = Table(
    "marac_closures",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("meeting_id", String(36), nullable=False),
    Column("area", String(64), nullable=False),
    Column("meeting_date", Date, nullable=False),
    Column("research_before_meeting", JSON, nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=False),
    Index("ix_marac_closures_area_date", "area", "meeting_date"),
)

marac_actions = Table(
    "marac_actions",
    metadata,
    Column("action_id", String(36), primary_key=True),
    Column("case_id", String(36), nullable=False),
    Column("area", String(64), nullable=False),
    Column("agency", String(64), nullable=False),
    Column("due_by", Date, nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Index("ix_marac_actions_area_due", "area", "due_by"),
)
