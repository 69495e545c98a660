"""`mash run` as a newcomer meets it: the broker, Zipkin and every service of the registry
up (records included), an incident flowing through every service that consumes it or its
decision in one trace that Zipkin finds by its incident id, an idle stack making no
spans, and Ctrl-C leaving nothing behind."""

from __future__ import annotations

import asyncio
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
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.helpers import create_ssl_context

from mash_tools.testing import TEST_PSEUDONYM_KEY, free_port, key_environment
from shared import registry
from shared.config import ROOT
from shared.topics import DECISIONS, INCIDENTS, SUMMARIES
from tests.e2e.console_kit import redeem_link

pytestmark = pytest.mark.e2e
SERVICES = registry.NAMES
INCIDENT_CONSUMERS = tuple(
    s.name for s in registry.SERVICES if {INCIDENTS, DECISIONS, SUMMARIES} & set(s.consumes)
)
"""The services that consume the incident, its decision or the decision's summary: each
takes part in its trace."""
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
SUBSCRIBE_IDVA = "subscriptions:write:idva"
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
    for svc in registry.SERVICES:
        env[f"{svc.settings_prefix}PORT"] = str(ports[svc.name])
        env[f"{svc.settings_prefix}DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp / svc.name}.db"
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
    for name in SERVICES:  # each service's row: its name, its address and its API docs
        port = stack.ports[name]
        row = f"  {name:<12} {f'http://127.0.0.1:{port}':<30} http://127.0.0.1:{port}/docs"
        assert row in text, name
    # how a data protection officer answers a subject access request (contract 12)
    assert f"http://127.0.0.1:{stack.ports['records']}/v1/records/search" in text
    assert "records:read" in text
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
    first = redeem_link(found.group(0))
    assert first.status_code == 303
    home = httpx.get(f"{console}/", cookies=first.cookies)
    assert home.status_code == 200
    assert "demo-coordinator" in home.text
    assert redeem_link(found.group(0)).status_code == 403


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
    first = redeem_link(link)
    assert first.status_code == 303
    answer = httpx.get(
        f"http://127.0.0.1:{stack.ports['console']}/referrals?agency=idva", cookies=first.cookies
    )
    assert answer.status_code == 200
    assert "Referrals to the IDVA service" in answer.text
    assert redeem_link(link).status_code == 403


def test_a_records_link_forwards_its_own_token_to_records(stack: Stack) -> None:
    """`records:read` is a scope no console may pass on (issue 20): the link carries the
    person's own token, and the console's records page forwards it to records."""
    mash = str(Path(sys.executable).parent / "mash")
    link = subprocess.run(
        [mash, "console-link", "--sub", "dpo", "--scope", "records:read"],
        env=stack.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    console = f"http://127.0.0.1:{stack.ports['console']}"
    first = redeem_link(link)
    assert first.status_code == 303
    with httpx.Client(base_url=console, cookies=first.cookies) as client:
        form = client.get("/records")
        assert form.status_code == 200
        token = re.findall(r'name="csrf_token" value="([^"]+)"', form.text)[0]
        found = client.post("/records", data={"csrf_token": token, "person_id": "N0E2E0"})
    assert found.status_code == 200, found.text
    assert "No service has recorded processing this person" in found.text


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433:8001/x",
        "http://0x7f000001:8001/x",
        "http://127.1:8001/x",
        "http://[::ffff:127.0.0.1]:8001/x",
    ],
)
def test_disguised_loopback_webhooks_are_422_under_make_run(stack: Stack, url: str) -> None:
    """Contract section 5: under `make run` a webhook may be loopback only as the literal
    `127.0.0.1`; these spellings of it are refused, by notify as `make run` starts it."""
    answer = httpx.put(
        f"http://127.0.0.1:{stack.ports['notify']}/v1/subscriptions/school",
        json={"webhook_url": url, "secret": "e2e-webhook-secret"},
        headers={"Authorization": f"Bearer {_token(stack, 'subscriptions:write:school')}"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"] == ["body", "webhook_url"]


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
    everyone = {f"mash-{name}" for name in ("intake", *INCIDENT_CONSUMERS)}
    while not (everyone <= services(trace) and delivered(trace)) and time.monotonic() < deadline:
        time.sleep(1)
        trace = the_trace()
    assert everyone <= services(trace)
    assert services(trace) <= {f"mash-{name}" for name in SERVICES}
    assert {span["traceId"] for span in trace} == {trace_id}
    tagged = {
        (span["localEndpoint"]["serviceName"], span["kind"])
        for span in trace
        if span.get("tags", {}).get("mash.incident_id") == incident_id
    }
    assert ("mash-intake", "SERVER") in tagged  # the request
    assert ("mash-intake", "PRODUCER") in tagged  # its publish
    for name in INCIDENT_CONSUMERS:
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


def _token_as(stack: Stack, sub: str, scope: str) -> str:
    mash = str(Path(sys.executable).parent / "mash")
    return subprocess.run(
        [mash, "token", "--sub", sub, "--scope", scope],
        env=stack.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _credentials(stack: Stack, principal: str) -> dict[str, Any]:
    mash = str(Path(sys.executable).parent / "mash")
    printed = subprocess.run(
        [mash, "kafka-credentials", principal, "--format", "json"],
        env=stack.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(printed))


async def _consume_as_agency(
    stack: Stack, agency: str, group: str, wanted: set[str]
) -> dict[str, bytes]:
    """An agency reads its topic with a consumer group of its own and commits what it read;
    the values it read, by referral id."""
    options = _credentials(stack, agency)
    cafile = options.pop("ssl_cafile")
    consumer = AIOKafkaConsumer(
        f"mash.referrals.{agency}.v1",
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        ssl_context=create_ssl_context(cafile=cafile),
        **options,
    )
    await consumer.start()
    try:
        seen: dict[str, bytes] = {}
        deadline = time.monotonic() + 90
        while not wanted <= set(seen):
            assert time.monotonic() < deadline, (wanted, seen)
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                seen.update((json.loads(r.value)["referral_id"], r.value) for r in records)
        await consumer.commit()
        return seen
    finally:
        await consumer.stop()


def _until(what: str, check: Any, seconds: float = 120) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(1)
    return found


def _all_pages(url: str, token: str, body: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every page of a list, following `Link: <...>; rel="next"` (contract section 2)."""
    found: list[dict[str, Any]] = []
    headers = {"Authorization": f"Bearer {token}"}
    next_url: str | None = url
    while next_url:
        answer = (
            httpx.post(next_url, json=body, headers=headers)
            if body is not None
            else httpx.get(next_url, headers=headers)
        )
        assert answer.status_code == 200, answer.text
        found += answer.json()
        link = answer.links.get("next", {}).get("url")
        next_url = str(httpx.URL(next_url).join(link)) if link else None
    return found


def test_the_records_show_who_processed_one_victims_data_and_nothing_of_it(
    stack: Stack, receiver: str
) -> None:
    """Contract section 12, through the whole hub: a report, a later DASH, a re-grade,
    referrals to three agencies, a webhook delivery, an agency consuming its topic, an API
    read by another user, a MARAC case, a repeat incident; then the records service."""
    ports = stack.ports

    def at(service: str, path: str) -> str:
        return f"http://127.0.0.1:{ports[service]}{path}"

    tag = "".join(chr(ord("a") + int(d)) for d in str(time.time_ns())[-9:])
    person_id, given, family, born = (
        f"E2E{tag.upper()}",
        f"Robin{tag}",
        f"Ledger{tag}",
        "1985-03-03",
    )
    suspect = {
        "given_name": f"Casey{tag}",
        "family_name": f"Ledger{tag}",
        "date_of_birth": "1984-01-01",
    }
    body = json.loads((ROOT / "deploy" / "example-incident.json").read_text())
    body.pop("dash")  # assessed later: a second DASH alters the decision
    body["victim"].update(
        person_id=person_id, given_name=given, family_name=family, date_of_birth=born
    )
    body["suspect"] = suspect
    body["children"][0].update(family_name=f"Ledger{tag}")
    body["control_room_ref"] = f"E2E-REC-{tag}"
    personal = (
        given,
        family,
        born,
        person_id,
        suspect["given_name"],
        "2016-05-10",
        "07700 900123",
        "SO14 7DU",
        "1 Example Street",
    )

    sub = httpx.put(
        at("notify", "/v1/subscriptions/idva"),
        json={"webhook_url": receiver, "secret": "e2e-webhook-secret"},
        headers={"Authorization": f"Bearer {_token_as(stack, 'idva-admin', SUBSCRIBE_IDVA)}"},
    )
    assert sub.status_code in (200, 201, 204), sub.text
    control = {"Authorization": f"Bearer {_token_as(stack, 'control-room-e2e', 'incidents:write')}"}
    first = httpx.post(at("intake", "/v1/incidents"), json=body, headers=control)
    assert first.status_code == 202, first.text
    incident_id = first.json()["incident_id"]
    triage = {"Authorization": f"Bearer {_token_as(stack, 'e2e', 'triage:read')}"}

    def decision() -> dict[str, Any] | None:
        answer = httpx.get(at("triage", f"/v1/decisions/{incident_id}"), headers=triage)
        return answer.json() if answer.status_code == 200 else None

    _until("a decision", decision)
    dash = {
        "checklist": "safelives-dash-ric-24",
        "answers": {f"q{i}": True for i in range(1, 16)},
        "completed_by": "PC 1234",
    }
    later = httpx.post(
        at("intake", f"/v1/incidents/{incident_id}/risk-assessments"), json=dash, headers=control
    )
    assert later.status_code == 202, later.text
    _until("the DASH decided", lambda: (decision() or {}).get("risk_level") == "high")
    regrade = httpx.post(
        at("triage", f"/v1/incidents/{incident_id}/regrade"),
        json={"risk_level": "high", "reason": "e2e re-grade", "by": "CRU"},
        headers={"Authorization": f"Bearer {_token_as(stack, 'cru-e2e', 'triage:regrade')}"},
    )
    assert regrade.status_code == 202, regrade.text
    agencies = {r["agency"] for r in _until("the decision", decision)["referrals"]}
    assert {"idva", "childrens-social-care", "safeguarding-team", "school"} <= agencies

    reader = {
        "Authorization": f"Bearer {_token_as(stack, 'idva-reader-e2e', 'referrals:read:idva')}"
    }

    def idva_referrals() -> list[dict[str, Any]]:
        answer = httpx.get(
            at("notify", "/v1/referrals"),
            params={"agency": "idva", "incident_id": incident_id},
            headers=reader,
        )
        assert answer.status_code == 200, answer.text
        return list(answer.json())

    referral_ids = {r["referral_id"] for r in _until("an IDVA referral", idva_referrals)}
    group = f"idva.e2e-{tag}"
    sent = asyncio.run(_consume_as_agency(stack, "idva", group, referral_ids))
    consumed_at = datetime.now(UTC)  # before the repeat incident and its referrals

    repeat = dict(body, control_room_ref=f"E2E-REC-{tag}-2")
    second = httpx.post(at("intake", "/v1/incidents"), json=repeat, headers=control)
    assert second.status_code == 202, second.text
    repeat_id = second.json()["incident_id"]

    dpo = _token_as(stack, "dpo-e2e", "records:read")
    by_id = {"person_id": person_id}
    by_name = {"given_name": given, "family_name": family, "date_of_birth": born}

    def entries() -> list[dict[str, Any]]:
        return _all_pages(at("records", "/v1/records/search?limit=500"), dpo, by_id)

    def has(found: list[dict[str, Any]], **fields: Any) -> bool:
        return any(all(e.get(k) == v for k, v in fields.items()) for e in found)

    expected: list[dict[str, Any]] = [
        {
            "service": "intake",
            "operation": "collected",
            "resource": "incident",
            "sub": "control-room-e2e",
            "via": "api",
        },
        {
            "service": "intake",
            "operation": "collected",
            "resource": "risk_assessment",
            "sub": "control-room-e2e",
        },
        {"service": "triage", "operation": "altered", "sub": "cru-e2e", "via": "api"},
        {"service": "triage", "operation": "altered", "via": "topic"},
        {"service": "triage", "operation": "combined"},
        {"service": "triage", "operation": "consulted", "sub": "e2e", "via": "api"},
        {"service": "notify", "operation": "disclosed", "via": "topic", "recipient": "idva"},
        {
            "service": "notify",
            "operation": "disclosed",
            "via": "topic",
            "recipient": "childrens-social-care",
        },
        {
            "service": "notify",
            "operation": "disclosed",
            "via": "topic",
            "recipient": "safeguarding-team",
        },
        {
            "service": "notify",
            "operation": "disclosed",
            "via": "webhook",
            "recipient": "idva",
            "route": "127.0.0.1",
        },
        {"service": "notify", "operation": "consulted", "via": "api", "sub": "idva-reader-e2e"},
        {
            "service": "records",
            "operation": "consulted",
            "via": "topic",
            "sub": group,
            "recipient": "idva",
        },
        {"service": "marac", "operation": "combined", "resource": "marac_case"},
    ]

    def complete() -> list[dict[str, Any]] | None:
        found = entries()
        return found if all(has(found, **e) for e in expected) else None

    found = _until("every operation in the records", complete, seconds=150)
    # the right ids: the report and its DASH name the incident, the disclosures its referrals
    collected = [e for e in found if e["operation"] == "collected"]
    assert all(incident_id in e["ids"] or repeat_id in e["ids"] for e in collected)
    combined = [e for e in found if e["service"] == "triage" and e["operation"] == "combined"]
    assert any({incident_id, repeat_id} <= set(e["ids"]) for e in combined)
    consumed = [e for e in found if e["sub"] == group]
    assert referral_ids <= {i for e in consumed for i in e["ids"]}
    disclosed = {i for e in found if e["operation"] == "disclosed" for i in e["ids"]}
    assert referral_ids <= disclosed
    times = [datetime.fromisoformat(e["at"]) for e in found]
    assert times == sorted(times)  # oldest first
    # the same person found by names and date of birth: the same entries
    named = _all_pages(at("records", "/v1/records/search?limit=500"), dpo, by_name)
    assert {e["entry_id"] for e in found} <= {e["entry_id"] for e in named}
    # no personal data anywhere in the entries, read whole
    whole = json.dumps(found + named)
    assert not [p for p in personal if p in whole]
    verified = httpx.get(
        at("records", "/v1/records/verify"), headers={"Authorization": f"Bearer {dpo}"}
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["ok"] is True, verified.text
    # the chronology a death review asks for (contract 12): her events, oldest first, and
    # what the IDVA service had been sent, exactly as its topic carried it
    panel = _token_as(stack, "review-panel-e2e", "reviews:read")
    events = _all_pages(at("records", "/v1/chronology/search?limit=3"), panel, by_name)
    kinds = {(e["agency"], e["event"]) for e in events}
    for agency in ("idva", "childrens-social-care", "safeguarding-team"):
        assert (agency, "referral disclosed") in kinds, kinds
    assert {("police", "incident reported"), ("mash", "decision"), ("marac", "listed")} <= kinds
    assert ("idva", "referral consulted") in kinds
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    assert not [p for p in personal if p in json.dumps(events)]
    wanted = [
        sent[i] for i in sorted(referral_ids, key=lambda i: json.loads(sent[i])["created_at"])
    ]
    by_then = httpx.post(
        at("records", "/v1/chronology/search"),
        params={"agency": "idva", "as_of": consumed_at.isoformat()},
        json=by_id,
        headers={"Authorization": f"Bearer {panel}"},
    )
    assert by_then.status_code == 200, by_then.text
    assert by_then.content == b"[" + b",".join(wanted) + b"]"
    before = httpx.post(
        at("records", "/v1/chronology/search"),
        params={"agency": "idva", "as_of": min(e["at"] for e in events)},
        json=by_id,
        headers={"Authorization": f"Bearer {panel}"},
    )
    assert before.json() == []


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
