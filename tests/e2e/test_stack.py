"""`mash run` as a newcomer meets it: the broker, Zipkin and four services up, an incident
flowing through all four in one trace that Zipkin finds by its incident id, an idle
stack making no spans, and Ctrl-C leaving nothing behind."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from mash_tools.testing import TEST_PSEUDONYM_KEY, free_port, key_environment
from shared.config import ROOT

pytestmark = pytest.mark.e2e
SERVICES = ("intake", "triage", "notify", "marac", "perpetrators", "console")
# the example incident's personal data, whole: names, birth dates, phone, postcode, address
PERSONAL = (
    "Alex",
    "Example",
    "1990-04-01",
    "2016-05-10",
    "07700 900123",
    "SO14 7DU",
    "1 Example Street",
    "N123456",
)
WEBHOOK_KEY = "s3cret-e2e-api-key"  # in the webhook URL's query string: never in a span


@dataclass
class Stack:
    ports: dict[str, int]
    kafka: int
    zipkin: int
    prometheus: int
    tmp: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str]

    def zipkin_api(self, path: str, **params: Any) -> Any:
        answer = httpx.get(f"http://127.0.0.1:{self.zipkin}/api/v2/{path}", params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def spans_in_zipkin(self) -> int:
        traces = self.zipkin_api("traces", lookback=3_600_000, limit=100_000)
        return sum(len(trace) for trace in traces)


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`mash run` with its own broker, on free ports, state in a temporary directory."""
    tmp = tmp_path_factory.mktemp("stack")
    ports = {name: free_port() for name in SERVICES}
    kafka = free_port()
    zipkin, prometheus = free_port(), free_port()
    env = {
        **os.environ,
        "MASH_ENV": "test",
        **key_environment(),
        "MASH_PSEUDONYM_KEY": TEST_PSEUDONYM_KEY,
        "MASH_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka}",
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "KAFKA_DATA_DIR": str(tmp / "kafka"),
        "ZIPKIN_PORT": str(zipkin),
        "PROMETHEUS_PORT": str(prometheus),
        "PROMETHEUS_DATA_DIR": str(tmp / "prometheus"),
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
    info = Stack(ports, kafka, zipkin, prometheus, tmp, process, env)
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
    assert f"http://127.0.0.1:{stack.zipkin}/zipkin/" in text
    assert "mash.incident_id" in text
    if shutil.which("prometheus"):
        assert f"http://127.0.0.1:{stack.prometheus}" in text


def test_zipkin_and_prometheus_run_on_loopback(stack: Stack) -> None:
    assert httpx.get(f"http://127.0.0.1:{stack.zipkin}/health").status_code == 200
    assert httpx.get(f"http://127.0.0.1:{stack.zipkin}/zipkin/").status_code == 200
    if shutil.which("prometheus"):  # started when installed (the ops tests install it)

        def healthy() -> set[str]:
            answer = httpx.get(f"http://127.0.0.1:{stack.prometheus}/api/v1/targets")
            targets = answer.json()["data"]["activeTargets"]
            return {t["labels"]["service"] for t in targets if t["health"] == "up"}

        deadline = time.monotonic() + 60  # the first scrape comes within an interval
        while healthy() != set(SERVICES) and time.monotonic() < deadline:
            time.sleep(1)
        assert healthy() == set(SERVICES)


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


def _token(stack: Stack, scope: str) -> str:
    return subprocess.run(
        [str(Path(sys.executable).parent / "mash"), "token", "--sub", "e2e", "--scope", scope],
        env=stack.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    """A partner's webhook receiver on loopback; its URL carries an API key as a query."""
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mash?api_key={WEBHOOK_KEY}"
    finally:
        server.shutdown()


def test_one_incident_is_one_trace_through_every_service_found_by_its_id(
    stack: Stack, receiver: str
) -> None:
    ports = stack.ports
    subscribed = httpx.put(
        f"http://127.0.0.1:{ports['notify']}/v1/subscriptions/victim-support",
        json={"webhook_url": receiver, "secret": "e2e-webhook-secret"},
        headers={"Authorization": f"Bearer {_token(stack, 'subscriptions:write:victim-support')}"},
    )
    assert subscribed.status_code in (200, 201, 204), subscribed.text
    token = _token(stack, "incidents:write incidents:read")
    body = json.loads((ROOT / "deploy" / "example-incident.json").read_text())
    body["control_room_ref"] = f"E2E-TRACE-{time.time_ns()}"
    answer = httpx.post(
        f"http://127.0.0.1:{ports['intake']}/v1/incidents",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 202, answer.text
    incident_id = answer.json()["incident_id"]
    match = re.fullmatch(
        r"00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}", answer.headers["traceresponse"]
    )
    assert match
    trace_id = match.group(1)
    status = httpx.get(
        f"http://127.0.0.1:{ports['intake']}/v1/incidents/{incident_id}",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert status["trace_id"] == trace_id

    def the_trace() -> list[dict[str, Any]]:
        found = stack.zipkin_api(
            "traces", annotationQuery=f"mash.incident_id={incident_id}", lookback=3_600_000
        )
        return next((t for t in found if t[0]["traceId"] == trace_id), [])

    def services(trace: list[dict[str, Any]]) -> set[str]:
        return {span["localEndpoint"]["serviceName"] for span in trace}

    def delivered(trace: list[dict[str, Any]]) -> bool:
        return any(span["name"] == "webhook deliver victim-support" for span in trace)

    deadline = time.monotonic() + 90  # spans reach Zipkin in batches, every few seconds
    trace = the_trace()
    everyone = {f"mash-{name}" for name in SERVICES}  # each consumes the incident or its decision
    while not (services(trace) == everyone and delivered(trace)) and time.monotonic() < deadline:
        time.sleep(1)
        trace = the_trace()
    assert services(trace) == everyone
    assert {span["traceId"] for span in trace} == {trace_id}
    tagged = {
        (span["localEndpoint"]["serviceName"], span["kind"])
        for span in trace
        if span.get("tags", {}).get("mash.incident_id") == incident_id
    }
    assert ("mash-intake", "SERVER") in tagged  # the request
    assert ("mash-intake", "PRODUCER") in tagged  # its publish
    for name in ("triage", "notify", "marac", "perpetrators", "console"):
        assert (f"mash-{name}", "CONSUMER") in tagged  # each consume
    assert delivered(trace)  # the webhook delivery, in the incident's trace

    for span in trace:  # no personal data and no URL query string in any span
        words = json.dumps([span["name"], span.get("tags", {})])
        assert not [p for p in PERSONAL if p in words], span["name"]
        assert WEBHOOK_KEY not in words
        for value in span.get("tags", {}).values():
            assert not re.search(r"(://|^/)[^\s]*\?", value), value


def test_an_incident_posted_with_a_minted_token_reaches_triage(
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
    assert answer.json()["status"] == "accepted"

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


def test_an_idle_stack_exports_no_spans(stack: Stack) -> None:
    """After the incident settles, 30 s of nothing to do (polls, relays, schedules) add no span."""
    before, settled_at = stack.spans_in_zipkin(), time.monotonic()
    deadline = time.monotonic() + 120
    while time.monotonic() - settled_at < 12:  # batches of earlier work have all landed
        assert time.monotonic() < deadline, "spans keep arriving"
        time.sleep(2)
        now = stack.spans_in_zipkin()
        if now != before:
            before, settled_at = now, time.monotonic()
    time.sleep(30)
    time.sleep(6)  # one more export interval, so a span made in the 30 s would have landed
    assert stack.spans_in_zipkin() == before


def test_ctrl_c_stops_every_process_and_leaves_nothing_listening(
    stack: Stack,
) -> None:
    process = stack.process
    process.send_signal(signal.SIGINT)
    assert process.wait(90) == 0
    ports = [*stack.ports.values(), stack.kafka, stack.zipkin, stack.prometheus]
    assert not [port for port in ports if listening(port)]
    log = (stack.tmp / "run.log").read_text()
    assert "stopped." in log
    assert not [p for p in PERSONAL if p in log]  # no personal data in any service's log
