"""`mash run`: the broker and the services on loopback, stopped together.

Starts `deploy/kafka.sh up`, waits until the topics exist, starts each service with
uvicorn, waits for every `/readyz`, prints where everything is, and on Ctrl-C or
SIGTERM stops every process it started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from shared.auth import mint_sign_in
from shared.config import ROOT, PlatformSettings
from shared.topics import AGENCIES

SERVICES = (
    ("intake", 8001),
    ("triage", 8002),
    ("notify", 8003),
    ("marac", 8004),
    ("console", 8005),
)


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process


def service_port(name: str, default: int) -> int:
    return int(os.environ.get(f"{name.upper()}_PORT", default))


async def _pipe(name: str, stream: asyncio.StreamReader | None, quiet: bool) -> None:
    if stream is None:
        return
    while line := await stream.readline():
        if not quiet:
            sys.stdout.write(f"{name:>7} | {line.decode(errors='replace')}")
            sys.stdout.flush()


async def _start(name: str, argv: list[str], env: dict[str, str], quiet: bool) -> Child:
    process = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    asyncio.get_running_loop().create_task(_pipe(name, process.stdout, quiet))
    return Child(name, process)


async def _wait_ready(url: str, children: list[Child], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            for child in children:
                if child.process.returncode is not None:
                    raise RuntimeError(f"{child.name} exited with {child.process.returncode}")
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {timeout:.0f}s")


def _signal_group(child: Child, sig: signal.Signals) -> None:
    # each child leads its own process group: the broker's JVM is in the script's group
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.process.pid, sig)


async def _stop(children: list[Child]) -> None:
    """Services first, then the broker; whatever will not stop in time is killed."""
    for child in reversed(children):
        _signal_group(child, signal.SIGTERM)
        try:
            await asyncio.wait_for(child.process.wait(), 30)
        except TimeoutError:
            _signal_group(child, signal.SIGKILL)
            await asyncio.wait_for(child.process.wait(), 10)


async def serve(no_broker: bool, quiet_broker: bool = True) -> int:
    platform = PlatformSettings()
    env = {**os.environ, "MASH_HOME": str(ROOT), "PYTHONUNBUFFERED": "1"}
    env.setdefault("MASH_TRACES_FILE", str(platform.data_dir / "traces" / "{service}.jsonl"))
    for upstream, port in (("notify", 8003), ("marac", 8004), ("perpetrators", 8006)):
        # the console calls the services where this run puts them
        url = f"http://127.0.0.1:{service_port(upstream, port)}"
        env.setdefault(f"CONSOLE_{upstream.upper()}_URL", url)
    bin_dir = Path(sys.executable).parent
    children: list[Child] = []
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        if not no_broker:
            kafka_port = platform.kafka_bootstrap.rpartition(":")[2]
            kafka_env = {**env, "KAFKA_PORT": kafka_port, "PYTHON": sys.executable}
            ready_file = Path(env.get("KAFKA_DATA_DIR", platform.data_dir / "kafka")) / "ready"
            ready_file.unlink(missing_ok=True)
            print(f"starting Apache Kafka on {platform.kafka_bootstrap} ...", flush=True)
            children.append(
                await _start(
                    "kafka",
                    ["bash", str(ROOT / "deploy" / "kafka.sh"), "up"],
                    kafka_env,
                    quiet_broker,
                )
            )
            deadline = time.monotonic() + 180
            while not ready_file.exists():
                if children[0].process.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError("kafka did not start; see .data/kafka/app-logs/server.log")
                await asyncio.sleep(0.3)
        for name, default in SERVICES:
            argv = [
                str(bin_dir / "uvicorn"),
                f"{name}.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(service_port(name, default)),
                "--no-access-log",
                "--log-level",
                "warning",
            ]
            children.append(await _start(name, argv, env, quiet=False))
        waits = [
            _wait_ready(f"http://127.0.0.1:{service_port(n, d)}/readyz", children, 120)
            for n, d in SERVICES
        ]
        await asyncio.gather(*waits)
        _print_table(platform.kafka_bootstrap)
        watchers = [asyncio.ensure_future(c.process.wait()) for c in children]
        stop_wait = asyncio.ensure_future(stopping.wait())
        done, _ = await asyncio.wait([stop_wait, *watchers], return_when=asyncio.FIRST_COMPLETED)
        for w in [stop_wait, *watchers]:
            w.cancel()
        if stop_wait not in done:
            dead = [c.name for c in children if c.process.returncode is not None]
            print(f"\n{', '.join(dead)} stopped unexpectedly; stopping everything", flush=True)
            return 1
        print("\nstopping ...", flush=True)
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"mash run: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        await _stop(children)
        print("stopped.", flush=True)


def _print_table(bootstrap: str) -> None:
    rows = [("kafka", bootstrap, "")] + [
        (n, f"http://127.0.0.1:{service_port(n, d)}", f"http://127.0.0.1:{service_port(n, d)}/docs")
        for n, d in SERVICES
    ]
    intake = f"http://127.0.0.1:{service_port('intake', 8001)}"
    console = f"http://127.0.0.1:{service_port('console', 8005)}"
    print("\nThe hub is running (Ctrl-C stops everything):\n")
    print(f"  {'service':<8} {'address':<24} API docs")
    for name, address, docs in rows:
        print(f"  {name:<8} {address:<24} {docs}")
    print(
        f"""
Console: sign in as a demo coordinator (this link works once, within 10 minutes):
  {_demo_link(console)}
  another: .venv/bin/mash console-link --sub NAME --scope "marac:read dashboard:read ..."

Traces: .data/traces/<service>.jsonl (or set OTEL_EXPORTER_OTLP_ENDPOINT)

Try it:
  TOKEN=$(.venv/bin/mash token --sub control-room --scope "incidents:write incidents:read")
  curl -s -X POST {intake}/v1/incidents -H "Authorization: Bearer $TOKEN" \\
    -H 'content-type: application/json' -d @deploy/example-incident.json
""",
        flush=True,
    )


DEMO_SCOPES = (
    "marac:read",
    "dashboard:read",
    "perpetrators:read",
    *(f"referrals:{verb}:{agency}" for agency in AGENCIES for verb in ("read", "ack")),
)


def _demo_link(console: str) -> str:
    """A one-time sign-in link for a demo coordinator who may see every page."""
    settings = PlatformSettings()
    token = mint_sign_in(
        settings.jwt_secret,
        "demo-coordinator",
        DEMO_SCOPES,
        secrets.token_urlsafe(16),
        settings.jwt_issuer,
    )
    return f"{console}/sign-in/link?token={token}"


def run(args: argparse.Namespace) -> int:
    return asyncio.run(serve(args.no_broker))
