"""`make bench` prints, per backend, each service's CPU per incident and peak memory in
columns, and live triage, a policy trial and a replay side by side (issues 22 and 23)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.unit.deploy.conftest import ROOT


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mash_bench", ROOT / "deploy" / "bench.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_table_shows_cpu_per_service_and_the_three_ways_triage_decides() -> None:
    bench = _bench()
    services = list(bench.SERVICES)
    cpu = {name: float(i + 1) for i, name in enumerate(services)}
    cpu |= {"all": sum(cpu.values()), "bench": 0.5}
    results = {
        "raw": {"raw_aiokafka_msgs_per_s": 10_000.0},
        "sqlite": {
            "burst_end_to_end_per_s": 100.0,
            "triage_live_per_s": 120.0,
            "trial_per_s": 1_234.5,
            "trial_triage_cpu_ms_per_decision": 0.81,
            "replay_per_s": 345.6,
            "replay_triage_cpu_ms_per_decision": 2.9,
            "cpu_ms_per_incident_burst": cpu,
            "cpu_ms_per_incident_steady": cpu,
            "cpu_ms_per_s_idle": {name: 10.0 * v for name, v in cpu.items()},
            "peak_rss_mb": {name: 100.0 for name in services},
            "event_loop": {name: "uvloop" for name in services},
        },
        "profiles": ["sqlite-burst-triage: /tmp/x/sqlite-burst-triage.svg"],
    }
    lines = bench.table(results).splitlines()
    [burst] = [line for line in lines if line.strip().startswith("cpu_ms_per_incident_burst")]
    assert burst.split()[1:] == [f"{v:,.1f}" for v in cpu.values()]
    [idle] = [line for line in lines if line.strip().startswith("cpu_ms_per_s_idle")]
    assert idle.split()[1:] == [f"{10 * v:,.1f}" for v in cpu.values()]
    [header] = [line for line in lines if line.strip().startswith("per process")]
    assert header.split()[2:] == [n[:12] for n in [*services, "all", "bench"]]
    [loops] = [line for line in lines if line.strip().startswith("event_loop")]
    assert loops.split()[1:] == ["uvloop"] * len(services)
    [trial] = [line for line in lines if line.strip().startswith("policy trial")]
    assert trial.split()[2:] == ["1,234.5", "0.81", "1,235"]
    [live] = [line for line in lines if line.strip().startswith("live, the burst")]
    assert live.split()[3:] == ["120.0", "2.00", "500"]
    [replay] = [line for line in lines if line.strip().startswith("replay, a fresh")]
    assert replay.split()[4:] == ["345.6", "2.90", "345"]
    assert "  sqlite-burst-triage: /tmp/x/sqlite-burst-triage.svg" in lines
    assert "  burst_end_to_end_%_of_raw                        1.00" in lines


def test_the_bench_reports_a_distinct_person_each_time() -> None:
    """Names are matched without their digits: numbered names would make every bench
    victim one person by names and date of birth, and every decision read them all."""
    from datetime import date

    from shared.identity import identities

    bench = _bench()
    people = set()
    for run in ("a1b2c3", "d4e5f6"):
        for i in (0, 1, 9, 10, 11, 2999):
            body = bench.incident(run, i)
            for role in ("victim", "suspect"):
                person = body[role]
                dob = person.get("date_of_birth")
                found = identities(
                    person["person_id"],
                    person["given_name"],
                    person["family_name"],
                    date.fromisoformat(dob) if dob else None,
                )
                people.update(found)
    victims = [p for p in people if p.startswith("ndob:alex|")]
    assert len(victims) == 12
    assert len([p for p in people if p.startswith("pid:")]) == 24
