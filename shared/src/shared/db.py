"""Async SQLAlchemy: engines, sessions, the unit of work, and migrations at start-up.

Each service owns its database: a SQLite file under `.data/` by default, PostgreSQL
when `<SERVICE>_DATABASE_URL` says so. Both are durable: a commit is on disk before
anything that follows it (a 202, a Kafka offset commit). SQLite runs in WAL mode with
`synchronous=FULL`, PostgreSQL with its defaults (`fsync` and `synchronous_commit` on).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import sqlite3
import time
import weakref
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Sequence,
)
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
from alembic import command
from alembic.config import Config
from opentelemetry.instrumentation.utils import suppress_instrumentation
from sqlalchemy import Engine, Table, event, make_url, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SessionFactory = async_sessionmaker[AsyncSession]
# SQLite has one writer at a time. Queueing writers here, in order, spares them the busy
# handler's sleeps (a process owns its service's SQLite file; PostgreSQL needs no queue).
_SQLITE_WRITERS: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()
WRITER = "mash_writer"
"""Execution option marking a connection that will write (SQLite: BEGIN IMMEDIATE)."""


class _RunNow:
    """In place of aiosqlite's queue to its worker thread: runs each queued call at once."""

    @staticmethod
    def put_nowait(item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # noqa: BLE001 - handed to whoever awaits the call
            if future is not None:
                future.set_exception(exc)
            return
        if future is not None:
            future.set_result(result)


# the threads that wait for SQLite's fsyncs (one writer per engine at a time: two suffice)
_COMMITS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sqlite-commit")


class _InlineSQLite(aiosqlite.Connection):
    """aiosqlite's connection with each statement run on the event loop's own thread, and
    each commit that wrote on a thread of its own.

    aiosqlite hands every call to a worker thread and back: a queue, a thread switch, the
    GIL and a wake-up of the loop per statement, which profiling under a burst showed to
    be the largest single cost in the consumers (about a third of triage's Python time).
    A statement on a local SQLite file in WAL mode takes microseconds, so running it in
    place costs the loop less than the hop. A statement must never wait for a lock:
    writers are queued by `unit_of_work` before they begin, and a reader never waits in
    WAL. The loop gets a turn after every 5 ms of statements in a row. aiosqlite's
    worker thread is never started.

    A commit that wrote is different: it fsyncs the WAL (`synchronous=FULL`), about 0.3 ms
    on a quiet disk but 4 ms (p99 30 ms and more) on a busy shared one, during which the
    loop could serve nothing. It runs on a commit thread (sqlite3 lets go of the GIL while
    SQLite works) while the loop goes on with other requests and batches; its caller still
    resumes only once it has returned, so whatever follows a commit (a 202, an offset
    commit) still follows it on disk. The connection is never used by two threads at
    once: its one user awaits the commit, even when cancelled meanwhile. A commit with
    nothing written (a reader's) stays inline: it has nothing to sync.
    """

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connect, iter_chunk_size=64)
        self._tx = _RunNow()  # type: ignore[assignment]
        self._ran_since = time.monotonic()
        self._changes = 0  # the connection's total_changes at its last commit

    async def commit(self) -> None:
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        connection = self._connection
        if connection.total_changes == self._changes:
            connection.commit()  # nothing written since the last commit: no fsync to wait for
            return
        done = asyncio.get_running_loop().run_in_executor(_COMMITS, connection.commit)
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            # let the commit finish before anyone else (a rollback, a close) uses the
            # connection; its outcome is the cancelled caller's no longer
            await asyncio.wait([done])
            raise
        finally:
            self._changes = connection.total_changes

    def __await__(self) -> Generator[Any, None, aiosqlite.Connection]:
        return self._connect().__await__()

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        result = fn(*args, **kwargs)
        # a batch of hundreds of events is one transaction: let the loop answer probes,
        # metrics and requests in between, as the hop to the thread did at every statement
        now = time.monotonic()
        if now - self._ran_since > _YIELD_AFTER:
            await asyncio.sleep(0)
            self._ran_since = time.monotonic()
        return result


_SQLITE_DIALECT = sqlite.dialect()
SYNCHRONOUS = "MASH_SQLITE_SYNCHRONOUS"
"""The environment variable that may weaken SQLite's commits, for `make bench` only."""
_SYNCHRONOUS_MODES = ("FULL", "EXTRA", "NORMAL")
log = logging.getLogger(__name__)


def sqlite_synchronous() -> str:
    """SQLite's `PRAGMA synchronous` for every engine: `FULL` unless `MASH_SQLITE_SYNCHRONOUS`
    says `EXTRA` or `NORMAL`; anything else (`OFF` above all) is refused.

    WARNING: `NORMAL` exists only so that `make bench` can show what `FULL` costs. In WAL
    mode it does not fsync at commit: a process crash loses nothing, but a power cut or a
    kernel panic can lose the last commits, among them reports already answered 202 and
    events whose Kafka offsets are already committed (the consumer never sees them
    again). Never set it for a hub that holds real reports.
    """
    mode = os.environ.get(SYNCHRONOUS, "").strip().upper() or "FULL"
    if mode not in _SYNCHRONOUS_MODES:
        raise ValueError(f"{SYNCHRONOUS} must be one of {', '.join(_SYNCHRONOUS_MODES)}")
    return mode


_YIELD_AFTER = 0.005  # seconds of statements in a row before the loop gets a turn


def keep_private(url: str) -> None:
    """A SQLite database file (and its WAL and shared-memory files) readable by the owner only.

    SQLite gives its journal files the database file's mode, so creating the file 0600
    before SQLite does covers all three.
    """
    if not url.startswith("sqlite"):
        return
    name = url.partition(":///")[2].partition("?")[0]
    if not name or name == ":memory:":
        return
    path = Path(name)
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    path.touch(mode=0o600, exist_ok=True)
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            file.chmod(0o600)


def create_engine(url: str) -> AsyncEngine:
    """An engine tuned for its backend (SQLite: WAL, every commit fsynced, a busy timeout,
    one writer at a time)."""
    if url.startswith("sqlite"):
        synchronous = sqlite_synchronous()
        if synchronous == "NORMAL":
            log.warning("SQLite synchronous=NORMAL: a power cut can lose answered commits")
        keep_private(url)
        args, params = _SQLITE_DIALECT.create_connect_args(make_url(url))
        # the connection is used by one thread at a time, but commits on another (above)
        options = {**params, "timeout": 30, "check_same_thread": False}
        connect = functools.partial(sqlite3.connect, *args, **options)
        engine = create_async_engine(url, async_creator=lambda: _InlineSQLite(connect))

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # let SQLAlchemy own the transaction boundaries (see `_begin`)
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL with FULL: each commit's WAL frames are fsynced before it returns
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            # A writer takes the write lock at the start, so two writers queue (busy
            # timeout) instead of failing on a lock upgrade; a reader never waits in WAL.
            writer = conn.get_execution_options().get(WRITER, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

        _SQLITE_WRITERS[engine.sync_engine] = asyncio.Lock()
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def unit_of_work(sessions: SessionFactory) -> AsyncIterator[AsyncSession]:
    """One writing transaction: committed when the block ends, rolled back if it raises.

    Writes staged with `at_commit` run when the block ends, in the transaction, before
    the commit (and not at all if the block raised)."""
    bind = sessions.kw.get("bind")
    queue = _SQLITE_WRITERS.get(bind.sync_engine) if isinstance(bind, AsyncEngine) else None
    async with queue or contextlib.nullcontext(), sessions() as session, session.begin():
        await session.connection(execution_options={WRITER: True})
        staged: dict[str, StagedWrite] = {}
        session.info[_STAGED] = staged
        yield session
        while staged:  # a write may stage another
            await staged.pop(next(iter(staged)))(session)


StagedWrite = Callable[[AsyncSession], Awaitable[None]]
_STAGED = "shared.db.staged"


def at_commit(session: AsyncSession, key: str, write: StagedWrite) -> None:
    """Run `write(session)` once, at the end of this unit of work, before it commits.

    Why: a consumer's handlers run once per event, but a fetched batch of events shares
    one transaction (`shared.kafka.consumer`); a handler can stage what it would insert
    (in `session.info`) and write the whole batch's rows here, a statement per table
    instead of a statement per event. The first `write` staged under a `key` is the one
    that runs; writes run in the order first staged. A failure fails the transaction, as
    a failing handler does (the batch then goes one event per transaction)."""
    staged: dict[str, StagedWrite] | None = session.info.get(_STAGED)
    if staged is None:
        raise RuntimeError("at_commit needs a session of unit_of_work: nothing would write")
    staged.setdefault(key, write)


async def ping(engine: AsyncEngine) -> bool:
    """True when the database answers."""
    try:
        with suppress_instrumentation():
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - readiness reports any failure as not ready
        return False
    return True


def lock_key(name: str) -> int:
    """The PostgreSQL advisory lock key of a name: a stable signed 64-bit number."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


_HOLD = text("SELECT pg_advisory_xact_lock(:key)")


async def hold(session: AsyncSession, names: Iterable[str]) -> None:
    """Hold these names until the session's transaction ends: two writers about the same
    thing (one person reported on two partitions, read by two replicas) take turns, and
    the second reads what the first committed.

    PostgreSQL: transaction advisory locks, taken in one global order (sorted keys), so
    two holders never wait on each other in a circle. SQLite: nothing to take, as
    `unit_of_work` already lets one writer at a time in.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    # A key held already in this transaction (a batch's step held its people) stays held
    # until it ends: taking it again would only cost a statement. Remembered per root
    # transaction, and not when taken in a savepoint (rolling it back lets go of it).
    transaction = session.get_transaction()
    remembered = session.info.get(_HELD)
    if remembered is None or remembered[0] is not transaction:
        remembered = session.info[_HELD] = (transaction, set())
    held: set[int] = remembered[1]
    nested = session.in_nested_transaction()
    for key in sorted({lock_key(name) for name in names} - held):
        await session.execute(_HOLD, {"key": key})
        if not nested:
            held.add(key)


_HELD = "shared.db.held"


T = TypeVar("T")


def chunks(items: Sequence[T], size: int = 500) -> Iterator[Sequence[T]]:
    """`items` at most `size` at a time: what one statement binds of a long IN list or a
    multi-row insert (a batch's people, ids, rows)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def insert(session: AsyncSession, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT for the session's backend, with its `on_conflict_*` clauses."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def utc(moment: datetime) -> datetime:
    """An instant in UTC (SQLite hands back times without their offset; we store UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def migrate(url: str, migrations_dir: Path) -> None:
    """Bring the database to the newest revision (Alembic, this service's own scripts)."""
    keep_private(url)
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.attributes["database_url"] = url
    command.upgrade(config, "head")
