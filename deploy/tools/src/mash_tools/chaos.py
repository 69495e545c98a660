"""`mash chaos`: a fault campaign against `mash cluster`, then a table of what was lost.

It starts the cluster (`mash_tools.cluster`) and a loopback webhook receiver subscribed for
every agency, posts a bounded stream of synthetic incidents (the demo's generator) while
it SIGKILLs random service replicas (uvicorn starts them again), SIGKILLs a Kafka node
and starts it again, and takes the receiver down and up. Then it waits for the hub to
settle and checks, only through the contract (the APIs, the topics read as `ops`, the
receiver's log), and prints:

  incidents accepted / lost (unknown to intake) / undecided (no decision from triage);
  referrals missing (a final decision's referral not in notify's ledger), duplicated in
  the ledger, missing from their agency's topic; webhook deliveries repeated after a 2xx,
  those a notify crash explains apart from the rest; MARAC meetings over capacity and
  victims listed twice on one meeting; dead letters by cause.

It exits 1 on any loss, duplicate or violation. Reported, not failed: dead letters (poison
is not loss) and a webhook delivery repeated after a 2xx when a notify replica was killed
between the two (contract section 5: a crash after the receiver's 2xx and before notify
records it means one more delivery, which receivers drop by its `ce-id`). Every process
it starts is stopped at the end, also on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from mash_tools import demo
from mash_tools.cluster import NODES, Cluster
from mash_tools.keys import signing_key
from mash_tools.testing import TopicReader, free_port, headers_of
from shared import registry
from shared.auth import mint
from shared.config import HubSettings
from shared.topics import AGENCIES, DEADLETTER, referrals_topic

VICTIMS = registry.NAMES
"""The services whose replicas it kills: every one (uvicorn starts each again)."""
CRASH_GRACE = 2.0
"""Seconds a delivery may reach the receiver after the notify replica that sent it died
(the request was already on the wire)."""


def webhook_repeats(
    deliveries: Sequence[tuple[str, int, float]], crashes: Sequence[float]
) -> tuple[int, int]:
    """Deliveries repeated after a 2xx: (explained, unexplained).

    `deliveries` are (ce-id, status, when) as the receiver saw them, `crashes` when a
    notify replica was killed (both on the monotonic clock). A repeat is explained when a
    notify crash happened between the earlier 2xx (less `CRASH_GRACE`) and the repeat:
    the crash may have come before notify recorded the delivery. Any other repeat is a
    defect."""
    answered: dict[str, list[float]] = defaultdict(list)
    for ce_id, status, at in deliveries:
        if 200 <= status < 300:
            answered[ce_id].append(at)
    explained = unexplained = 0
    for times in answered.values():
        times.sort()
        for earlier, later in itertools.pairwise(times):
            if any(earlier - CRASH_GRACE <= crash <= later for crash in crashes):
                explained += 1
            else:
                unexplained += 1
    return explained, unexplained


class Receiver:
    """A loopback webhook receiver that answers 2xx and logs each delivery's `ce-id`."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.log: list[tuple[str, int, float]] = []  # (ce-id, status, monotonic time)
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                with receiver._lock:
                    receiver.log.append((self.headers.get("ce-id", ""), 204, time.monotonic()))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def repeats(self, crashes: Sequence[float]) -> tuple[int, int]:
        """Deliveries repeated after a 2xx: (explained by a notify crash, unexplained)."""
        with self._lock:
            return webhook_repeats(list(self.log), crashes)


@dataclass
class Table:
    accepted: int = 0
    lost: int = 0
    undecided: int = 0
    referrals: int = 0
    referrals_missing: int = 0
    referrals_duplicated: int = 0
    referrals_missing_on_topic: int = 0
    webhook_deliveries: int = 0
    webhook_duplicates: int = 0
    """Repeated after a 2xx with no notify crash between: a failure."""
    webhook_repeats_after_crash: int = 0
    """Repeated after a 2xx with a notify crash between: allowed, reported."""
    over_capacity: int = 0
    double_listed: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    faults: list[str] = field(default_factory=list)
    notify_crashes: list[float] = field(default_factory=list)
    """When a notify replica was killed (monotonic clock)."""

    @property
    def failures(self) -> int:
        return (
            self.lost
            + self.undecided
            + self.referrals_missing
            + self.referrals_duplicated
            + self.referrals_missing_on_topic
            + self.webhook_duplicates
            + self.over_capacity
            + self.double_listed
        )

    def print(self) -> None:
        rows = [
            ("incidents accepted", self.accepted),
            ("incidents lost", self.lost),
            ("incidents undecided", self.undecided),
            ("referrals in the ledger", self.referrals),
            ("referrals missing", self.referrals_missing),
            ("referrals duplicated in the ledger", self.referrals_duplicated),
            ("referrals missing from their topic", self.referrals_missing_on_topic),
            ("webhook deliveries (2xx)", self.webhook_deliveries),
            ("webhook deliveries repeated after a 2xx", self.webhook_duplicates),
            ("webhook repeats a notify crash explains", self.webhook_repeats_after_crash),
            ("MARAC meetings over capacity", self.over_capacity),
            ("MARAC victims listed twice on a meeting", self.double_listed),
        ]
        rows += [(f"dead letters: {cause}", n) for cause, n in sorted(self.dead_letters.items())]
        if not self.dead_letters:
            rows.append(("dead letters", 0))
        print("\nFaults: " + "; ".join(self.faults))
        print(f"\n  {'check':<44} {'count':>7}")
        for name, value in rows:
            print(f"  {name:<44} {value:>7}")
        verdict = "PASS: nothing lost" if not self.failures else f"FAIL: {self.failures}"
        print(f"\n{verdict}\n", flush=True)


def post(hub: demo.Hub, plan: demo.Planned, attempts: int = 20) -> bool:
    """Post one incident, again after a killed replica dropped the connection (intake
    answers a repeated control-room reference with the same incident)."""
    for _ in range(attempts):
        try:
            answer = hub.post("intake", "/v1/incidents", plan.body)
        except httpx.HTTPError:
            time.sleep(0.5)
            continue
        if answer.status_code in (200, 202):
            plan.incident_id = answer.json()["incident_id"]
            return True
        if answer.status_code >= 500:
            time.sleep(0.5)
            continue
        return False
    return False


async def faults(
    cluster: Cluster,
    receiver: Receiver,
    table: Table,
    rng: random.Random,
    done: asyncio.Event,
    kills: int,
) -> None:
    """SIGKILL replicas now and then; once, a Kafka node and the receiver."""
    broker_done = receiver_done = False
    count = 0
    order = rng.sample(VICTIMS, len(VICTIMS))  # every service gets its turn
    while not (done.is_set() and broker_done and receiver_done and count >= kills):
        await asyncio.sleep(rng.uniform(1.5, 3.5))
        if count < kills:
            name = order[count % len(order)]
            pids = cluster.replica_pids(name)
            if pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(rng.choice(pids), signal.SIGKILL)
                if name == "notify":
                    table.notify_crashes.append(time.monotonic())
                count += 1
                table.faults.append(f"SIGKILL {name}")
        if count >= kills // 3 and not broker_done:
            node = rng.randint(1, NODES)
            await cluster.stop_broker(node, signal.SIGKILL)
            table.faults.append(f"SIGKILL kafka-{node}")
            await asyncio.sleep(5)
            await cluster.start_broker(node)
            await cluster.wait_broker(node)
            table.faults.append(f"kafka-{node} back")
            broker_done = True
        if count >= kills // 2 and not receiver_done:
            receiver.down()
            table.faults.append("receiver down")
            await asyncio.sleep(5)
            receiver.up()
            table.faults.append("receiver up")
            receiver_done = True


async def campaign(args: argparse.Namespace) -> int:
    cluster = Cluster(quiet=True)
    receiver = Receiver(free_port())
    table = Table()
    rng = random.Random(args.seed)
    readers: list[TopicReader] = []
    try:
        print("starting the cluster ...", flush=True)
        await cluster.start()
        receiver.up()
        with httpx.Client(timeout=10) as client:
            hub = demo.Hub(client)
            await asyncio.to_thread(subscribe, hub, receiver.port)
            topics = [DEADLETTER, *(referrals_topic(a) for a in AGENCIES)]
            for topic in topics:
                reader = TopicReader(cluster.bootstrap, topic)
                await reader.__aenter__()
                readers.append(reader)
            now = datetime.now(UTC)
            await asyncio.to_thread(demo.ensure_meetings, hub, now.date())
            plans = demo.synthetic_day(args.seed, args.incidents, now)
            for plan in plans:  # the stream is the reports alone (no later DASH, no re-grade)
                plan.late_dash, plan.regrade = None, False
            done = asyncio.Event()
            chaos = asyncio.create_task(faults(cluster, receiver, table, rng, done, args.kills))
            for n, plan in enumerate(plans, start=1):
                if await asyncio.to_thread(post, hub, plan):
                    table.accepted += 1
                demo.progress("Posting incidents", n, len(plans))
                await asyncio.sleep(args.pause)
            done.set()
            await chaos
            print("faults over; waiting for the hub to settle ...", flush=True)
            await asyncio.to_thread(cluster_settles, hub, plans, args.timeout)
            ours = {p.incident_id for p in plans if p.incident_id}
            await drain(readers, await asyncio.to_thread(ledger_ids, hub, ours))
            await asyncio.to_thread(check, hub, plans, readers, receiver, table)
        table.print()
        return 1 if table.failures else 0
    except (RuntimeError, TimeoutError, OSError, httpx.HTTPError) as exc:
        print(f"mash chaos: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        for reader in readers:
            with contextlib.suppress(Exception):
                await reader.__aexit__(None, None, None)
        receiver.down()
        await cluster.stop()


def ledger_ids(hub: demo.Hub, incidents: set[str]) -> set[str]:
    """The ids of these incidents' referrals in notify's ledger now."""
    found: set[str] = set()
    for agency in AGENCIES:
        listed = hub.listing("notify", "/v1/referrals", agency=agency)
        found |= {str(r["referral_id"]) for r in listed if r["incident_id"] in incidents}
    return found


def referral_ids(readers: list[TopicReader]) -> set[str]:
    found: set[str] = set()
    for reader in readers:
        if reader.topic != DEADLETTER:
            for record in reader.records:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    found.add(str(json.loads(record.value)["referral_id"]))
    return found


async def drain(
    readers: list[TopicReader], wanted: set[str], quiet_polls: int = 10, seconds: float = 90
) -> None:
    """Read the topics until every `wanted` referral is seen and nothing new arrives for
    `quiet_polls` polls in a row (or `seconds` pass: what is missing then is counted)."""
    deadline = time.monotonic() + seconds
    seen, quiet = -1, 0
    while time.monotonic() < deadline:
        total = 0
        for reader in readers:
            total += len(await reader.poll())
        quiet = quiet + 1 if total == seen else 0
        seen = total
        if quiet >= quiet_polls and wanted <= referral_ids(readers):
            return


def subscribe(hub: demo.Hub, port: int) -> None:
    """Every agency's webhook to the receiver."""
    settings = HubSettings()
    token = mint(
        signing_key(settings),
        "mash-chaos",
        [f"subscriptions:write:{agency}" for agency in AGENCIES],
        timedelta(hours=2),
        settings.jwt_issuer,
    )
    for agency in AGENCIES:
        answer = hub.client.put(
            f"{hub.urls['notify']}/v1/subscriptions/{agency}",
            json={"webhook_url": f"http://127.0.0.1:{port}/{agency}", "secret": "chaos-secret"},
            headers={"Authorization": f"Bearer {token}"},
        )
        answer.raise_for_status()


def cluster_settles(hub: demo.Hub, plans: list[demo.Planned], timeout: float) -> None:
    """Wait (up to `timeout`) until every accepted incident is decided and every final
    decision's referrals are in the ledger; what is still missing then is counted."""
    outcome = demo.Outcome()
    deadline = time.monotonic() + timeout

    def settled() -> bool:
        try:
            if not demo.collect_decisions(hub, [p for p in plans if p.incident_id], outcome):
                return False
            demo.collect_referrals(hub, outcome)
        except httpx.HTTPError:
            return False
        return not _missing_referrals(outcome)

    demo.wait(settled, deadline, interval=1)


def _missing_referrals(outcome: demo.Outcome) -> list[tuple[str, str, str]]:
    ledger = {
        (r["incident_id"], agency, r.get("subject", "victim"))
        for agency, found in outcome.referrals.items()
        for r in found
    }
    wanted = {
        (incident_id, r["agency"], r.get("subject", "victim"))
        for incident_id, decision in outcome.decisions.items()
        for r in decision["referrals"]
    }
    return sorted(wanted - ledger)


def check(
    hub: demo.Hub,
    plans: list[demo.Planned],
    readers: list[TopicReader],
    receiver: Receiver,
    table: Table,
) -> None:
    accepted = [p for p in plans if p.incident_id]
    outcome = demo.Outcome()
    for plan in accepted:
        if hub.get("intake", f"/v1/incidents/{plan.incident_id}").status_code == 404:
            table.lost += 1
        answer = hub.get("triage", f"/v1/decisions/{plan.incident_id}")
        if answer.status_code == 200:
            outcome.decisions[plan.incident_id] = answer.json()
        else:
            table.undecided += 1
    demo.collect_referrals(hub, outcome)
    keys = Counter(
        (r["incident_id"], agency, r.get("subject", "victim"))
        for agency, found in outcome.referrals.items()
        for r in found
    )
    table.referrals = sum(keys.values())
    table.referrals_duplicated = sum(n - 1 for n in keys.values() if n > 1)
    table.referrals_missing = len(_missing_referrals(outcome))
    for reader in readers:
        if reader.topic == DEADLETTER:
            for record in reader.records:
                error = headers_of(record).get("mash_dlq_error", "unknown")
                table.dead_letters[error.split(":")[0][:40]] += 1
    on_topics = referral_ids(readers)
    ledger_ids = {str(r["referral_id"]) for found in outcome.referrals.values() for r in found}
    table.referrals_missing_on_topic = len(ledger_ids - on_topics)
    table.webhook_deliveries = len(receiver.log)
    explained, unexplained = receiver.repeats(table.notify_crashes)
    table.webhook_repeats_after_crash, table.webhook_duplicates = explained, unexplained
    demo.collect_lists(hub, outcome, datetime.now(UTC).date())
    for meetings in outcome.meetings.values():
        for meeting in meetings:
            if len(meeting["cases"]) > meeting["capacity"]:
                table.over_capacity += 1
            people = Counter(
                (
                    c["victim"]["given_name"],
                    c["victim"]["family_name"],
                    c["victim"]["date_of_birth"],
                )
                for c in meeting["cases"]
            )
            table.double_listed += sum(n - 1 for n in people.values() if n > 1)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(campaign(args))
