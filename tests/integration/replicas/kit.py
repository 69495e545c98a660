"""Replicas of a service as real processes: N uvicorn processes of one service on one
PostgreSQL database and in one consumer group, killed with SIGKILL when a test says so.

Each replica is a full service (its relay, its consumers, its jobs) started the way
`mash run` starts it, with the suite's broker credentials and test secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from mash_tools.stack import uvicorn_argv
from mash_tools.testing import free_port, kafka_options, service_environment, stop_group
from shared.config import ROOT
from shared.tables import MessageTables


@dataclass
class Replicas:
    """`count` replicas of `service` on `database_url`, all in consumer group `group`."""

    service: str
    bootstrap: str
    database_url: str
    group: str
    logs: Path
    env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)

    def _environment(self) -> dict[str, str]:
        return {
            **service_environment(self.service, self.bootstrap, self.database_url, self.group),
            f"{self.service.upper()}_OUTBOX_POLL_SECONDS": "0.1",
            **self.env,
        }

    def start(self, count: int) -> None:
        for _ in range(count):
            self.add()
        self.wait_ready()

    def add(self) -> int:
        """Start one more replica; its index."""
        index = len(self.processes)
        port = free_port()
        log = (self.logs / f"{self.service}-{index}.log").open("wb")
        process = subprocess.Popen(
            uvicorn_argv(self.service, port),
            env=self._environment(),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.processes.append(process)
        self.ports.append(port)
        return index

    def wait_ready(self, timeout: float = 120) -> None:
        """Every live replica answers `/readyz` (its consumers hold their partitions)."""
        deadline = time.monotonic() + timeout
        for index, process in enumerate(self.processes):
            if process.poll() is not None:
                continue
            while True:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{self.service} replica {index} did not start")
                with contextlib.suppress(httpx.HTTPError):
                    url = f"http://127.0.0.1:{self.ports[index]}/readyz"
                    if httpx.get(url, timeout=2).status_code == 200:
                        break
                time.sleep(0.3)

    def url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[index]}"

    def kill(self, index: int) -> None:
        """SIGKILL: no commit, no flush, no goodbye to the group."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.processes[index].pid, signal.SIGKILL)
        self.processes[index].wait(10)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                stop_group(process, timeout=30)


@contextlib.contextmanager
def replicas(
    service: str, bootstrap: str, database_url: str, group: str, logs: Path, **env: str
) -> Iterator[Replicas]:
    found = Replicas(service, bootstrap, database_url, group, logs, dict(env))
    try:
        yield found
    finally:
        found.stop()


async def start_at_end(bootstrap: str, principal: str, group: str, topics: Iterable[str]) -> None:
    """Commit the group's offsets at the topics' ends before its replicas start: whoever
    owns a partition after a rebalance goes on from what was committed, so the test's
    stream is read whole whatever the group's reset policy (other tests' events are not)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        **kafka_options(principal),
    )
    consumer.subscribe(list(topics))
    await consumer.start()
    try:
        while not consumer.assignment():  # the group's only member: every partition
            await asyncio.sleep(0.05)
        tps = sorted(consumer.assignment())
        ends = await consumer.end_offsets(tps)
        await consumer.commit(dict(ends.items()))
    finally:
        await consumer.stop()  # leaves the group


def engine_of(url: str) -> AsyncEngine:
    return create_async_engine(url, pool_size=2)


async def processed(engine: AsyncEngine, tables: MessageTables, event_ids: list[str]) -> int:
    """How many of these events the service has processed (they are in its inbox)."""
    inbox = tables.inbox
    async with engine.connect() as conn:
        stmt = select(func.count()).select_from(inbox).where(inbox.c.event_id.in_(event_ids))
        return int((await conn.execute(stmt)).scalar_one())
