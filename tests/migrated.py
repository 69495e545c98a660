"""Migrate once per service and backend, copy afterwards: the suite's fresh databases.

Most integration tests start a service on a fresh, empty database, and every start ran the
service's Alembic migrations: loading the scripts, building the schema step by step. That
was the largest share of a test's set-up (measured in docs/testing.md). Here the first
start of a service on a backend migrates a template for real; every later start on a
fresh database of that backend gets a copy of the template (SQLite: the file, through
SQLite's backup API; PostgreSQL: `CREATE DATABASE ... TEMPLATE`), which is what the same
migrations would have made.

Only fresh databases are copied into. A database that already holds something (a service
restarted on its own data, an older schema being upgraded) and a PostgreSQL database
migrated by another role than the superuser (records' owner and login roles) are migrated
for real, as before. Services started as processes (e2e, replicas) always migrate for
real, and the migrations themselves have their tests (tests/unit/test_migrations.py).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.engine import URL

from shared.db import keep_private

Migrate = Callable[[str, Path], None]


class TemplateMigrations:
    """A stand-in for `shared.db.migrate` that copies a template migrated once."""

    def __init__(self, migrate: Migrate, folder: Path) -> None:
        self._migrate = migrate
        self._folder = folder
        self._templates: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()  # migrations run in worker threads
        self.copied = 0

    def __call__(self, url: str, migrations_dir: Path) -> None:
        parsed = make_url(url)
        backend = parsed.get_backend_name()
        with self._lock:
            if backend == "sqlite" and parsed.database and _empty_file(Path(parsed.database)):
                template = self._template(backend, url, migrations_dir)
                _copy_sqlite(Path(template), Path(parsed.database))
                self.copied += 1
                return
            superuser = parsed.username == "postgres"
            if backend == "postgresql" and superuser and parsed.database:
                template = self._template_pg(url, migrations_dir)
                if asyncio.run(_copy_postgres_if_empty(url, template)):
                    self.copied += 1
                    return
        self._migrate(url, migrations_dir)

    def _template(self, backend: str, url: str, migrations_dir: Path) -> str:
        key = (backend, str(migrations_dir))
        if key not in self._templates:
            path = self._folder / f"template-{uuid.uuid4().hex[:8]}.db"
            self._migrate(f"sqlite+aiosqlite:///{path}", migrations_dir)
            self._templates[key] = str(path)
        return self._templates[key]

    def _template_pg(self, url: str, migrations_dir: Path) -> str:
        parsed = make_url(url)
        key = (f"postgresql://{parsed.host}:{parsed.port}", str(migrations_dir))
        if key not in self._templates:
            name = f"template_{uuid.uuid4().hex[:12]}"
            asyncio.run(_execute(parsed.set(database="postgres"), f'CREATE DATABASE "{name}"'))
            self._migrate(
                parsed.set(database=name).render_as_string(hide_password=False),
                migrations_dir,
            )
            self._templates[key] = name
        return self._templates[key]


def _empty_file(path: Path) -> bool:
    return not path.exists() or path.stat().st_size == 0


def _copy_sqlite(template: Path, target: Path) -> None:
    """The template's pages into `target` (its WAL included), then `target` closed."""
    keep_private(f"sqlite:///{target}")  # owner-only, as the service would have made it
    source = sqlite3.connect(template)
    destination = sqlite3.connect(target)
    try:
        source.backup(destination)
    finally:
        destination.close()
        source.close()


async def _execute(server: URL, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_dsn(server))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _dsn(url: URL) -> str:
    """asyncpg's form of a SQLAlchemy URL."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _copy_postgres_if_empty(url: str, template: str) -> bool:
    """Replace the database of `url` by a copy of `template` if it has no table and no
    other session; False (nothing done) otherwise."""
    import asyncpg

    parsed = make_url(url)
    name = parsed.database
    conn = await asyncpg.connect(_dsn(parsed))
    try:
        tables = await conn.fetchval(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')"
            " AND n.nspname NOT LIKE 'pg_toast%'"
        )
        others = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    if tables or others:
        return False
    server = await asyncpg.connect(_dsn(parsed.set(database="postgres")))
    try:
        await server.execute(f'DROP DATABASE "{name}"')
        await server.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await server.close()
    return True
