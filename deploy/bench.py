"""`make bench`: the hub's speed side by side with raw Kafka, in one run, on this machine.

Starts its own secured broker (as the tests do) and, for each backend (SQLite as the hub
runs it, with every commit fsynced; SQLite with `synchronous=NORMAL`, only to show what
those fsyncs cost; then PostgreSQL, durable too), the pipeline's services and records as
real processes (uvicorn, as `mash run` starts them).
It measures, through the contract only:

- raw aiokafka produce->consume of the same incident JSON (as `admin`), the floor;
- Kafka's own ProducerPerformance and EndToEndLatency (kafka-tools, `java -cp`);
- a burst: N incidents posted 64 at a time until every victim-support referral is on
  its topic; its rate, its ratio to raw, and intake's accepted/s and request p99;
- a steady 50 incidents/s: the latency from each 202 to its referral on the topic;
- a replay: a fresh triage (new database, new consumer group) re-deciding the whole
  incidents topic;
- a policy trial (contract section 4) over every incident the run reported, started
  through triage's `POST /v1/policy-trials` and timed through its progress, beside the
  rate at which live triage decided the burst and the replay's rate;
- each service's CPU per incident over the burst and over the steady phase (utime and
  stime from `/proc/<pid>/stat`, every thread), and triage's CPU per decision live, in
  the trial and in the replay; and what each service spends idle (10 s with nothing
  coming in, after the burst: CPU ms per second, its polls, relays and schedules);
- each service's peak resident memory (VmHWM) and the event loop it runs.

`--profile DIR` writes a py-spy flame graph of each service per phase into DIR (py-spy
attaches with ptrace; where that is refused the output says so and the run goes on);
with `--profile-raw`, collapsed stacks (a text line a stack) instead.

Everything is bounded in count and time and only targets loopback. `BENCH=quick` (or
`--quick`) runs a small version to check that it works. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import NewTopic

from mash_tools import probes, testing
from mash_tools.admin import admin_client
from mash_tools.stack import service_credentials, uvicorn_argv
from shared import kafka_security, registry
from shared.config import ROOT
from shared.db import SYNCHRONOUS
from shared.topics import INCIDENTS, referrals_topic

SERVICES = tuple(s.name for s in registry.SERVICES if not s.calls)
"""Every service of the registry but those whose pages call the others (the console):
the pipeline and the records service that logs it."""
REFERRALS = referrals_topic("victim-support")
TIME_LIMIT = 300.0  # no single measure waits longer than this
IDLE = 10  # incidents sent one at a time through the idle hub
EXAMPLE = (ROOT / "deploy" / "example-incident.json").read_text()
KEEP_ALIVE = 4.0  # seconds a bench connection may idle (uvicorn closes one idle for 5)
# each backend's extra environment: `sqlite` is the hub as it runs (every commit fsynced);
# `sqlite-normal` exists only to show the cost of those fsyncs side by side
BACKENDS: dict[str, dict[str, str]] = {
    "sqlite": {SYNCHRONOUS: "FULL"},
    "sqlite-normal": {SYNCHRONOUS: "NORMAL"},
    "postgres": {},
}
COMPARED = (  # the measures the FULL/NORMAL comparison prints side by side
    "burst_end_to_end_per_s",
    "intake_accepted_per_s",
    "intake_request_p50_ms",
    "intake_request_p99_ms",
    "steady_202_to_referral_p50_ms",
    "steady_202_to_referral_p99_ms",
    "idle_202_to_referral_p50_ms",
)


@dataclass(frozen=True)
class Plan:
    burst: int
    concurrency: int
    steady_rate: float
    steady_seconds: float
    raw: int
    tools: int
    idle_seconds: int = 10

    @property
    def steady_total(self) -> int:
        return int(self.steady_rate * self.steady_seconds)

    @classmethod
    def of(cls, quick: bool) -> Plan:
        if quick:
            return cls(
                burst=200,
                concurrency=64,
                steady_rate=50,
                steady_seconds=3,
                raw=2000,
                tools=2000,
                idle_seconds=2,
            )
        return cls(
            burst=3000, concurrency=64, steady_rate=50, steady_seconds=20, raw=30000, tools=50000
        )


class Progress:
    """A one-line progress bar on stderr (no dependency)."""

    def __init__(self, steps: int) -> None:
        self.steps, self.done, self.label, self.shown = steps, 0, "", ""
        self.started = time.monotonic()

    def step(self, label: str) -> None:
        self.label = label
        self._draw()

    def advance(self) -> None:
        self.done += 1
        self._draw()

    def _draw(self) -> None:
        width = 30
        filled = int(width * self.done / max(1, self.steps))
        elapsed = time.monotonic() - self.started
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.steps} "
            f"{elapsed:5.0f}s {self.label:<48}"
        )
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{line}")
        elif self.label != self.shown:  # a log or CI output: a line per step, no \r frames
            self.shown = self.label
            sys.stderr.write(f"{line.rstrip()}\n")
        sys.stderr.flush()

    def close(self) -> None:
        if sys.stderr.isatty():
            sys.stderr.write("\n")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def letters(text: str) -> str:
    """Digits (decimal or hex) as letters: a name that stays distinct once normalised
    (names are matched without their digits, so "Bench5" and "Bench17" are one name)."""
    return "".join(chr(ord("a") + int(c, 16)) if c in _HEX else c for c in text)


_HEX = frozenset("0123456789abcdef")


def incident(run: str, i: int) -> dict[str, Any]:
    """The example incident, a distinct synthetic victim each (standard risk, so notify
    refers it to victim-support): distinct by person id and by names and date of birth,
    so each victim and suspect has no history, as the first report of a force's day."""
    body: dict[str, Any] = json.loads(EXAMPLE)
    body.update(control_room_ref=f"BENCH-{run}-{i}", children=[], notes="bench")
    body.pop("dash", None)
    body["reported_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    name = letters(f"{run}x{i}").capitalize()
    body["victim"].update(person_id=f"B{run}{i}", family_name=f"Bench-{name}")
    body["suspect"] = {"person_id": f"S{run}{i}", "given_name": "Sam", "family_name": name}
    return body


# --- raw Kafka -------------------------------------------------------------------------


async def create_topic(bootstrap: str, name: str) -> None:
    admin = admin_client(bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()


async def raw_aiokafka(bootstrap: str, count: int) -> dict[str, float]:
    """Produce `count` incident JSONs (idempotent, acks=all, as the services do) while a
    consumer reads them; messages per second from the first send to the last receipt."""
    topic = f"bench.raw.{uuid.uuid4().hex[:6]}"
    await create_topic(bootstrap, topic)
    value = json.dumps(incident("raw", 0)).encode()
    options = kafka_security.client_options(kafka_security.ADMIN)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=f"bench-raw-{uuid.uuid4().hex[:6]}",
        fetch_max_wait_ms=20,
        max_partition_fetch_bytes=4 * 1048576,
        **options,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=2, **options
    )
    await consumer.start()
    await producer.start()
    try:
        while not consumer.assignment():
            await asyncio.sleep(0.05)
        began = time.perf_counter()

        async def send() -> None:
            futures = [
                await producer.send(topic, value, key=f"v{i % 500}".encode()) for i in range(count)
            ]
            await asyncio.gather(*futures)

        sender = asyncio.create_task(send())
        received = 0
        async with asyncio.timeout(TIME_LIMIT):
            while received < count:
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                received += sum(len(r) for r in batches.values())
        elapsed = time.perf_counter() - began
        await sender
    finally:
        await producer.stop()
        await consumer.stop()
    return {"raw_aiokafka_msgs_per_s": count / elapsed, "raw_message_bytes": len(value)}


def kafka_tools(bootstrap: str, workdir: Path, count: int, size: int) -> dict[str, float]:
    """Kafka's own ProducerPerformance and EndToEndLatency, as `admin`."""
    props = workdir / "admin.properties"
    admin = kafka_security.credentials(kafka_security.ADMIN, testing.hub_settings(bootstrap))
    props.write_text(admin.as_properties())
    topic = f"bench.tools.{uuid.uuid4().hex[:6]}"
    asyncio.run(create_topic(bootstrap, topic))
    libs = ROOT / ".data" / "kafka-libs"
    java = ["java", "-Xmx256m", "-cp", f"{libs}/*"]
    java += [f"-Dlog4j.configuration=file:{ROOT / 'deploy' / 'log4j-tools.properties'}"]
    out: dict[str, float] = {}
    perf = subprocess.run(
        [
            *java,
            "org.apache.kafka.tools.ProducerPerformance",
            "--topic",
            topic,
            "--num-records",
            str(count),
            "--record-size",
            str(size),
            "--throughput",
            "-1",
            "--producer.config",
            str(props),
            "--producer-props",
            "acks=all",
            "linger.ms=2",
        ],
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        check=False,
    )
    summary = [line for line in perf.stdout.splitlines() if "records sent" in line]
    if summary and (m := re.search(r"([\d.]+) records/sec.*?([\d.]+) ms avg latency", summary[-1])):
        out["kafka_producer_perf_msgs_per_s"] = float(m.group(1))
        out["kafka_producer_perf_avg_ms"] = float(m.group(2))
    e2e = subprocess.run(
        [
            *java,
            "org.apache.kafka.tools.EndToEndLatency",
            bootstrap,
            topic,
            str(min(count, 2000)),
            "all",
            str(size),
            str(props),
        ],
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        check=False,
    )
    if m := re.search(r"Avg latency: ([\d.]+) ms", e2e.stdout):
        out["kafka_e2e_latency_avg_ms"] = float(m.group(1))
    for name, p in (("50th", "p50"), ("99th", "p99")):
        if m := re.search(rf"Percentiles: .*?{name} = ([\d.]+)", e2e.stdout):
            out[f"kafka_e2e_latency_{p}_ms"] = float(m.group(1))
    return out


# --- the hub as processes --------------------------------------------------------------


@dataclass
class Hub:
    """The bench's services (SERVICES) as uvicorn processes on free loopback ports."""

    bootstrap: str
    databases: dict[str, str]
    tag: str
    extra_env: dict[str, str] = field(default_factory=dict)
    loop: str = "auto"
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, names: tuple[str, ...] = SERVICES, offset_reset: str = "latest") -> None:
        for name in names:
            port = testing.free_port()
            group = f"mash-{name}-bench-{self.tag}"
            prefix = name.upper()
            env = {
                **testing.service_environment(name, self.bootstrap, self.databases[name], group),
                **service_credentials(name),
                f"{prefix}_CONSUMER_OFFSET_RESET": offset_reset,
                f"{prefix}_PORT": str(port),
                **self.extra_env,
            }
            env.pop("MASH_TRACES_FILE", None)
            log = (Path(tempfile.gettempdir()) / f"mash-bench-{self.tag}-{name}.log").open("wb")
            loop = [] if self.loop == "auto" else ["--loop", self.loop]
            self.processes[name] = subprocess.Popen(
                [*uvicorn_argv(name, port), *loop],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.ports[name] = port

    async def ready(self, names: tuple[str, ...] = SERVICES) -> None:
        async with httpx.AsyncClient(timeout=2) as client, asyncio.timeout(180):
            for name in names:
                while True:
                    if self.processes[name].poll() is not None:
                        raise RuntimeError(f"{name} exited; see its log in {tempfile.gettempdir()}")
                    with contextlib.suppress(httpx.HTTPError):
                        answer = await client.get(f"http://127.0.0.1:{self.ports[name]}/readyz")
                        if answer.status_code == 200:
                            break
                    await asyncio.sleep(0.3)

    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.processes.items()}

    def peak_rss_mb(self) -> dict[str, float]:
        peaks = {}
        for name, process in self.processes.items():
            status = Path(f"/proc/{process.pid}/status").read_text()
            if m := re.search(r"VmHWM:\s+(\d+) kB", status):
                peaks[name] = int(m.group(1)) / 1024
        return peaks

    def stop(self, names: tuple[str, ...] | None = None) -> None:
        for name in names or tuple(self.processes):
            process = self.processes.pop(name, None)
            if process is not None:
                testing.stop_group(process, timeout=30)


@contextlib.contextmanager
def hub(
    bootstrap: str, databases: dict[str, str], tag: str, extra_env: dict[str, str], loop: str
) -> Iterator[Hub]:
    running = Hub(bootstrap, databases, tag, extra_env, loop)
    try:
        yield running
    finally:
        running.stop()


class Referrals:
    """Reads the victim-support topic from its end, noting when each incident's referral
    was appended (the producer's timestamp, on this machine's clock)."""

    def __init__(self, bootstrap: str) -> None:
        self.reader = testing.TopicReader(bootstrap, REFERRALS)
        self.at: dict[str, float] = {}

    async def __aenter__(self) -> Referrals:
        await self.reader.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.reader.__aexit__(*exc)

    async def poll(self) -> None:
        consumer = self.reader._consumer  # noqa: SLF001 - the reader's position is what we want
        assert consumer is not None
        batches = await consumer.getmany(timeout_ms=100, max_records=5000)
        for records in batches.values():
            for r in records:
                subject = dict(r.headers or ()).get("ce_subject", b"").decode()
                self.at.setdefault(subject, r.timestamp / 1000)

    async def wait_all(self, ids: set[str], began: float) -> float:
        """Seconds from `began` (perf counter) until every id has its referral."""
        async with asyncio.timeout(TIME_LIMIT):
            while not ids <= self.at.keys():
                await self.poll()
        return time.perf_counter() - began


class Intake:
    """A lean HTTP/1.1 keep-alive client for reporting incidents (`POST /v1/incidents`).

    The load generator shares the two cores with what it measures: httpx spent about as
    much CPU per request as intake did to answer it, so it is not used on the measured
    path. This writes each request in one piece and reads `Content-Length` bytes back,
    over a pool of at most `connections` loopback connections.
    """

    def __init__(self, port: int, connections: int = 64) -> None:
        self.port = port
        self._head = (
            "POST /v1/incidents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: {testing.bearer('incidents:write')['Authorization']}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self._slots = asyncio.Semaphore(connections)

    async def __aenter__(self) -> Intake:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for _, writer, _ in self._idle:
            writer.close()
        self._idle.clear()

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        """An idle connection that uvicorn has not closed yet (it closes one idle for 5 s),
        or a new one; and whether it was reused."""
        while self._idle:
            reader, writer, since = self._idle.pop()
            if time.monotonic() - since < KEEP_ALIVE:
                return reader, writer, True
            writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        return reader, writer, False

    async def report(self, body: dict[str, Any]) -> tuple[int, bytes]:
        """POST one report; its status and body. A reused connection the server closed
        meanwhile is replaced (intake is idempotent on the reference: a repeat answers 200
        with the same id)."""
        data = json.dumps(body).encode()
        request = self._head + str(len(data)).encode() + b"\r\n\r\n" + data
        async with self._slots:
            for _ in range(3):
                reader, writer, reused = await self._connection()
                try:
                    writer.write(request)
                    head = await reader.readuntil(b"\r\n\r\n")
                    status = int(head[9:12])
                    length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                    answer = await reader.readexactly(int(length.group(1)) if length else 0)
                except (OSError, asyncio.IncompleteReadError):
                    writer.close()
                    if not reused:
                        raise
                    continue
                if b"connection: close" in head.lower():
                    writer.close()
                else:
                    self._idle.append((reader, writer, time.monotonic()))
                return status, answer
        raise RuntimeError("intake closed three connections in a row")


async def post(client: Intake, body: dict[str, Any]) -> tuple[str, float]:
    """Report one incident; its id and when it was answered."""
    status, answer = await client.report(body)
    if status not in (200, 202):
        raise RuntimeError(f"intake answered {status}: {answer[:200]!r}")
    return str(json.loads(answer)["incident_id"]), time.time()


_CONSUMED = re.compile(
    r'mash_events_(?:consumed|duplicate)_total\{[^}]*topic="'
    + re.escape(INCIDENTS)
    + r'"[^}]*\} ([\d.e+]+)'
)


async def consumed(client: httpx.AsyncClient, port: int) -> float:
    """Incidents a triage has handled so far (decided, or skipped as already decided),
    from its metrics."""
    text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    return sum(float(m.group(1)) for m in _CONSUMED.finditer(text))


async def triage_caught_up(port: int, target: float) -> float:
    """perf_counter() when live triage had handled `target` incidents (polled 4 times
    a second: the burst's rate as triage decided it, to within a quarter second)."""
    async with httpx.AsyncClient(timeout=5) as client, asyncio.timeout(TIME_LIMIT):
        while await consumed(client, port) < target:
            await asyncio.sleep(0.25)
    return time.perf_counter()


async def burst(running: Hub, plan: Plan, progress: Progress) -> dict[str, float]:
    run = uuid.uuid4().hex[:6]
    latencies: list[float] = []
    ids: set[str] = set()
    async with (
        Referrals(running.bootstrap) as referrals,
        Intake(running.ports["intake"], plan.concurrency) as client,
        httpx.AsyncClient(timeout=5) as metrics,
    ):
        queue = [incident(run, i) for i in range(plan.burst)]
        port = running.ports["triage"]
        triage = asyncio.create_task(
            triage_caught_up(port, await consumed(metrics, port) + plan.burst)
        )

        async def worker() -> None:
            while queue:
                body = queue.pop()
                started = time.perf_counter()
                incident_id, _ = await post(client, body)
                latencies.append(time.perf_counter() - started)
                ids.add(incident_id)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(plan.concurrency)))
        accepted = time.perf_counter() - began
        progress.step("burst: waiting for every referral")
        through = await referrals.wait_all(ids, began)
        decided = await triage
    return {
        "burst_incidents": plan.burst,
        "burst_end_to_end_per_s": plan.burst / through,
        "triage_live_per_s": plan.burst / (decided - began),
        "intake_accepted_per_s": plan.burst / accepted,
        "intake_request_p50_ms": 1000 * statistics.median(latencies),
        "intake_request_p99_ms": 1000 * percentile(latencies, 99),
    }


async def settled(running: Hub) -> float:
    """Wait until every service has consumed all it was sent and published all it wrote
    (consumer lag and outbox backlog 0 twice in a row); the seconds it took."""
    lag = re.compile(r"^mash_(?:consumer_lag|outbox_backlog)(?:\{[^}]*\})? ([\d.e+]+)$", re.M)
    began = time.perf_counter()
    quiet = 0
    async with httpx.AsyncClient(timeout=5) as client:
        while quiet < 2 and time.perf_counter() - began < TIME_LIMIT:
            behind = 0.0
            for name in SERVICES:
                text = (await client.get(f"http://127.0.0.1:{running.ports[name]}/metrics")).text
                behind += sum(float(m.group(1)) for m in lag.finditer(text))
            quiet = quiet + 1 if behind == 0 else 0
            await asyncio.sleep(0.5)
    return time.perf_counter() - began


async def idle(running: Hub, count: int) -> dict[str, float]:
    """One incident at a time through the idle hub: 202 to referral on its topic."""
    run = uuid.uuid4().hex[:6]
    flow: list[float] = []
    async with Referrals(running.bootstrap) as referrals, Intake(running.ports["intake"]) as client:
        for i in range(count):
            incident_id, at = await post(client, incident(run, i))
            await referrals.wait_all({incident_id}, time.perf_counter())
            flow.append(1000 * max(0.0, referrals.at[incident_id] - at))
            await asyncio.sleep(0.2)  # idle again
    return {
        "idle_202_to_referral_p50_ms": statistics.median(flow),
        "idle_202_to_referral_max_ms": max(flow),
    }


async def steady(running: Hub, plan: Plan) -> dict[str, float]:
    """Offer `steady_rate` incidents a second; latency from each 202 to its referral."""
    run = uuid.uuid4().hex[:6]
    total = plan.steady_total
    answered: dict[str, float] = {}
    async with Referrals(running.bootstrap) as referrals, Intake(running.ports["intake"]) as client:

        async def one(i: int) -> None:
            incident_id, at = await post(client, incident(run, i))
            answered[incident_id] = at

        began = time.perf_counter()
        tasks = []
        for i in range(total):
            await asyncio.sleep(max(0.0, began + i / plan.steady_rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        offered_in = time.perf_counter() - began
        await referrals.wait_all(set(answered), began)
    flow = [1000 * max(0.0, referrals.at[i] - at) for i, at in answered.items()]
    return {
        "steady_offered_per_s": plan.steady_rate,
        "steady_kept_up_per_s": total / offered_in,
        "steady_202_to_referral_p50_ms": statistics.median(flow),
        "steady_202_to_referral_p99_ms": percentile(flow, 99),
    }


async def replay(running: Hub, database: str, total: int, options: Options) -> dict[str, float]:
    """A fresh triage re-decides the whole incidents topic from the start: the `total`
    incidents this run has posted (its other writers are not running)."""
    fresh = Hub(
        running.bootstrap,
        {"triage": database},
        f"{running.tag}-replay-{uuid.uuid4().hex[:4]}",
        running.extra_env,
        running.loop,
    )
    fresh.start(("triage",), offset_reset="earliest")
    pid = fresh.processes["triage"].pid
    phase = Phase(f"{running.tag.rsplit('-', 1)[0]}-replay", {"triage": pid}, options)
    try:
        port = fresh.ports["triage"]
        async with httpx.AsyncClient(timeout=5) as client:

            async def decided() -> float:
                return await consumed(client, port)

            # measured from the first answer of its metrics (start-up and migrations are
            # not replay; /readyz comes later, when the replay may be well under way); past
            # the time limit, the rate so far is the figure
            deadline = time.perf_counter() + TIME_LIMIT
            while True:
                try:
                    before = await decided()
                    break
                except httpx.TransportError:
                    if time.perf_counter() > deadline:
                        raise
                    await asyncio.sleep(0.05)
            began, cpu = time.perf_counter(), probes.cpu_seconds(pid)
            done = before
            while done < total and time.perf_counter() - began < TIME_LIMIT:
                await asyncio.sleep(0.2)
                done = await decided()
        elapsed = time.perf_counter() - began
        spent = probes.cpu_seconds(pid) - cpu
        phase.end(1)
        rss = fresh.peak_rss_mb()["triage"]
    finally:
        fresh.stop()
    return {
        "replay_events": total,
        "replay_events_done": done,
        "replay_per_s": (done - before) / elapsed,
        "replay_triage_cpu_ms_per_decision": 1000 * spent / max(1.0, done - before),
        "replay_triage_rss_mb": rss,
    }


async def trial(running: Hub) -> dict[str, float]:
    """A policy trial (contract section 4) with the current policy under a new version,
    over every incident this hub was sent (reported from yesterday to today, UTC): its
    decisions per second and triage's CPU per decision.

    Timed through its progress, from the first step seen committed to the end: a step
    decides 500 incidents and commits, and the background job looks for work once a
    second, which is not the trial's speed. A trial of one step is timed from the POST.
    The progress is asked for twice a second: each answer is a request triage serves
    (token, audit), and its CPU counts in the trial's.
    """
    port, pid = running.ports["triage"], running.processes["triage"].pid
    url = f"http://127.0.0.1:{port}/v1"
    today = datetime.now(UTC).date()
    async with httpx.AsyncClient(timeout=10, headers=testing.bearer("triage:policy")) as client:
        answer = await client.get(f"{url}/policy")
        current = answer.raise_for_status().json()["current"]
        policy = {**current, "version": f"bench-{uuid.uuid4().hex[:8]}"}
        period = {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}
        cpu, posted = probes.cpu_seconds(pid), time.perf_counter()
        answer = await client.post(f"{url}/policy-trials", json={"policy": policy, **period})
        trial_id = answer.raise_for_status().json()["trial_id"]
        first: tuple[float, int] | None = None
        async with asyncio.timeout(TIME_LIMIT):
            while True:
                answer = await client.get(f"{url}/policy-trials/{trial_id}")
                view, now = answer.raise_for_status().json(), time.perf_counter()
                if view["status"] != "running":
                    break
                if first is None and view["done"] > 0:
                    first = (now, int(view["done"]))
                await asyncio.sleep(0.5)
    spent = probes.cpu_seconds(pid) - cpu
    if view["status"] != "done":
        raise RuntimeError(f"the bench's policy trial ended {view['status']}")
    done = int(view["done"])
    since, base = first or (posted, 0)
    return {
        "trial_decisions": done,
        "trial_timed_from_post": float(first is None),
        "trial_per_s": (done - base) / (now - since) if done > base else float("nan"),
        "trial_seconds_from_post": now - posted,
        "trial_triage_cpu_ms_per_decision": 1000 * spent / max(1, done),
    }


async def backend_run(
    backend: str,
    index: int,
    bootstrap: str,
    workdir: Path,
    pg: str | None,
    plan: Plan,
    progress: Progress,
    options: Options,
) -> dict[str, Any]:
    """The hub on one backend; `index` backends ran before it on this broker."""

    async def database(name: str) -> str:
        if pg is not None:
            return await testing.create_database(pg)
        return f"sqlite+aiosqlite:///{workdir / f'{backend}-{name}-{uuid.uuid4().hex[:4]}.db'}"

    databases = {name: await database(name) for name in SERVICES}
    results: dict[str, Any] = {}
    tag = f"{backend}-{uuid.uuid4().hex[:4]}"
    with hub(bootstrap, databases, tag, BACKENDS[backend], options.loop) as running:
        progress.step(f"{backend}: starting the services")
        running.start()
        await running.ready()
        results["event_loop"] = {n: probes.event_loop(pid) for n, pid in running.pids().items()}
        results |= await idle(running, IDLE)
        progress.advance()
        progress.step(f"{backend}: burst of {plan.burst}")
        phase = Phase(f"{backend}-burst", running.pids(), options)
        results |= await burst(running, plan, progress)
        progress.advance()
        progress.step(f"{backend}: the rest of the hub absorbing the burst")
        results["burst_settled_after_s"] = await settled(running)
        results["cpu_ms_per_incident_burst"] = phase.end(plan.burst)
        progress.step(f"{backend}: idle for {plan.idle_seconds} s")
        phase = Phase(f"{backend}-idle", running.pids(), options)
        await asyncio.sleep(plan.idle_seconds)  # what the hub spends doing nothing
        results["cpu_ms_per_s_idle"] = phase.end(plan.idle_seconds)
        progress.step(f"{backend}: steady {plan.steady_rate:.0f}/s")
        phase = Phase(f"{backend}-steady", running.pids(), options)
        results |= await steady(running, plan)
        await settled(running)
        results["cpu_ms_per_incident_steady"] = phase.end(plan.steady_total)
        progress.advance()
        progress.step(f"{backend}: policy trial")
        phase = Phase(f"{backend}-trial", {"triage": running.pids()["triage"]}, options)
        results |= await trial(running)
        phase.end(1)
        results["peak_rss_mb"] = running.peak_rss_mb()
        running.stop()
        progress.advance()
        progress.step(f"{backend}: replay")
        posted = IDLE + plan.burst + plan.steady_total
        fresh = await database("triage-replay")
        results |= await replay(running, fresh, posted * (1 + index), options)
        progress.advance()
    return results


@dataclass(frozen=True)
class Options:
    """How the hub is run and watched: uvicorn's event loop (`auto` picks uvloop when it
    is installed, as it is), and where py-spy's flame graphs go (None: no profile), as
    SVG or, `raw_profile`, as collapsed stacks."""

    loop: str = "auto"
    profile: Path | None = None
    raw_profile: bool = False
    notes: list[str] = field(default_factory=list)


class Phase:
    """One measured phase: the CPU each process spends in it (from `/proc/<pid>/stat`),
    and its py-spy flame graphs when the bench profiles."""

    def __init__(self, label: str, pids: dict[str, int], options: Options) -> None:
        self.pids, self.options = pids, options
        self.profiler = (
            probes.Profiler(options.profile, raw=options.raw_profile) if options.profile else None
        )
        if self.profiler is not None:
            options.notes.extend(self.profiler.start(label, pids))
        self.before = probes.cpu_snapshot(pids)
        self.own = time.process_time()

    def end(self, units: int) -> dict[str, float]:
        """CPU milliseconds per unit of the phase's work, per process and in `all`; and
        the bench's own (its load generator and readers, on the same cores; not in `all`)."""
        after = probes.cpu_snapshot(self.pids)
        own = 1000 * (time.process_time() - self.own) / units
        if self.profiler is not None:
            self.options.notes.extend(self.profiler.stop())
        return {**probes.per_unit_ms(self.before, after, units), "bench": own}


PER_SERVICE = (  # the per-process measures, a row each and a column per service
    "cpu_ms_per_incident_burst",
    "cpu_ms_per_incident_steady",
    "cpu_ms_per_s_idle",
    "peak_rss_mb",
    "event_loop",
)
TRIAGE_MODES = (  # how fast triage decides, three ways: rate key, CPU key
    ("live, the burst", "triage_live_per_s", None),
    ("policy trial", "trial_per_s", "trial_triage_cpu_ms_per_decision"),
    ("replay, a fresh triage", "replay_per_s", "replay_triage_cpu_ms_per_decision"),
)


def per_service(r: dict[str, Any]) -> list[str]:
    """The per-process measures of one backend as a small table."""
    names = [*SERVICES, "all", "bench"]
    lines = [f"  {'per process':<28}" + "".join(f"{n[:12]:>13}" for n in names)]
    for key in PER_SERVICE:
        row: dict[str, Any] = r.get(key) or {}
        cells = [
            f"{row[n]:>13,.1f}" if isinstance(row.get(n), float) else f"{row.get(n, ''):>13}"
            for n in names
        ]
        lines.append(f"  {key:<28}" + "".join(cells))
    return lines


def triage_modes(r: dict[str, Any]) -> list[str]:
    """Live triage, a policy trial and a replay side by side: decisions/s as measured,
    CPU per decision, and what that CPU makes of one core (decisions per CPU-second: the
    rate with a core of its own, which a shared machine's measured rate is not)."""
    head = ("decisions/s", "CPU ms each", "per CPU-s")
    lines = [f"  {'triage decides':<28}" + "".join(f"{h:>13}" for h in head)]
    for label, rate, cpu in TRIAGE_MODES:
        spent = r.get(cpu) if cpu else (r.get("cpu_ms_per_incident_burst") or {}).get("triage")
        shown = f"{spent:>13,.2f}{1000 / spent:>13,.0f}" if spent else ""
        lines.append(f"  {label:<28}{r.get(rate, float('nan')):>13,.1f}{shown}")
    return lines


def table(results: dict[str, Any]) -> str:
    raw = results["raw"]
    lines = ["", "MASH benchmark (one run, this machine; ratios are what count)", ""]
    for name, value in raw.items():
        lines.append(f"  {name:<40} {value:>12,.1f}")
    floor = raw.get("raw_aiokafka_msgs_per_s", float("nan"))
    for backend in BACKENDS:
        if backend not in results:
            continue
        r = results[backend]
        lines += ["", f"  [{backend}]"]
        for name, value in r.items():
            if name not in PER_SERVICE and name != "burst_ratio_to_raw":
                lines.append(f"  {name:<40} {value:>12,.1f}")
        ratio = 100 * r["burst_end_to_end_per_s"] / floor
        lines.append(f"  {'burst_end_to_end_%_of_raw':<40} {ratio:>12,.2f}")
        lines += ["", *per_service(r), "", *triage_modes(r)]
    if "sqlite" in results and "sqlite-normal" in results:
        full, normal = results["sqlite"], results["sqlite-normal"]
        lines += ["", "  [sqlite: what fsyncing every commit costs]"]
        lines.append(f"  {'':<40} {'FULL':>12} {'NORMAL':>12}")
        for name in COMPARED:
            lines.append(f"  {name:<40} {full[name]:>12,.1f} {normal[name]:>12,.1f}")
    if notes := results.get("profiles"):
        lines += ["", "  py-spy flame graphs (a profiled run's figures are not the bench's):"]
        lines += [f"  {note}" for note in notes]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH") == "quick")
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help=f"some of {', '.join(BACKENDS)} (sqlite-normal: for the comparison only)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="write py-spy flame graphs of each service per phase into DIR",
    )
    parser.add_argument(
        "--profile-raw",
        action="store_true",
        help="with --profile: collapsed stacks (py-spy's raw format, .txt) instead of SVG",
    )
    parser.add_argument(
        "--loop",
        choices=("auto", "asyncio", "uvloop"),
        default="auto",
        help="uvicorn's event loop for the services (auto: uvloop, installed with uvicorn)",
    )
    args = parser.parse_args()
    options = Options(loop=args.loop, profile=args.profile, raw_profile=args.profile_raw)
    plan = Plan.of(args.quick)
    backends = [b for b in args.backends.split(",") if b]
    if unknown := set(backends) - BACKENDS.keys():
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    progress = Progress(2 + 5 * len(backends))
    machine = {"cores": os.cpu_count(), "load_average_at_start": os.getloadavg()[0]}
    results: dict[str, Any] = {"machine": machine, "quick": args.quick, "loop": args.loop}
    with (
        tempfile.TemporaryDirectory(prefix="mash-bench-") as tmp,
        testing.kafka_broker(Path(tmp)) as bootstrap,
        contextlib.ExitStack() as stack,
    ):
        progress.step("starting PostgreSQL")
        # durable, as SQLite is here: fsync and synchronous commits on
        durable = testing.postgres_server(throwaway=False)
        pg = stack.enter_context(durable) if "postgres" in backends else None
        progress.step("raw aiokafka")
        results["raw"] = asyncio.run(raw_aiokafka(bootstrap, plan.raw))
        progress.advance()
        progress.step("kafka-tools")
        size = int(results["raw"]["raw_message_bytes"])
        results["raw"] |= kafka_tools(bootstrap, Path(tmp), plan.tools, size)
        progress.advance()
        for index, backend in enumerate(backends):
            url = pg if backend == "postgres" else None
            results[backend] = asyncio.run(
                backend_run(backend, index, bootstrap, Path(tmp), url, plan, progress, options)
            )
            floor = results["raw"]["raw_aiokafka_msgs_per_s"]
            results[backend]["burst_ratio_to_raw"] = (
                results[backend]["burst_end_to_end_per_s"] / floor
            )
    progress.close()
    if options.profile is not None:
        results["profiles"] = options.notes
    print(table(results))
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        main()
