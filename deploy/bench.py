"""`make bench`: how fast the hub accepts and moves incidents, on this machine.

Starts its own broker (as the tests do), runs intake and triage in-process on SQLite,
posts incidents concurrently, and reports acceptance throughput, request latency
percentiles and the latency from the intake request to triage's consume through Kafka.
Numbers vary with the machine and its load: compare runs on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

import intake.app
import intake.config
import triage.app
import triage.config
import triage.store
from mash_tools import testing
from shared.db import utc
from tests.builders import incident_body, settings_for


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def bench(bootstrap: str, workdir: Path, total: int, concurrency: int) -> dict[str, Any]:
    group = f"bench-{uuid.uuid4().hex[:6]}"
    intake_app = intake.app.create_app(
        settings_for(
            intake.config.Settings, bootstrap, f"sqlite+aiosqlite:///{workdir / 'intake.db'}", group
        )
    )
    triage_app = triage.app.create_app(
        settings_for(
            triage.config.Settings, bootstrap, f"sqlite+aiosqlite:///{workdir / 'triage.db'}", group
        )
    )
    headers = testing.bearer("incidents:write")
    latencies: list[float] = []
    sent_at: dict[str, float] = {}
    async with testing.running(triage_app), testing.running(intake_app) as client:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(total):
            queue.put_nowait(i)

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                body = incident_body(f"BENCH-{group}-{i}")
                # 500 victims, two incidents each; distinct synthetic names
                body["victim"].update(person_id=f"B{i % 500}", family_name=f"Bench{i % 500}")
                started, wall = time.perf_counter(), time.time()
                answer = await client.post("/v1/incidents", json=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                assert answer.status_code == 202, answer.text
                sent_at[answer.json()["incident_id"]] = wall

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        accepted_in = time.perf_counter() - began

        platform = triage_app.state.platform
        received = triage.store.platform.inbox
        while time.perf_counter() - began < 600:
            async with platform.sessions() as session:
                done = (await session.execute(select(func.count()).select_from(received))).scalar()
            if done >= total:
                break
            await asyncio.sleep(0.2)
        through_in = time.perf_counter() - began
        async with platform.sessions() as session:
            seen = {
                subject: utc(at).timestamp()
                for subject, at in (
                    await session.execute(select(received.c.subject, received.c.processed_at))
                ).all()
            }
    flow = [seen[i] - sent_at[i] for i in sent_at if i in seen]
    return {
        "incidents": total,
        "concurrency": concurrency,
        "accepted_per_s": total / accepted_in,
        "request_p50_ms": 1000 * statistics.median(latencies),
        "request_p99_ms": 1000 * percentile(latencies, 99),
        "end_to_end_per_s": len(flow) / through_in,
        "intake_to_triage_p50_ms": 1000 * statistics.median(flow),
        "intake_to_triage_p99_ms": 1000 * percentile(flow, 99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, testing.kafka_broker(Path(tmp)) as bootstrap:
        results = asyncio.run(bench(bootstrap, Path(tmp), args.incidents, args.concurrency))
    print("\nMASH benchmark (intake + triage in-process, SQLite, real Kafka on loopback)")
    for name, value in results.items():
        print(
            f"  {name:<26} {value:>10.1f}"
            if isinstance(value, float)
            else f"  {name:<26} {value:>10}"
        )


if __name__ == "__main__":
    main()
