"""`mash run`: the broker, the trace UI and the services on loopback, stopped together.

Starts `deploy/kafka.sh up` and Zipkin (`deploy/zipkin.sh up`), waits until the topics
exist, starts each service with uvicorn (exporting its spans to Zipkin), starts
Prometheus when it is installed, waits for every `/readyz`, prints where everything is,
and on Ctrl-C or SIGTERM stops every process it started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from mash_tools.keys import signing_key
from shared import kafka_security, registry
from shared.auth import mint_sign_in
from shared.config import ROOT, HubSettings
from shared.topics import AGENCIES

SERVICES = registry.SERVICES
"""Every service `mash run` starts, in order: the registry's (shared.registry)."""


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    # its last lines of output, shown when it fails (even when its output is not echoed)
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=40))

    def last_words(self) -> str:
        """The tail of its output, indented, for an error message."""
        return "".join(f"    {line}" for line in self.tail)


def service_port(name: str, default: int | None = None) -> int:
    """A service's port in this run: `<NAME>_PORT`, else the registry's default."""
    fallback = registry.service(name).port if default is None else default
    return int(os.environ.get(f"{name.upper()}_PORT", fallback))


def service_url(name: str) -> str:
    """A service's base URL on loopback in this run."""
    return registry.service(name).url_in(os.environ)


def uvicorn_argv(name: str, port: int, workers: int = 1) -> list[str]:
    """The command that runs a service on loopback, as `mash run` runs it."""
    argv = [
        str(Path(sys.executable).parent / "uvicorn"),
        f"{name}.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        # nothing proxies a service on loopback: X-Forwarded-For/-Proto from any local
        # client would otherwise set the client address and scheme (uvicorn trusts
        # 127.0.0.1 by default), and with them the console's per-client limits
        "--no-proxy-headers",
    ]
    return [*argv, "--workers", str(workers)] if workers > 1 else argv


def service_credentials(name: str) -> dict[str, str]:
    """The environment that makes a service connect to Kafka as its own principal
    (contract section 8), from this checkout's key material."""
    try:
        creds = kafka_security.credentials(name, HubSettings(kafka_username="", kafka_password=""))
    except KeyError as exc:
        raise RuntimeError(f"{exc.args[0]}: run `make setup`") from exc
    return {"MASH_KAFKA_USERNAME": creds.username, "MASH_KAFKA_PASSWORD": creds.password}


async def _pipe(child: Child, stream: asyncio.StreamReader | None, quiet: bool) -> None:
    if stream is None:
        return
    while line := await stream.readline():
        text = line.decode(errors="replace")
        child.tail.append(text)
        if not quiet:
            sys.stdout.write(f"{child.name:>12} | {text}")
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
    child = Child(name, process)
    asyncio.get_running_loop().create_task(_pipe(child, process.stdout, quiet))
    return child


async def _wait_ready(url: str, children: list[Child], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            for child in children:
                if child.process.returncode is not None:
                    raise RuntimeError(
                        f"{child.name} exited with {child.process.returncode}:\n"
                        + child.last_words()
                    )
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
    # every file the stack writes (databases, traces, broker data, logs) is the owner's only
    os.umask(0o077)
    platform = HubSettings()
    env = {**os.environ, "MASH_HOME": str(ROOT), "PYTHONUNBUFFERED": "1"}
    for caller in SERVICES:
        for callee in caller.calls:
            # e.g. the console calls the services where this run puts them
            env.setdefault(f"{caller.settings_prefix}{callee.upper()}_URL", service_url(callee))
    children: list[Child] = []
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        zipkin = await start_zipkin(env, children)
        env.setdefault("MASH_ZIPKIN_ENDPOINT", f"{zipkin}/api/v2/spans")
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
                if children[-1].process.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError("kafka did not start; see .data/kafka/app-logs/server.log")
                await asyncio.sleep(0.3)
        for svc in SERVICES:
            argv = uvicorn_argv(svc.name, service_port(svc.name))
            service_env = {**env, **service_credentials(svc.principal)}
            children.append(await _start(svc.name, argv, service_env, quiet=False))
        waits = [_wait_ready(f"{service_url(s.name)}/readyz", children, 120) for s in SERVICES]
        await asyncio.gather(*waits, _wait_ready(f"{zipkin}/health", children, 120))
        prometheus = await start_prometheus(env, children, platform.data_dir)
        _print_table(platform.kafka_bootstrap, zipkin, prometheus)
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


def zipkin_port() -> int:
    return int(os.environ.get("ZIPKIN_PORT", 9411))


def prometheus_port() -> int:
    return int(os.environ.get("PROMETHEUS_PORT", 9090))


async def start_zipkin(env: dict[str, str], children: list[Child]) -> str:
    """Zipkin, the trace UI (in memory), on loopback; its base URL. Stopped last."""
    port = zipkin_port()
    zipkin_env = {**env, "ZIPKIN_PORT": str(port)}
    print(f"starting Zipkin on 127.0.0.1:{port} ...", flush=True)
    argv = ["bash", str(ROOT / "deploy" / "zipkin.sh"), "up"]
    children.append(await _start("zipkin", argv, zipkin_env, quiet=True))
    return f"http://127.0.0.1:{port}"


def prometheus_config(target: Path) -> Path:
    """deploy/prometheus/prometheus.yml with the ports of this run and its running services."""
    source = ROOT / "deploy" / "prometheus"
    config = yaml.safe_load((source / "prometheus.yml").read_text())
    config["rule_files"] = [str(source / name) for name in config.get("rule_files", [])]
    ports = {s.name: service_port(s.name) for s in SERVICES}
    for job in config["scrape_configs"]:
        statics = [c for c in job["static_configs"] if c["labels"]["service"] in ports]
        for static in statics:
            static["targets"] = [f"127.0.0.1:{ports[static['labels']['service']]}"]
        job["static_configs"] = statics
    target.mkdir(parents=True, exist_ok=True)
    path = target / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


async def start_prometheus(env: dict[str, str], children: list[Child], data: Path) -> str | None:
    """Prometheus, with the hub's scrape configuration and alerting rules, when installed."""
    if shutil.which("prometheus") is None:
        return None
    port = prometheus_port()
    directory = Path(env.get("PROMETHEUS_DATA_DIR", data / "prometheus"))
    config = prometheus_config(directory)
    prometheus_env = {
        **env,
        "PROMETHEUS_PORT": str(port),
        "PROMETHEUS_DATA_DIR": str(directory),
    }
    argv = ["bash", str(ROOT / "deploy" / "prometheus.sh"), "up", str(config)]
    children.append(await _start("prometheus", argv, prometheus_env, quiet=False))
    url = f"http://127.0.0.1:{port}"
    await _wait_ready(f"{url}/-/ready", children, 60)
    return url


def _print_table(bootstrap: str, zipkin: str, prometheus: str | None) -> None:
    rows = [("kafka", bootstrap, "")] + [
        (s.name, service_url(s.name), f"{service_url(s.name)}/docs") for s in SERVICES
    ]
    rows.append(("zipkin", f"{zipkin}/zipkin/", "traces: search by tag mash.incident_id=<id>"))
    if prometheus:
        rows.append(("prometheus", prometheus, f"{prometheus}/alerts"))
    intake, console, records = (service_url(n) for n in ("intake", "console", "records"))
    print("\nThe hub is running (Ctrl-C stops everything):\n")
    print(f"  {'service':<12} {'address':<30} API docs")
    for name, address, docs in rows:
        print(f"  {name:<12} {address:<30} {docs}")
    print(
        f"""
Traces: open {zipkin}/zipkin/ and search for the tag mash.incident_id=<incident_id>;
GET /v1/incidents/<incident_id> and every intake answer's traceresponse header name the trace id.
Kafka is SASL_SSL: a partner's settings come from
  .venv/bin/mash kafka-credentials idva --format json     (or --format properties)

Console: sign in as a demo coordinator (this link works once, within 10 minutes):
  {_demo_link(console)}
  another: .venv/bin/mash console-link --sub NAME --scope "marac:read dashboard:read ..."

Try it:
  TOKEN=$(.venv/bin/mash token --sub control-room --scope "incidents:write incidents:read")
  curl -s -X POST {intake}/v1/incidents -H "Authorization: Bearer $TOKEN" \\
    -H 'content-type: application/json' -d @deploy/example-incident.json

Records of processing (who collected, consulted, disclosed a person's data; DPA 2018 s.62):
  DPO=$(.venv/bin/mash token --sub dpo --scope records:read)
  curl -s -X POST {records}/v1/records/search -H "Authorization: Bearer $DPO" \\
    -H 'content-type: application/json' -d '{{"person_id": "<the person id>"}}'
  curl -s {records}/v1/records/verify -H "Authorization: Bearer $DPO"
""",
        flush=True,
    )


DEMO_SCOPES = (
    "marac:read",
    "dashboard:read",
    "perpetrators:read",
    "records:read",
    *(f"referrals:{verb}:{agency}" for agency in AGENCIES for verb in ("read", "ack")),
)


def _demo_link(console: str) -> str:
    """A one-time sign-in link for a demo coordinator who may see every page."""
    settings = HubSettings()
    token = mint_sign_in(
        signing_key(settings),
        "demo-coordinator",
        DEMO_SCOPES,
        secrets.token_urlsafe(16),
        settings.jwt_issuer,
    )
    return f"{console}/sign-in/link?token={token}"


def run(args: argparse.Namespace) -> int:
    return asyncio.run(serve(args.no_broker))
