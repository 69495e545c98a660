"""Records' tables, and why nobody can quietly change them.

The log is insert-only. Each entry is kept once (`entry_id` unique; the inbox already
drops a redelivered event) as the next link of its service's hash chain
(`domain.chain`: `seq` its position, `prev_hash` and `hash` its link). Its people and
record ids are kept again one a row (`record_subjects`, `record_ids`), so a person's or
an incident's entries are found by an index; `verify` checks those rows against the
entry too.

On PostgreSQL (the migration):
- the tables belong to the owner that runs the migrations
  (`RECORDS_MIGRATIONS_DATABASE_URL`); the service logs in (`RECORDS_DATABASE_URL`) as a
  member of `records_writer`, which may SELECT and INSERT the log's tables and nothing
  more: no UPDATE, no DELETE, and only SELECT on `chain_checkpoints`;
- retention must delete, so it calls `records_erase(service, upto)`, a SECURITY DEFINER
  function of the owner: it deletes one chain's entries up to a position (a head, never
  a middle or a tail alone) and always writes the checkpoint the chain resumes from,
  with the hash read from the erased row itself, the count and the time. Whoever holds
  the service's credentials can at worst erase a chain's head early, and that shows in
  `chain_checkpoints`, which they can neither change nor delete;
- a change behind the service's back (as the owner or a superuser) shows in `verify`:
  a changed entry breaks its own link; a deleted one breaks the next; a deleted head
  does not match its checkpoint. What no chain can show is the loss of a chain's newest
  entries: the log topics (kept at least 30 days) are the other copy to compare with.

On SQLite one process owns the file: the same tables, no roles (the file is the
owner's, mode 0600), and retention runs the function's statements itself.
"""

from __future__ import annotations

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
    UniqueConstraint,
)

from shared.tables import BigId, message_tables

metadata = MetaData()
messages = message_tables(metadata)

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


partner_offsets = Table(
    "partner_offsets",
    metadata,
    Column("group_id", String(255), primary_key=True),
    Column("topic", String(249), primary_key=True),
    Column("partition", Integer, primary_key=True, autoincrement=False),
    Column("from_offset", BigInteger, primary_key=True, autoincrement=False),
    Column("to_offset", BigInteger, nullable=False),
    Column("logged_at", DateTime(timezone=True), nullable=False),
)
"""The ranges of each partner group's committed records already logged as consulted
(`partners.py`): insert-only; the primary key makes a range logged once."""


disclosures = Table(
    "referral_disclosures",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("referral_id", String(36), nullable=False, unique=True),
    Column("agency", String(64), nullable=False),
    Column("incident_id", String(36), nullable=False),
    Column("disclosed_at", DateTime(timezone=True), nullable=False),
    Column("record", Text, nullable=False),
    Column("stored_at", DateTime(timezone=True), nullable=False),
    Index("ix_referral_disclosures_agency", "agency", "disclosed_at", "id"),
    Index("ix_referral_disclosures_disclosed_at", "disclosed_at", "id"),
)
"""Each referral record exactly as notify disclosed it on its agency's topic (the value's
text, as received), so a review can be shown what an agency had by a given moment
(contract 12, "Chronology for a review"). Personal data: insert-only, kept
`RECORDS_RETENTION_DAYS` like the entries, and its erasure logged as `erased`."""

disclosure_subjects = Table(
    "disclosure_subjects",
    metadata,
    Column("subject", String(128), primary_key=True),
    Column("referral_id", String(36), primary_key=True, index=True),
)
"""The people a disclosed record is about, one key a row: the Kafka key and the keys of
the people it names (`shared.audit.person_keys`), so a person's records are found."""
