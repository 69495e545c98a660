"""Test support: the real broker and PostgreSQL started for a test session, services run
in-process against them, tokens, and a reader for what landed on a topic."""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine

from mash_tools import kafka_material, keys
from shared import kafka_security
from shared.auth import SERVICES, mint
from shared.config import ROOT, HubSettings
from shared.keys import SigningKey

TEST_PSEUDONYM_KEY = "test-pseudonym-key"

# The suite's issuers, as `make setup` makes the checkout's: a key pair for people's tokens
# and one for the console's, made once per process in a directory of its own (removed at
# exit); every app and service process the suite builds is given their JWKS paths.
TEST_KEYS_DIR = Path(tempfile.mkdtemp(prefix="mash-test-keys-"))
atexit.register(shutil.rmtree, TEST_KEYS_DIR, ignore_errors=True)
keys.ensure(TEST_KEYS_DIR)
TEST_KEYS = keys.people(TEST_KEYS_DIR)
TEST_CONSOLE_KEYS = keys.console(TEST_KEYS_DIR)
TEST_KEY = SigningKey.load(TEST_KEYS.private)
"""Signs the suite's tokens (issuer `mash`), as the identity provider would."""
TEST_CONSOLE_KEY = SigningKey.load(TEST_CONSOLE_KEYS.private)
TEST_SECRET = TEST_KEY
"""The former shared secret's name, kept so that `mint(TEST_SECRET, ...)` still signs."""


def key_environment() -> dict[str, str]:
    """The settings that make a process trust (and `mash token` sign with) the suite's keys."""
    return {
        "MASH_JWKS_FILE": str(TEST_KEYS.jwks),
        "MASH_CONSOLE_JWKS_FILE": str(TEST_CONSOLE_KEYS.jwks),
        "MASH_SIGNING_KEY_FILE": str(TEST_KEYS.private),
    }


# Ports handed out by this process: never twice, even once they are free again.
_HANDED_OUT: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    """The kernel's range for the local ports of outgoing connections."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_ports_in_a_row(count: int) -> int:
    """The first of `count` consecutive loopback ports, free now, for a server started later.

    Taken from below the ephemeral range: a port from `bind(0)` lies inside it, where any
    outgoing connection made before the server binds (a client retrying a broker that is
    still starting, say) can take it as its local port and make the server's bind fail.
    """
    low, high = _ephemeral_range()
    top, bottom = (low - count, 10000) if low - count > 10000 else (65535 - count, high + 1)
    bottom, end = _own_slice(bottom, top + count - 1)  # every port of the run in the slice
    top = end - count + 1
    rng = random.SystemRandom()
    while True:
        first = rng.randint(bottom, top)
        run = range(first, first + count)
        if _HANDED_OUT.intersection(run):
            continue
        with contextlib.ExitStack() as held:
            try:
                for port in run:
                    s = held.enter_context(socket.socket())
                    s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.update(run)
        return first


def _own_slice(bottom: int, top: int) -> tuple[int, int]:
    """The part of [bottom, top] this process may hand out: under pytest-xdist each worker
    has its own slice, so two workers never hand out the same port before either binds it
    (`_HANDED_OUT` is one process's memory)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not worker.startswith("gw") or not worker[2:].isdigit() or workers < 2:
        return bottom, top
    size = (top - bottom + 1) // workers
    first = bottom + int(worker[2:]) % workers * size
    return first, first + size - 1


def free_port() -> int:
    """A loopback port, free now, for a server started later (see `free_ports_in_a_row`)."""
    return free_ports_in_a_row(1)


SECURITY_ENV = ("MASH_KAFKA_SECURITY_DIR", "MASH_KAFKA_SECURITY_PROTOCOL")


def service_environment(name: str, bootstrap: str, database_url: str, group: str) -> dict[str, str]:
    """The environment of one service process started by the suite or the bench (uvicorn,
    as `mash run` starts it): the test keys, its own database and consumer group. It
    connects to the broker as its own principal (contract section 8)."""
    prefix = name.upper()
    return {
        **os.environ,
        "MASH_HOME": str(ROOT),
        "MASH_ENV": "test",
        "PYTHONUNBUFFERED": "1",
        "MASH_KAFKA_BOOTSTRAP": bootstrap,
        **key_environment(),
        "MASH_PSEUDONYM_KEY": TEST_PSEUDONYM_KEY,
        f"{prefix}_DATABASE_URL": database_url,
        f"{prefix}_CONSUMER_GROUP": group,
    }


def dash_led_cluster_id() -> str:
    """A valid Kafka cluster id (base64url of 16 random bytes) that begins with "-"."""
    raw = bytearray(uuid.uuid4().bytes)
    raw[0] = 0xF8 | (raw[0] & 0x03)  # top six bits 62: base64url's "-"
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


@contextmanager
def kafka_broker(workdir: Path) -> Iterator[str]:
    """Start the real broker with `deploy/kafka.sh up` on free ports, secured as `make run`
    secures it (SASL_SSL, SCRAM users, the ACLs of contract section 8); yield its bootstrap.

    Its key material and passwords live in `workdir/kafka-security`; while the broker runs,
    `MASH_KAFKA_SECURITY_DIR` points there, so every client of the project finds them.
    """
    port, controller = free_port(), free_port()
    data = workdir / "kafka"
    security = workdir / "kafka-security"
    kafka_material.ensure_material(security)
    saved = {name: os.environ.get(name) for name in SECURITY_ENV}
    os.environ["MASH_KAFKA_SECURITY_DIR"] = str(security)
    os.environ["MASH_KAFKA_SECURITY_PROTOCOL"] = "SASL_SSL"
    env = {
        **os.environ,
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(controller),
        "KAFKA_DATA_DIR": str(data),
        "KAFKA_PARTITIONS": "3",
        # On purpose an id beginning with "-", which a CI run drew once (1 in 64) and which
        # the format command took for an option: every suite run shows it is handled.
        "KAFKA_CLUSTER_ID": dash_led_cluster_id(),
    }
    log = (workdir / "kafka.out").open("wb")
    process = subprocess.Popen(
        ["bash", str(ROOT / "deploy" / "kafka.sh"), "up"],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not (data / "ready").exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"kafka did not start: see {workdir / 'kafka.out'}")
            time.sleep(0.3)
        yield f"127.0.0.1:{port}"
    finally:
        stop_group(process)
        log.close()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def stop_group(process: subprocess.Popen[Any], timeout: float = 60) -> None:
    """Stop a child that leads its own process group, and everything in that group."""

    def signal_group(sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)

    signal_group(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        signal_group(signal.SIGKILL)
        process.wait(10)
    # the script is gone; anything left in its group (the JVM) is killed outright
    signal_group(signal.SIGKILL)


def kafka_options(principal: str) -> dict[str, Any]:
    """Security keyword arguments for an aiokafka client of a test, as `principal`."""
    return kafka_security.client_options(principal)


@contextmanager
def postgres_server(throwaway: bool = True) -> Iterator[str]:
    """Start a real PostgreSQL (installed from Debian's packages when missing).

    `throwaway` (the test suite's server, deleted at the end) skips fsync; the bench asks
    for a durable one, so that it compares like with like (SQLite fsyncs each commit).
    The server asks every client for a password, loopback included: the URL yielded (the
    superuser's, without a database) carries it; it is never on a command line.
    """
    port = free_port()
    # the server runs as the `postgres` user, who must be able to reach its directory
    home = Path(tempfile.mkdtemp(prefix="mash-pg-"))
    home.chmod(0o755)
    data = home / "data"
    script = str(ROOT / "deploy" / "postgres.sh")
    kind = ["throwaway"] if throwaway else []
    subprocess.run(["bash", script, "start", str(data), str(port), *kind], check=True)
    # pg_ctl detaches the server: a watchdog stops it if this process dies without cleaning up
    watchdog = subprocess.Popen(
        ["bash", script, "watch", str(data), str(os.getpid())],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield f"postgresql+asyncpg://postgres:{postgres_password(data)}@127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(watchdog.pid, signal.SIGKILL)
        watchdog.wait()
        subprocess.run(["bash", script, "stop", str(data)], check=False)
        shutil.rmtree(home, ignore_errors=True)


def postgres_password(data: Path) -> str:
    """The superuser's password of the server `deploy/postgres.sh` keeps in `data`: made
    at its first start, in the owner-only file beside `data` (`<data>.password`)."""
    return Path(f"{data}.password").read_text().strip()


def as_login(url: str, login: str, password: str) -> str:
    """The same database URL, logging in as `login` with `password` (a service's own role)."""
    return (
        make_url(url).set(username=login, password=password).render_as_string(hide_password=False)
    )


async def waits_on_a_lock(engine: AsyncEngine) -> bool:
    """Whether some session of the engine's PostgreSQL database waits for a lock now."""
    stmt = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with engine.connect() as conn:
        return bool((await conn.execute(stmt)).scalar_one())


async def create_database(server_url: str) -> str:
    """A fresh, empty database on the server; its SQLAlchemy URL."""
    import asyncpg

    name = f"t_{uuid.uuid4().hex[:16]}"
    dsn = server_url.replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(f"{dsn}/postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{server_url}/{name}"


def hub_settings(bootstrap: str, principal: str = "") -> HubSettings:
    """Settings for a service under test; `principal` overrides its Kafka identity."""
    return HubSettings(
        env="test",
        kafka_bootstrap=bootstrap,
        jwks_file=TEST_KEYS.jwks,
        console_jwks_file=TEST_CONSOLE_KEYS.jwks,
        signing_key_file=TEST_KEYS.private,
        pseudonym_key=TEST_PSEUDONYM_KEY,
        kafka_username=principal,
    )


def token(
    *scopes: str,
    subject: str = "tester",
    ttl: timedelta = timedelta(hours=1),
    audience: tuple[str, ...] = SERVICES,
) -> str:
    """A token of the suite's issuer; for every service unless `audience` says otherwise
    (a test about a scope's service asks; the audience rule has tests of its own)."""
    return mint(TEST_KEY, subject, scopes, ttl, audience=audience)


def bearer(*scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(*scopes)}"}


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan (platform, relay, consumers) and give a client for it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client


async def eventually(check: Callable[[], Any], timeout: float = 30, interval: float = 0.1) -> Any:
    """Poll `check` (sync or async) until it returns something truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


class TopicReader:
    """Reads a topic from its end at creation: what tests look for after acting.

    It connects as `ops` (who reads every topic in production) unless told otherwise.
    """

    def __init__(self, bootstrap: str, topic: str, principal: str = kafka_security.OPS) -> None:
        self._bootstrap = bootstrap
        self.topic = topic
        self.principal = principal
        self.records: list[Any] = []
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> TopicReader:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            **kafka_options(self.principal),
        )
        await self._consumer.start()
        partitions = self._consumer.partitions_for_topic(self.topic)
        if partitions is None:
            await self._consumer._client.force_metadata_update()  # noqa: SLF001 - no public way to refresh metadata
            partitions = self._consumer.partitions_for_topic(self.topic) or set()
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self._consumer.assign(tps)
        await self._consumer.seek_to_end(*tps)
        for tp in tps:
            await self._consumer.position(tp)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._consumer:
            await self._consumer.stop()

    async def poll(self) -> list[Any]:
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=200)
        for records in batches.values():
            self.records.extend(records)
        return self.records

    async def wait_for(self, match: Callable[[Any], bool], timeout: float = 30) -> Any:
        """The first record matching `match`, waiting for it to arrive."""

        async def found() -> Any:
            await self.poll()
            return next((r for r in self.records if match(r)), None)

        return await eventually(found, timeout)


def headers_of(record: Any) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers or ()}


def data_of(record: Any) -> Any:
    return json.loads(record.value)
