"""The policy-trial bench (`make bench-trial`, issue 22): its seeded year has the people
and events a force's year has, and a small run of the phase stores every incident through
triage's live handlers and decides every one in the trial. No timings are asserted."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import distinct, func, select

from mash_tools.year_stream import YEAR_START, letters, person, year
from shared.identity import normalise_name
from tests.unit.deploy.conftest import ROOT
from triage import store


def _bench_trial() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "mash_bench_trial", ROOT / "deploy" / "bench_trial.py"
    )
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _incidents(size: int) -> list[Mapping[str, Any]]:
    return [
        s.event.data
        for s in year(size)
        if s.event is not None and s.event.type == "mash.incident.reported"
    ]


def test_victims_and_suspects_repeat_and_some_have_many_incidents() -> None:
    incidents = _incidents(3000)
    assert len(incidents) == 3000
    victims = Counter(i["victim"]["given_name"] for i in incidents)
    suspects = Counter(i["suspect"]["given_name"] for i in incidents if "suspect" in i)
    repeat_share = sum(n for n in victims.values() if n > 1) / len(incidents)
    assert 0.3 < repeat_share < 0.9, repeat_share  # repeats, but not everyone
    assert max(victims.values()) >= 5
    assert 1 < len(victims) < 3000
    serial = [s for s, n in suspects.items() if n > 1]
    assert len(serial) > 100
    by_suspect: dict[str, set[str]] = {}
    for i in incidents:
        if "suspect" in i:
            by_suspect.setdefault(i["suspect"]["given_name"], set()).add(i["victim"]["given_name"])
    assert max(len(v) for v in by_suspect.values()) >= 3  # a suspect of several victims


def test_the_year_has_late_dashes_regrades_and_late_arrivals_in_arrival_order() -> None:
    steps = list(year(3000))
    kinds = Counter(s.event.type if s.event else s.kind for s in steps)
    assert kinds["mash.risk_assessment.submitted"] > 150
    assert kinds["regrade"] > 20
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    reported = [s.event.data for s in steps if s.event and "reported_at" in s.event.data]
    assert all(r["reported_at"].startswith("2025-") for r in reported)
    late = sum(1 for a, b in itertools.pairwise(reported) if a["reported_at"] > b["reported_at"])
    assert late > 10  # some incidents arrive after later ones
    assert reported[0]["reported_at"] >= YEAR_START.isoformat()


def test_the_same_seed_gives_the_same_year_and_names_stay_distinct() -> None:
    first = [s.event.id if s.event else s.incident_id for s in year(200, seed=5)]
    assert first == [s.event.id if s.event else s.incident_id for s in year(200, seed=5)]
    assert first != [s.event.id if s.event else s.incident_id for s in year(200, seed=6)]
    names = {normalise_name(person("V", n)["given_name"]) for n in range(2000)}
    assert len(names) == 2000  # digits would have made them one name
    assert letters(0) == "a"
    assert letters(26) == "ba"
    assert sum("person_id" not in person("V", n) for n in range(400)) == 100


async def test_a_small_run_decides_every_incident_of_the_year(tmp_path: Path) -> None:
    bench = _bench_trial()
    result = await bench.bench(300, tmp_path, batch=40)
    assert result.incidents == 300
    assert result.status == "done"
    assert result.changed == 0  # the current policy under a new version changes nothing
    assert result.met_goal is None  # the goal is for a year of 100,000
    platform, _ = bench.triage_on(f"sqlite+aiosqlite:///{tmp_path / 'triage.db'}")
    await platform.start_storage()
    try:
        async with platform.sessions() as session:
            decided = select(func.count(distinct(store.decisions.c.incident_id)))
            assert (await session.execute(decided)).scalar_one() == 300
            regraded = select(func.count()).select_from(store.regrades)
            assert (await session.execute(regraded)).scalar_one() > 0
            redecided = select(func.count()).select_from(store.decisions)
            assert (await session.execute(redecided)).scalar_one() > 300  # late DASHes too
    finally:
        await platform.engine.dispose()
