"""The platform tables every service's database carries: the outbox and the inbox."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit sequence
BigId = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True)
class MessageTables:
    outbox: Table
    inbox: Table


def message_tables(metadata: MetaData) -> MessageTables:
    """Add the outbox and inbox tables to a service's metadata."""
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("event_id", String(64), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", String(128), nullable=True),
        Column("headers", JSON, nullable=False),
        Column("payload", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Index("ix_outbox_unpublished", "published_at", "id"),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("event_id", String(64), primary_key=True),
        Column("topic", String(200), nullable=False),
        Column("type", String(100), nullable=False),
        Column("subject", String(64), nullable=False, index=True),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )
    return MessageTables(outbox=outbox, inbox=inbox)
