"""`mash run` as a newcomer meets it: the broker and four services up, an incident flowing
from intake to triage in one trace, and Ctrl-C leaving nothing behind."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from shared.config import ROOT
from shared.testing import TEST_PSEUDONYM_KEY, TEST_SECRET, free_port

pytestmark = pytest.mark.e2e
SERVICES = ("intake", "triage", "notify", "marac", "console")
# the example incident's personal data, whole: names, birth dates, phone, postcode, address
PERSONAL = (
    "Alex",
    "Example",
    "1990-04-01",
    "2016-05-10",
    "07700 900123",
    "SO14 7DU",
    "1 Example Street",
)


@dataclass
class Stack:
    ports: dict[str, int]
    kafka: int
    tmp: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str]


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`mash run` with its own broker, on free ports, state in a temporary directory."""
    tmp = tmp_path_factory.mktemp("stack")
    ports = {name: free_port() for name in SERVICES}
    kafka = free_port()
    env = {
        **os.environ,
        "MASH_ENV": "test",
        "MASH_JWT_SECRET": TEST_SECRET,
        "MASH_PSEUDONYM_KEY": TEST_PSEUDONYM_KEY,
        "MASH_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka}",
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "KAFKA_DATA_DIR": str(tmp / "kafka"),
        "MASH_TRACES_FILE": str(tmp / "traces/{service}.jsonl"),
    }
    for name, port in ports.items():
        env[f"{name.upper()}_PORT"] = str(port)
        env[f"{name.upper()}_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp / name}.db"
    log = (tmp / "run.log").open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "mash"), "run"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    info = Stack(ports, kafka, tmp, process, env)
    try:
        deadline = time.monotonic() + 120  # the promise: ready within two minutes
        while not all(_ready(p) for p in ports.values()):
            assert process.poll() is None, (tmp / "run.log").read_text()
            assert time.monotonic() < deadline, (tmp / "run.log").read_text()
            time.sleep(0.5)
        yield info
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(90)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_table_and_the_curl_example_are_printed(stack: Stack) -> None:
    deadline = time.monotonic() + 10
    text = ""
    while time.monotonic() < deadline and "Try it" not in text:
        text = (stack.tmp / "run.log").read_text()
        time.sleep(0.2)
    assert "The hub is running" in text
    assert "mash token" in text
    for port in stack.ports.values():
        assert f"http://127.0.0.1:{port}/docs" in text


def test_the_console_link_printed_in_the_table_signs_in_once(stack: Stack) -> None:
    deadline = time.monotonic() + 10
    text = ""
    while time.monotonic() < deadline and "Try it" not in text:
        text = (stack.tmp / "run.log").read_text()
        time.sleep(0.2)
    console = f"http://127.0.0.1:{stack.ports['console']}"
    found = re.search(re.escape(console) + r"/sign-in/link\?token=\S+", text)
    assert found, text
    first = httpx.get(found.group(0))
    assert first.status_code == 303
    home = httpx.get(f"{console}/", cookies=first.cookies)
    assert home.status_code == 200
    assert "demo-coordinator" in home.text
    assert httpx.get(found.group(0)).status_code == 403


def test_mash_console_link_prints_one_working_link(stack: Stack) -> None:
    printed = subprocess.run(
        [
            str(Path(sys.executable).parent / "mash"),
            "console-link",
            "--sub",
            "idva-lead",
            "--scope",
            "referrals:read:idva referrals:ack:idva",
        ],
        env=stack.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert printed.count("\n") == 1
    link = printed.strip()
    assert link.startswith(f"http://127.0.0.1:{stack.ports['console']}/sign-in/link?token=")
    first = httpx.get(link)
    assert first.status_code == 303
    answer = httpx.get(
        f"http://127.0.0.1:{stack.ports['console']}/referrals?agency=idva", cookies=first.cookies
    )
    assert answer.status_code == 200
    assert "Referrals to the IDVA service" in answer.text
    assert httpx.get(link).status_code == 403


def test_an_incident_posted_with_a_minted_token_reaches_triage_in_one_trace(
    stack: Stack,
) -> None:
    ports = stack.ports
    token = subprocess.run(
        [
            str(Path(sys.executable).parent / "mash"),
            "token",
            "--sub",
            "control-room",
            "--scope",
            "incidents:write incidents:read",
        ],
        env=stack.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert token.count(".") == 2
    assert "\n" not in token
    body = json.loads((ROOT / "deploy" / "example-incident.json").read_text())
    body["control_room_ref"] = f"E2E-{time.time_ns()}"
    answer = httpx.post(
        f"http://127.0.0.1:{ports['intake']}/v1/incidents",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 202, answer.text
    incident_id = answer.json()["incident_id"]

    def consumed(service: str) -> float:
        text = httpx.get(f"http://127.0.0.1:{ports[service]}/metrics").text
        return sum(
            float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith("mash_events_consumed_total{")
            and 'type="mash.incident.reported"' in line
        )

    deadline = time.monotonic() + 60
    while consumed("triage") < 1:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    produced = httpx.get(f"http://127.0.0.1:{ports['intake']}/metrics").text
    assert 'mash_events_produced_total{topic="mash.incidents.v1"}' in produced

    traces = stack.tmp / "traces"

    def trace_ids(service: str, match: str) -> set[str]:
        path = traces / f"{service}.jsonl"
        if not path.exists():
            return set()
        spans = [json.loads(line) for line in path.read_text().splitlines()]
        return {s["trace_id"] for s in spans if match in json.dumps(s)}

    deadline = time.monotonic() + 30  # spans are exported in batches
    while True:
        intake_traces = trace_ids("intake", "/v1/incidents")
        triage_traces = trace_ids("triage", "mash.incident.reported")
        if intake_traces & triage_traces or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert intake_traces & triage_traces
    for service in SERVICES:  # no personal data in any span's name or attributes
        path = traces / f"{service}.jsonl"
        for line in path.read_text().splitlines() if path.exists() else []:
            span = json.loads(line)
            words = json.dumps([span["name"], span["attributes"]])
            assert not [p for p in PERSONAL if p in words], span["name"]
    assert incident_id


def test_ctrl_c_stops_every_process_and_leaves_nothing_listening(
    stack: Stack,
) -> None:
    process = stack.process
    process.send_signal(signal.SIGINT)
    assert process.wait(90) == 0
    ports = [*stack.ports.values(), stack.kafka]
    assert not [port for port in ports if listening(port)]
    log = (stack.tmp / "run.log").read_text()
    assert "stopped." in log
    assert not [p for p in PERSONAL if p in log]  # no personal data in any service's log
