"""`mash backup DIR`: a consistent copy of every service's embedded SQLite store, taken
while the hub runs.

A file copy of a live SQLite database is not a backup: in WAL mode the newest commits
live in the `-wal` file until a checkpoint moves them, and a copy taken during one is
torn. SQLite's online backup API (`sqlite3.Connection.backup`) copies the pages that one
read transaction sees: a single consistent snapshot holding every commit that finished
before it began, while the services keep writing (in WAL mode a reader never blocks a
writer). Each copy is written under a temporary name, switched to a rollback journal
(one self-contained file), checked with `PRAGMA integrity_check`, fsynced and only then
given its name, owner-only (0600): it holds the same personal data as the store.

A service on PostgreSQL (`<SERVICE>_DATABASE_URL`) is not copied: its server's own tools
apply (`pg_dump`, or replication and base backups). See docs/operations.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import make_url

from shared.config import ServiceSettings
from shared.kafka_security import SERVICES

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Store:
    """One service's database, as its settings name it."""

    service: str
    url: str

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def path(self) -> Path:
        return Path(make_url(self.url).database or "")


@dataclass(frozen=True)
class Copy:
    """One store's copy, as the manifest lists it."""

    service: str
    file: str
    time: str
    """When its snapshot began (UTC): every commit that finished before is in the copy."""
    pages: int
    page_size: int


@dataclass
class Manifest:
    created: str
    copies: list[Copy] = field(default_factory=list)
    postgresql: list[str] = field(default_factory=list)
    """Services on PostgreSQL: not copied (pg_dump or replication)."""
    absent: list[str] = field(default_factory=list)
    """Services whose SQLite file does not exist yet (never started here)."""


class BackupError(RuntimeError):
    pass


def stores() -> list[Store]:
    """Every service's database (`shared.kafka_security.SERVICES`, so a new service is
    included once it has a principal), as the service itself would find it."""
    found = []
    for service in SERVICES:
        settings = ServiceSettings(_env_prefix=f"{service.upper()}_")
        found.append(Store(service, settings.database_url or settings.sqlite_default(service)))
    return found


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy(store: Store, directory: Path) -> Copy:
    """One store's snapshot into `directory/<service>.db`, checked and fsynced."""
    target = directory / f"{store.service}.db"
    partial = directory / f".{store.service}.db.partial"
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    # mode=rw: a missing store is an error, never a new empty database
    source = sqlite3.connect(f"{store.path.resolve().as_uri()}?mode=rw", uri=True, timeout=30)
    try:
        with contextlib.closing(sqlite3.connect(partial)) as copied:
            began = datetime.now(UTC)
            source.backup(copied)  # every page in one step: one read transaction, one snapshot
            copied.execute("PRAGMA journal_mode=DELETE")  # no -wal beside the copy
            check = copied.execute("PRAGMA integrity_check").fetchall()
            pages = int(copied.execute("PRAGMA page_count").fetchone()[0])
            page_size = int(copied.execute("PRAGMA page_size").fetchone()[0])
    finally:
        source.close()
    if check != [("ok",)]:
        partial.unlink(missing_ok=True)
        raise BackupError(f"{store.service}: the copy fails its integrity check")
    _fsync(partial)
    os.replace(partial, target)
    _fsync(directory)
    return Copy(store.service, target.name, began.isoformat(), pages, page_size)


def backup(directory: Path, found: Iterable[Store] | None = None) -> Manifest:
    """Copy every SQLite store into `directory` (made owner-only if new) and write the
    manifest last, so a directory with a manifest holds a finished backup."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    manifest = Manifest(created=datetime.now(UTC).isoformat())
    for store in stores() if found is None else found:
        if not store.is_sqlite:
            manifest.postgresql.append(store.service)
        elif not store.path.exists():
            manifest.absent.append(store.service)
        else:
            manifest.copies.append(copy(store, directory))
    partial = directory / f".{MANIFEST}.partial"
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(manifest), out, indent=2)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, directory / MANIFEST)
    _fsync(directory)
    return manifest


def run(args: argparse.Namespace) -> int:
    """`mash backup DIR`: what was copied, and what must be backed up otherwise."""
    directory: Path = args.directory
    try:
        manifest = backup(directory)
    except (BackupError, OSError, sqlite3.Error) as exc:
        print(f"mash backup: {exc}", file=sys.stderr, flush=True)
        return 1
    for c in manifest.copies:
        print(f"  {c.service:<13} {directory / c.file}  ({c.pages} pages, integrity ok)")
    for service in manifest.postgresql:
        print(
            f"  {service:<13} on PostgreSQL: not copied; back it up with pg_dump, or the "
            "server's replication and base backups"
        )
    for service in manifest.absent:
        print(f"  {service:<13} no SQLite store here yet: nothing to copy")
    print(f"manifest: {directory / MANIFEST}")
    return 0
