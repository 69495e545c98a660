"""Records' tables: insert-only (on PostgreSQL the service's role may insert and read
them, never update; see the migration). An entry's people and record ids are also kept
one a row, so that a person's or an incident's entries are found by an index."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

from shared.tables import BigId, platform_tables

metadata = MetaData()
platform = platform_tables(metadata)

entries = Table(
    "record_entries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("entry_id", String(36), nullable=False, unique=True),
    Column("service", String(32), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("operation", String(16), nullable=False),
    Column("sub", String(256), nullable=False),
    Column("via", String(16), nullable=False),
    Column("route", String(256), nullable=False),
    Column("resource", String(32), nullable=False),
    Column("ids", JSON, nullable=False),
    Column("subjects", JSON, nullable=False),
    Column("recipient", String(64), nullable=True),
    Column("status", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("stored_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("service", "seq", name="uq_record_entries_chain"),
    Index("ix_record_entries_at", "at", "id"),
    Index("ix_record_entries_sub", "sub"),
)

entry_subjects = Table(
    "record_subjects",
    metadata,
    Column("subject", String(128), primary_key=True),
    Column("entry_id", String(36), primary_key=True, index=True),
)

entry_ids = Table(
    "record_ids",
    metadata,
    Column("record_id", String(128), primary_key=True),
    Column("entry_id", String(36), primary_key=True, index=True),
)

checkpoints = Table(
    "chain_checkpoints",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("service", String(32), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("erased", Integer, nullable=False),
    Column("erased_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("service", "seq", name="uq_chain_checkpoints_chain"),
)
"""Where each chain resumes after a retention erasure: the position and hash of the
last erased entry of the service, and how many entries that erasure removed."""

RECORD_TABLES = (entries, entry_subjects, entry_ids, checkpoints)
