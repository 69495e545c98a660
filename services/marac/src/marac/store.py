"""Marac's tables."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, MetaData, String, Table

from shared.tables import platform_tables

metadata = MetaData()
platform = platform_tables(metadata)

received = Table(
    "received_events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("type", String(100), nullable=False),
    Column("subject", String(64), nullable=False, index=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
