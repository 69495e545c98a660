"""Session fixtures: the real Apache Kafka broker and a real PostgreSQL server.

Both are started for the session by the project's own scripts (deploy/kafka.sh,
deploy/postgres.sh) and stopped at the end. `MASH_TEST_KAFKA_BOOTSTRAP` and
`MASH_TEST_POSTGRES_URL` reuse servers that are already running (for quick local
iterations); CI sets neither. Nothing here skips: a server that cannot start fails.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import shared.service
from mash_tools import testing
from shared.db import migrate
from tests.migrated import TemplateMigrations


def pytest_configure(config: pytest.Config) -> None:
    # SIGTERM ends the run like Ctrl-C does, so every fixture's teardown stops its servers
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    # each client of the suite connects as the principal it has in production
    for name in ("MASH_KAFKA_USERNAME", "MASH_KAFKA_PASSWORD", "MASH_KAFKA_CA_FILE"):
        os.environ.pop(name, None)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mash")


@pytest.fixture(scope="session", autouse=True)
def migrate_once(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemplateMigrations]:
    """Services started in-process copy a template their migrations made once per backend
    into a fresh database, instead of migrating each one (tests/migrated.py)."""
    templates = TemplateMigrations(migrate, tmp_path_factory.mktemp("templates"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(shared.service, "migrate", templates)
        yield templates


@pytest.fixture(scope="session")
def kafka_bootstrap(workdir: Path) -> Iterator[str]:
    if reuse := os.environ.get("MASH_TEST_KAFKA_BOOTSTRAP"):
        # a broker started by deploy/kafka.sh: MASH_KAFKA_SECURITY_DIR names its credentials
        yield reuse
        return
    with testing.kafka_broker(workdir) as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    if reuse := os.environ.get("MASH_TEST_POSTGRES_URL"):
        yield reuse
        return
    with testing.postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'service.db'}"
    else:
        yield await testing.create_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / f'{uuid.uuid4().hex[:8]}.db'}"


@pytest.fixture
def group() -> str:
    """A consumer-group suffix unique to the test, so tests never share offsets."""
    return f"test-{uuid.uuid4().hex[:8]}"
