"""`mash demo` against a stack started as `make run` starts it: the synthetic day goes
through intake, triage, notify and marac, what the demo reports obeys domain.md, and the
records service answers a subject access request for one of its victims."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from mash_tools.testing import TEST_PSEUDONYM_KEY, bearer, free_port, key_environment
from shared import registry
from shared.config import ROOT
from shared.identity import age_on

pytestmark = pytest.mark.e2e
SERVICES = registry.NAMES
RESEARCH_DAYS = 0
"""Marac's research period on this stack: 0, so that the demo's meeting is held today."""
MASH = str(Path(sys.executable).parent / "mash")


@dataclass
class Hub:
    env: dict[str, str]
    tmp: Path
    ports: dict[str, int]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Hub]:
    """`mash run --no-broker` on the test broker, free ports, every database in tmp."""
    tmp = tmp_path_factory.mktemp("demo")
    run_id = uuid.uuid4().hex[:8]
    ports = {name: free_port() for name in SERVICES}
    env = {
        **os.environ,
        "MASH_ENV": "test",
        **key_environment(),
        "MASH_PSEUDONYM_KEY": TEST_PSEUDONYM_KEY,
        "MASH_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "MASH_DATA_DIR": str(tmp / "data"),
        "MASH_TRACES_FILE": str(tmp / "traces/{service}.jsonl"),
        "ZIPKIN_PORT": str(free_port()),
        "PROMETHEUS_PORT": str(free_port()),
        # cases may go on a meeting today, so the demo can close it (contract 6)
        "MARAC_RESEARCH_DAYS": str(RESEARCH_DAYS),
    }
    for svc in registry.SERVICES:
        prefix = svc.settings_prefix
        env[f"{prefix}PORT"] = str(ports[svc.name])
        env[f"{prefix}DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp / svc.name}.db"
        # the broker is shared with other tests: start at the end, in groups of our own
        env[f"{prefix}CONSUMER_GROUP"] = f"{svc.consumer_group}-e2e-demo-{run_id}"
        env[f"{prefix}CONSUMER_OFFSET_RESET"] = "latest"
    log = (tmp / "run.log").open("w")
    process = subprocess.Popen(
        [MASH, "run", "--no-broker"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 120
        while not all(_ready(port) for port in ports.values()):
            assert process.poll() is None, (tmp / "run.log").read_text()
            assert time.monotonic() < deadline, (tmp / "run.log").read_text()
            time.sleep(0.5)
        yield Hub(env, tmp, ports)
    finally:
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


def demo(hub: Hub, name: str, *args: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    """Run `mash demo` as a newcomer would; its output and its JSON summary."""
    summary = hub.tmp / f"{name}.json"
    done = subprocess.run(
        [MASH, "demo", *args],
        env={**hub.env, "MASH_DEMO_SUMMARY": str(summary)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{_tail(hub)}"
    return done, json.loads(summary.read_text())


def _tail(hub: Hub) -> str:
    return "\n".join((hub.tmp / "run.log").read_text().splitlines()[-40:])


def all_meetings(summary: Any) -> list[dict[str, Any]]:
    return [m for meetings in summary["meetings"].values() for m in meetings]


def check_lists(summary: Any) -> None:
    """The MARAC rules every list must obey, whoever else's cases are on it."""
    for meeting in all_meetings(summary):
        cases = meeting["cases"]
        assert meeting["listed"] == len(cases) <= meeting["capacity"]
        victims = [tuple(c["victim"].values()) for c in cases]
        assert len(victims) == len(set(victims)), "a victim twice on one meeting"
        order = [(c["children_count"] == 0, -c["priority"]) for c in cases]
        assert order == sorted(order), "not in agenda order"
        assert all(c["meeting_id"] == meeting["meeting_id"] for c in cases)


def test_the_demo_shows_the_whole_hub_working(hub: Hub) -> None:
    done, summary = demo(hub, "first", "--seed", "7", "--incidents", "30", "--timeout", "240")
    incidents = {i["incident_id"]: i for i in summary["incidents"]}
    decisions = summary["decisions"]
    assert summary["ok"] is True
    assert len(incidents) == 30
    assert set(decisions) == set(incidents), "every incident decided"

    levels = Counter(d["risk_level"] for d in decisions.values())
    assert all(levels[level] for level in ("high", "medium", "standard")), levels
    by_story = {i["story"]: decisions[i["incident_id"]] for i in summary["incidents"]}
    assert by_story["re-grade"]["risk_basis"] == "regrade"
    assert by_story["re-grade"]["risk_level"] == "high"
    assert by_story["late DASH"]["dash_score"] is not None
    serial = [decisions[i] for i, x in incidents.items() if x["story"] == "serial"]
    assert any("serial_perpetrator" in d["flags"] for d in serial)
    repeats = [decisions[i] for i, x in incidents.items() if x["story"] == "repeat"]
    assert any("repeat_victim" in d["flags"] for d in repeats)
    assert any("potential_escalation" in d["flags"] for d in repeats)

    listed: dict[str, dict[str, Any]] = {}
    for meeting in all_meetings(summary):
        for case in meeting["cases"]:
            for incident_id in case["incident_ids"]:
                assert incident_id not in listed, "an incident in two cases"
                listed[incident_id] = meeting
    waiting = {i for cs in summary["awaiting"].values() for c in cs for i in c["incident_ids"]}
    for incident_id, decision in decisions.items():
        if decision["risk_level"] == "high":
            assert decision["marac"]["eligible"], decision
        if decision["marac"]["eligible"]:
            assert incident_id in listed or incident_id in waiting, "eligible but not listed"
        else:
            assert incident_id not in listed
        if incident_id in listed:
            meeting = listed[incident_id]
            assert meeting["area"] == incidents[incident_id]["area"]
            decided = datetime.fromisoformat(decision["decided_at"]).astimezone(UTC).date()
            earliest = decided + timedelta(days=RESEARCH_DAYS)
            assert date.fromisoformat(meeting["date"]) >= earliest
    assert listed
    check_lists(summary)

    for agency in ("childrens-social-care", "school", "idva", "safeguarding-team"):
        assert summary["referrals"][agency] > 0, agency
    assert summary["referrals"]["victim-support"] > 0

    out = done.stdout
    assert "Posting incidents" in out
    assert "30/30" in out
    assert "Decisions by risk level" in out
    assert "Referrals per agency" in out
    assert "MARAC southampton" in out
    assert "MARAC portsmouth" in out
    assert "next list:" in out

    # the serial suspect (two victims, a child present at the second incident) is a
    # priority perpetrator of southampton, shown with the parts of the score
    serial_suspects = [
        p
        for p in summary["perpetrators"]["southampton"]
        if p["priority"] and p["victims_count"] >= 2 and p["children_involved"]
    ]
    assert serial_suspects, summary["perpetrators"]
    assert "Priority perpetrators southampton" in out
    assert "Priority perpetrators portsmouth" in out
    assert "score = R x (F + G + 2 x (V - 1))" in out

    # a subject access request for one of the day's victims (contract 12, issue 19): who
    # collected, combined, disclosed and consulted their data, in time order; verify ok
    records = summary["records"]
    entries = records["entries"]
    assert records["missing"] == []
    assert {"collected", "combined", "disclosed", "consulted"} <= {e["operation"] for e in entries}
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    assert {e["service"] for e in entries} >= {"intake", "triage", "notify"}
    disclosed = [e for e in entries if e["operation"] == "disclosed"]
    assert all(e["recipient"] for e in disclosed)
    # an agency's system read her referral from its topic: logged from its group's offsets
    read = [e for e in entries if e["operation"] == "consulted" and e["via"] == "topic"]
    assert read
    assert all(e["sub"].endswith(".demo-inbox") and e["recipient"] for e in read)
    ours = set(incidents)
    assert ours & {i for e in entries for i in e["ids"]}
    assert records["verify"]["ok"] is True
    words = json.dumps(entries)
    assert not [v for v in records["question"].values() if v in words], "personal data logged"
    assert "Records of processing: a subject access request" in out
    # a policy trial of a lower DASH threshold (contract 4): every incident of the day
    # decided again, nothing published; those scoring 12 or 13 would now be high risk
    trial = summary["trial"]
    assert trial["status"] == "done"
    assert trial["summary"]["incidents"] >= len(incidents)
    assert trial["total"] == trial["done"] == trial["summary"]["incidents"]
    moved = trial["summary"]["risk_level"]
    assert set(moved) <= {"medium->high", "standard->high"}, moved
    assert "Policy trial: high risk (and visible high risk) from a DASH score of 12" in out
    assert "/v1/records/verify: ok" in out

    # partner agencies refer (contract 6): health a victim the police brought, who joins
    # her case; housing a new one; each also reaches the IDVA service; research, actions
    # (one completed by its agency) and the quarter's return
    meeting = summary["meeting"]
    assert [r["agency"] for r in meeting["referrals"]] == ["health", "housing"]
    assert all(r["idva"] for r in meeting["referrals"])
    assert meeting["referrals"][0]["case_id"] != meeting["referrals"][1]["case_id"]
    case = meeting["case"]
    assert {s["kind"] for s in case["sources"]} == {"incident", "marac_referral"}
    assert set(case["incident_ids"]) & ours
    assert {r["agency"] for r in case["research"]} == {"health", "housing"}
    assert sorted((a["agency"], a["status"]) for a in case["actions"]) == [
        ("health", "open"),
        ("housing", "done"),
    ]
    assert meeting["returned"].startswith("area,")
    assert "MARAC referrals from partner agencies (southampton)" in out
    assert "SafeLives MARAC return, southampton" in out
    check_closed_meeting(hub, meeting, out)


def check_closed_meeting(hub: Hub, meeting: Any, out: str) -> None:
    """The research period is 0 here: the demo arranged southampton's meeting today, the
    housing officer's new case was listed on it, and the demo closed it (every case
    discussed); its row in the printed return is counted from its cases, by hand."""
    today = datetime.now(ZoneInfo("Europe/London")).date()
    assert meeting["next_meeting"] is None
    [held] = meeting["closed"]
    assert held["date"] == today.isoformat()
    cases = held["cases"]
    assert sorted(held["discussed"]) == sorted(c["case_id"] for c in cases)
    health, housing = meeting["referrals"]
    assert housing["case_id"] in held["discussed"]
    for case in cases:
        found = httpx.get(
            f"http://127.0.0.1:{hub.ports['marac']}/v1/cases/{case['case_id']}",
            headers=bearer("marac:read"),
            timeout=10,
        )
        assert found.status_code == 200, found.text
        assert found.json()["status"] == "closed"
    assert f"meeting {today.isoformat()} closed: {len(cases)} cases discussed" in out

    # what the demo referred: health's victim female and white, housing's female, asian,
    # disabled; a case opened by a police incident is the police's, with no equality
    referred = {health["case_id"]: "health", housing["case_id"]: "housing"}
    given: dict[str, dict[str, Any]] = {
        health["case_id"]: {"sex": "female", "ethnicity": "white"},
        housing["case_id"]: {"sex": "female", "ethnicity": "asian", "disability": True},
    }
    by = Counter("police" if c["incident_ids"] else referred[c["case_id"]] for c in cases)
    equality = [given.get(c["case_id"], {}) for c in cases]
    ethnicity = [e.get("ethnicity") for e in equality]
    expected = {
        "area": "southampton",
        "meeting_date": today.isoformat(),
        "cases_discussed": len(cases),
        "repeat_cases": sum(c["repeat"] for c in cases),
        "children_in_households": sum(c["children_count"] for c in cases),
        "referrals_police": by["police"],
        "referrals_health": by["health"],
        "referrals_housing": by["housing"],
        "referrals_idva": 0,
        "victims_female": sum(e.get("sex") == "female" for e in equality),
        "victims_sex_not_known": sum("sex" not in e for e in equality),
        "victims_ethnic_minority": ethnicity.count("asian"),
        "victims_white": ethnicity.count("white"),
        "victims_ethnicity_not_known": ethnicity.count(None),
        "victims_lgbt": 0,
        "victims_lgbt_not_known": len(cases),
        "victims_disabled": sum(e.get("disability") is True for e in equality),
        "victims_disability_not_known": sum("disability" not in e for e in equality),
        "victims_aged_16_17": sum(
            16 <= age_on(date.fromisoformat(c["victim"]["date_of_birth"]), today) <= 17
            for c in cases
        ),
    }
    rows = list(csv.DictReader(io.StringIO(meeting["returned"])))
    row = next(r for r in rows if r["meeting_date"] == today.isoformat())
    assert {k: row[k] for k in expected} == {k: str(v) for k, v in expected.items()}
    printed = meeting["returned"].strip().splitlines()
    assert all(f"  {line}" in out.splitlines() for line in printed)


def test_a_second_run_works_and_joins_the_same_victims_cases(hub: Hub) -> None:
    _, first = demo(hub, "again-1", "--seed", "11", "--incidents", "12", "--timeout", "240")
    _, second = demo(hub, "again-2", "--seed", "11", "--incidents", "12", "--timeout", "240")
    refs = {i["control_room_ref"] for i in first["incidents"]}
    assert refs.isdisjoint(i["control_room_ref"] for i in second["incidents"])
    assert all("repeat_victim" in d["flags"] for d in second["decisions"].values())
    check_lists(second)
    # the same victims' new incidents joined their upcoming cases instead of a second listing
    joined = [
        c
        for m in all_meetings(second)
        for c in m["cases"]
        if {i["incident_id"] for i in first["incidents"]} & set(c["incident_ids"])
        and {i["incident_id"] for i in second["incidents"]} & set(c["incident_ids"])
    ]
    assert joined


def test_the_demo_says_so_when_the_hub_is_not_running(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "MASH_ENV": "test",
        **key_environment(),
        "MASH_PSEUDONYM_KEY": TEST_PSEUDONYM_KEY,
    }
    for svc in registry.SERVICES:
        env[f"{svc.settings_prefix}PORT"] = str(free_port())
    done = subprocess.run(
        [MASH, "demo", "--incidents", "3", "--timeout", "5"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "make run" in done.stderr
