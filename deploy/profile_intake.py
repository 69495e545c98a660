"""Intake's request path measured in process: requests/s and CPU per request.

    .venv/bin/python deploy/profile_intake.py [--requests 3000] [--concurrency 64]
    .venv/bin/py-spy record -o intake.svg -- .venv/bin/python deploy/profile_intake.py

Why in process: `make bench` runs the whole hub on two shared cores, so intake's own cost
per request drowns in the consumers', the broker's and the load generator's. This builds
intake's real app (`intake.app.create_app`: every middleware, the auth dependency, the
problem handlers, the OpenTelemetry instrumentation, metrics, the audit dependency and the
group commit) on a fresh SQLite file (migrated as intake migrates it, every commit
fsynced as configured) and calls it as an ASGI app, `--concurrency` reports at a time.

What it leaves out, and why that is honest for the request path: there is no Kafka. Only
the storage is started (`Platform.start_storage`), not the lifespan: no producer, no
outbox relay, no consumers. A report's outbox rows are still written in its transaction
(the 202 means committed, as in production); they are simply not published afterwards,
which in production is the relay's work, off the request path. There is no HTTP server
either: requests enter as ASGI messages built by this script (as uvicorn would hand them
over after parsing), so the figures are the app's, not uvicorn's or a client's.

It prints requests/s, the process's CPU per request (`time.process_time`: every thread,
so the commit thread's fsync calls count too), request latency p50/p99 inside the
process, and the status codes seen (all 202 expected).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import intake.app
import intake.config
from mash_tools import testing


def body(n: int, now: datetime) -> bytes:
    """A valid incident report, a distinct reference and distinct people each."""
    reported = (now - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    report = {
        "control_room_ref": f"HC-PROF-{n:07d}",
        "force": "hampshire",
        "area": "southampton",
        "reported_at": reported,
        "abuse_types": ["physical", "coercive_control"],
        "relationship": "ex_partner",
        "victim": {
            "person_id": f"N{n:07d}",
            "given_name": "Alex",
            "family_name": "Profile",
            "date_of_birth": "1990-04-01",
        },
        "suspect": {
            "person_id": f"S{n:07d}",
            "given_name": "Sam",
            "family_name": "Profile",
            "date_of_birth": "1988-02-02",
        },
        "children": [],
        "dash": {
            "checklist": "safelives-dash-ric-24",
            "answers": {"q1": True, "q2": True, "q3": False},
            "completed_by": "PC 1234",
        },
    }
    return json.dumps(report).encode()


async def post(app: Any, path: str, payload: bytes, token: str) -> int:
    """One POST through the ASGI app; its status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8001"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8001),
        "state": {},
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await asyncio.Event().wait()  # a client that stays: never a disconnect
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def main(requests: int, concurrency: int, warmup: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="profile-intake-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'intake.db'}"
        settings = intake.config.Settings(database_url=url, hub=testing.hub_settings("127.0.0.1:1"))
        app = intake.app.create_app(settings)
        platform = app.state.platform
        await platform.start_storage()  # storage only: see the module's docstring
        token = testing.token("incidents:write", subject="profile")
        now = datetime.now(UTC)
        payloads = [body(n, now) for n in range(warmup + requests)]
        statuses: Counter[int] = Counter()
        latencies: list[float] = []
        queue = iter(payloads)

        async def worker() -> None:
            for payload in queue:
                started = time.perf_counter()
                statuses[await post(app, "/v1/incidents", payload, token)] += 1
                latencies.append(time.perf_counter() - started)

        try:
            for payload in payloads[:warmup]:  # imports, caches, the first statements
                await post(app, "/v1/incidents", payload, token)
            payloads = payloads[warmup:]
            queue = iter(payloads)
            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        finally:
            await platform.stop()
        latencies.sort()
        return {
            "requests": requests,
            "concurrency": concurrency,
            "requests_per_s": round(requests / wall, 1),
            "cpu_ms_per_request": round(cpu * 1000 / requests, 3),
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
            "statuses": dict(statuses),
        }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=100)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.requests, args.concurrency, args.warmup))))
