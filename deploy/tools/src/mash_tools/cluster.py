"""`mash cluster`: the hub shaped as production is, on loopback, stopped together.

- three Apache Kafka nodes in KRaft mode, each a combined broker and controller with its
  own ports and directory, one cluster id, one `controller.quorum.voters`; every topic has
  three replicas and `min.insync.replicas=2`; SASL_SSL, the SCRAM users and the ACLs of
  `make run` (each node is `deploy/kafka.sh up` with the node's settings);
- PostgreSQL with one database per service (`deploy/postgres.sh`);
- two replicas of every service behind its port: `uvicorn --workers 2` binds the port
  once and hands it to two worker processes, each a whole service (its relay, its
  consumers in the service's consumer group, its jobs); uvicorn starts a worker again
  when one dies;
- Zipkin.

Ctrl-C (or SIGTERM) stops every process it started, PostgreSQL included.

Ports (defaults): CLUSTER_KAFKA_PORT (19092: nodes on 19092-19094), CLUSTER_CONTROLLER_PORT
(19192-19194), CLUSTER_POSTGRES_PORT (15432), the services' `<NAME>_PORT` and ZIPKIN_PORT
as for `mash run`; CLUSTER_DATA_DIR (.data/cluster).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mash_tools.stack import (
    SERVICES,
    Child,
    _start,  # the child-process helpers of `mash run`, shared
    _stop,
    _wait_ready,
    service_credentials,
    service_port,
    service_url,
    start_zipkin,
    uvicorn_argv,
)
from shared import registry
from shared.config import ROOT

NODES = 3
REPLICAS = 2


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def new_cluster_id(random_bytes: Callable[[], bytes] = lambda: uuid.uuid4().bytes) -> str:
    """A Kafka cluster id: a base64url UUID that, as Kafka's own `random-uuid` makes sure,
    never begins with "-" (a command line would take it for an option)."""
    while True:
        candidate = base64.urlsafe_b64encode(random_bytes()).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


@dataclass
class Cluster:
    """Where the cluster's parts live, and the processes running them."""

    data: Path = field(
        default_factory=lambda: Path(os.environ.get("CLUSTER_DATA_DIR", ROOT / ".data" / "cluster"))
    )
    kafka_port: int = field(default_factory=lambda: _port("CLUSTER_KAFKA_PORT", 19092))
    controller_port: int = field(default_factory=lambda: _port("CLUSTER_CONTROLLER_PORT", 19192))
    postgres_port: int = field(default_factory=lambda: _port("CLUSTER_POSTGRES_PORT", 15432))
    env: dict[str, str] = field(
        default_factory=lambda: {**os.environ, "MASH_HOME": str(ROOT), "PYTHONUNBUFFERED": "1"}
    )
    brokers: dict[int, Child] = field(default_factory=dict)
    services: list[Child] = field(default_factory=list)
    others: list[Child] = field(default_factory=list)
    quiet: bool = False
    postgres_started: bool = False

    # -- Kafka

    def broker_port(self, node: int) -> int:
        return self.kafka_port + node - 1

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.broker_port(n)}" for n in range(1, NODES + 1))

    def cluster_id(self) -> str:
        """One id for every node, kept with the cluster's data (Kafka's base64 UUID)."""
        path = self.data / "cluster-id"
        if not path.exists():
            self.data.mkdir(parents=True, exist_ok=True)
            path.write_text(new_cluster_id())
        return path.read_text().strip()

    def node_dir(self, node: int) -> Path:
        return self.data / f"kafka-{node}"

    async def start_broker(self, node: int) -> Child:
        """`deploy/kafka.sh up` as node `node` of the cluster."""
        voters = ",".join(
            f"{n}@127.0.0.1:{self.controller_port + n - 1}" for n in range(1, NODES + 1)
        )
        env = {
            **self.env,
            "PYTHON": sys.executable,
            "KAFKA_NODE_ID": str(node),
            "KAFKA_PORT": str(self.broker_port(node)),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port + node - 1),
            "KAFKA_QUORUM_VOTERS": voters,
            "KAFKA_CLUSTER_ID": self.cluster_id(),
            "KAFKA_DATA_DIR": str(self.node_dir(node)),
            "KAFKA_REPLICATION": str(NODES),
            "KAFKA_MIN_ISR": "2",
            "KAFKA_BOOTSTRAP": self.bootstrap,
            "KAFKA_HEAP": os.environ.get("KAFKA_HEAP", "384m"),
        }
        (self.node_dir(node) / "ready").unlink(missing_ok=True)
        argv = ["bash", str(ROOT / "deploy" / "kafka.sh"), "up"]
        child = await _start(f"kafka-{node}", argv, env, quiet=True)
        self.brokers[node] = child
        return child

    async def wait_broker(self, node: int, timeout: float = 240) -> None:
        ready = self.node_dir(node) / "ready"
        deadline = time.monotonic() + timeout
        while not ready.exists():
            child = self.brokers[node]
            if child.process.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"kafka node {node} did not start; its output:\n{child.last_words()}"
                    f"  and the end of its log:\n{_log_tail(self.node_dir(node))}"
                )
            await asyncio.sleep(0.3)

    async def stop_broker(self, node: int, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop one node (SIGKILL: the JVM dies at once, as in a crash)."""
        child = self.brokers.pop(node)
        if sig == signal.SIGKILL:
            _kill_jvm(self.node_dir(node))
        await _stop([child])

    # -- PostgreSQL

    def postgres_password(self, login: str = "postgres") -> str:
        """A login's password: the superuser's is made by `deploy/postgres.sh` at the
        server's first start; a service login's here, owner-only, when first asked for."""
        path = self.data / ("postgres.password" if login == "postgres" else f"{login}.password")
        if not path.exists():
            self.data.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(32) + "\n")
        return path.read_text().strip()

    def postgres_url(self, service: str, owner: bool = False) -> str:
        """Where a service's database is, as its own login (the owner's, `owner=True`, or
        for a service without a `database_role`), with the login's password (the server
        asks every client for one): given to a service in its environment, never argv."""
        svc = registry.service(service)
        user = "postgres" if owner or not svc.database_role else svc.database_login
        password = self.postgres_password(user)
        return (
            f"postgresql+asyncpg://{user}:{password}@127.0.0.1:{self.postgres_port}/{svc.database}"
        )

    async def start_postgres(self) -> None:
        directory = self.data / "postgres"
        script = str(ROOT / "deploy" / "postgres.sh")
        self.postgres_started = True
        await asyncio.to_thread(
            subprocess.run,
            ["bash", script, "start", str(directory), str(self.postgres_port)],
            check=True,
        )
        # pg_ctl detaches the server: the watchdog stops it if this process dies
        argv = ["bash", script, "watch", str(directory), str(os.getpid())]
        self.others.append(await _start("postgres", argv, self.env, quiet=True))
        import asyncpg

        conn = await asyncpg.connect(
            host="127.0.0.1",
            port=self.postgres_port,
            user="postgres",
            password=self.postgres_password(),
            database="postgres",
        )
        try:
            for svc in SERVICES:
                found = await conn.fetchval(
                    "SELECT 1 FROM pg_database WHERE datname = $1", svc.database
                )
                if not found:
                    await conn.execute(f'CREATE DATABASE "{svc.database}"')
                if svc.database_role:
                    login = svc.database_login
                    await _login_in_group(conn, login, svc.database_role)
                    await _set_password(conn, login, self.postgres_password(login))
        finally:
            await conn.close()

    async def stop_postgres(self) -> None:
        if not self.postgres_started:
            return
        script = str(ROOT / "deploy" / "postgres.sh")
        await asyncio.to_thread(
            subprocess.run, ["bash", script, "stop", str(self.data / "postgres")], check=False
        )

    # -- services

    async def start_service(self, name: str) -> Child:
        svc = registry.service(name)
        env = {
            **self.env,
            **service_credentials(svc.principal),
            "MASH_KAFKA_BOOTSTRAP": self.bootstrap,
            f"{svc.settings_prefix}DATABASE_URL": self.postgres_url(name),
        }
        if svc.database_role:  # its migrations run as the owner, the service as its login
            env[f"{svc.settings_prefix}MIGRATIONS_DATABASE_URL"] = self.postgres_url(name, True)
        for callee in svc.calls:  # e.g. the console's pages read the services of this run
            env.setdefault(f"{svc.settings_prefix}{callee.upper()}_URL", service_url(callee))
        argv = uvicorn_argv(name, service_port(name), workers=REPLICAS)
        child = await _start(name, argv, env, quiet=self.quiet)
        self.services.append(child)
        return child

    def replica_pids(self, name: str) -> list[int]:
        """The worker processes (the replicas) of a service."""
        child = next(c for c in self.services if c.name == name)
        return [pid for pid in _children_of(child.process.pid) if _is_worker(pid)]

    async def wait_services(self, timeout: float = 180) -> None:
        waits = [
            _wait_ready(f"{service_url(s.name)}/readyz", self.services, timeout) for s in SERVICES
        ]
        await asyncio.gather(*waits)

    # -- everything

    async def start(self) -> str:
        """Start the whole cluster; Zipkin's base URL."""
        zipkin = await start_zipkin(self.env, self.others)
        self.env.setdefault("MASH_ZIPKIN_ENDPOINT", f"{zipkin}/api/v2/spans")
        print(f"starting PostgreSQL on 127.0.0.1:{self.postgres_port} ...", flush=True)
        await self.start_postgres()
        print(f"starting {NODES} Kafka nodes on {self.bootstrap} ...", flush=True)
        for node in range(1, NODES + 1):
            await self.start_broker(node)
        await asyncio.gather(*(self.wait_broker(n) for n in range(1, NODES + 1)))
        for svc in SERVICES:
            await self.start_service(svc.name)
        await self.wait_services()
        await _wait_ready(f"{zipkin}/health", self.others, 120)
        return zipkin

    async def stop(self) -> None:
        """Services first, then the brokers, Zipkin and PostgreSQL."""
        # in parallel: a node left alone without its quorum would wait out its shutdown
        await asyncio.gather(*(_stop([c]) for c in self.services))
        self.services.clear()
        await asyncio.gather(*(_stop([c]) for c in self.brokers.values()))
        self.brokers.clear()
        await _stop(self.others)
        self.others.clear()
        await self.stop_postgres()

    @property
    def children(self) -> list[Child]:
        return [*self.services, *self.brokers.values(), *self.others]


async def _login_in_group(conn: Any, login: str, group: str) -> None:
    """A login role in a group role (both created when missing): the service's login,
    whose rights are the group's, which its migrations grant (records: insert and read)."""
    for role, options in ((group, "NOLOGIN"), (login, f'LOGIN IN ROLE "{group}"')):
        found = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
        if not found:
            await conn.execute(f'CREATE ROLE "{role}" {options}')


async def _set_password(conn: Any, login: str, password: str) -> None:
    """Give a login its password (kept in the cluster's owner-only data): quoted by the
    server (`format` with %I and %L), sent as a statement, never on a command line."""
    statement = await conn.fetchval(
        "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)", login, password
    )
    await conn.execute(statement)


def _log_tail(node_dir: Path, lines: int = 25) -> str:
    """The last lines of a node's server.log that say something went wrong (or the last)."""
    log = node_dir / "app-logs" / "server.log"
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError:
        return f"    (no {log})\n"
    bad = [line for line in text if " ERROR " in line or " WARN " in line or "Exception" in line]
    return "".join(f"    {line}\n" for line in (bad or text)[-lines:])


def _children_of(pid: int) -> list[int]:
    """The direct children of a process (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def _is_worker(pid: int) -> bool:
    """A uvicorn worker, not multiprocessing's resource tracker."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"resource_tracker" not in cmdline


def _kill_jvm(node_dir: Path) -> None:
    """SIGKILL the JVM of the node whose data lives in `node_dir`."""
    marker = str(node_dir / "server.properties")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if b"java" in argv[0] and marker.encode() in argv:
                os.kill(int(entry.name), signal.SIGKILL)


def _print_table(cluster: Cluster, zipkin: str) -> None:
    print("\nThe cluster is running (Ctrl-C stops everything):\n")
    print(f"  {'part':<14} {'address':<34} notes")
    for node in range(1, NODES + 1):
        print(
            f"  {'kafka-' + str(node):<14} {'127.0.0.1:' + str(cluster.broker_port(node)):<34} "
            f"KRaft broker+controller, data {cluster.node_dir(node)}"
        )
    print(
        f"  {'postgresql':<14} {'127.0.0.1:' + str(cluster.postgres_port):<34} "
        "one database per service (mash_<service>)"
    )
    for svc in SERVICES:
        url = service_url(svc.name)
        print(f"  {svc.name:<14} {url:<34} {REPLICAS} replicas (uvicorn workers), {url}/docs")
    print(f"  {'zipkin':<14} {zipkin + '/zipkin/':<34} traces")
    print(
        f"\nKafka: MASH_KAFKA_BOOTSTRAP={cluster.bootstrap} (replication 3, min ISR 2, SASL_SSL)\n",
        flush=True,
    )


async def serve() -> int:
    cluster = Cluster()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        zipkin = await cluster.start()
        _print_table(cluster, zipkin)
        watchers = [asyncio.ensure_future(c.process.wait()) for c in cluster.children]
        stop_wait = asyncio.ensure_future(stopping.wait())
        done, _ = await asyncio.wait([stop_wait, *watchers], return_when=asyncio.FIRST_COMPLETED)
        for w in [stop_wait, *watchers]:
            w.cancel()
        if stop_wait not in done:
            dead = [c.name for c in cluster.children if c.process.returncode is not None]
            print(f"\n{', '.join(dead)} stopped unexpectedly; stopping everything", flush=True)
            return 1
        print("\nstopping ...", flush=True)
        return 0
    except (RuntimeError, TimeoutError, OSError, subprocess.CalledProcessError) as exc:
        print(f"mash cluster: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        await cluster.stop()
        print("stopped.", flush=True)


def run(_: argparse.Namespace) -> int:
    return asyncio.run(serve())
