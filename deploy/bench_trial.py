"""`make bench-trial`: a policy trial over a year of a large force (issue 22: 100,000
incidents decided in under 60 s on the bench machine).

Posting 100,000 incidents through intake and Kafka would take the bench an hour, so this
phase fills a fresh triage store in this process through triage's own live code: the
consumer's handlers (`triage.consumer.consumers`, a fetch of up to 500 events in one
transaction, as the consumer loop commits them) and the CRU's re-grade command, on a
real SQLite database migrated as triage migrates it. The year comes from
`mash_tools.year_stream` (seeded: repeat victims, serial suspects, late DASHes,
re-grades, late arrivals). Then it starts a trial of the current policy under a new
version (`triage.trials.start_trial`) and runs it with the job the API's trials run on
(`triage.jobs.PolicyTrials`, one round), timing the round: wall time, the process's CPU
(every thread), decisions/s, and whether it met the 60 s. Nothing touches a network.

Prints a line per phase and one JSON line. Not a test: timings belong here, never in
tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import func, select

from mash_tools.testing import hub_settings
from mash_tools.year_stream import YEAR_START, Shares, year
from shared.envelope import CloudEvent
from shared.service import Platform
from triage import handlers, repository, store, trials
from triage.app import MIGRATIONS
from triage.config import Settings
from triage.consumer import consumers
from triage.handlers import Triage
from triage.jobs import PolicyTrials

GOAL_SECONDS = 60.0
GOAL_INCIDENTS = 100_000
FETCH = 500
"""Events a transaction, as the consumer loop commits a fetch."""


@dataclass(frozen=True)
class Result:
    incidents: int
    fill_seconds: float
    trial_seconds: float
    decisions_per_s: float
    cpu_seconds: float
    cpu_ms_per_decision: float
    changed: int
    status: str
    met_goal: bool | None
    """Whether the trial decided at least `GOAL_INCIDENTS` in under `GOAL_SECONDS`; None for
    a smaller year (the goal says nothing about it)."""


def triage_on(url: str) -> tuple[Platform[Settings], Triage]:
    """Triage's platform and handlers on a database, without Kafka (events handed in)."""
    settings = Settings(database_url=url, hub=hub_settings("127.0.0.1:9"))
    platform = Platform("triage", settings, store.messages, MIGRATIONS)
    return platform, Triage.on(platform)


async def fill(triage: Triage, size: int, seed: int, shares: Shares = Shares()) -> int:
    """Hand the year to triage's live handlers, as its consumer would; incidents stored."""
    handler = consumers(triage)[0].handler
    fetch: list[CloudEvent] = []

    async def flush() -> None:
        if fetch:
            async with triage.platform.uow() as session:
                for event in fetch:
                    await handler(session, event)
            fetch.clear()

    for step in year(size, seed, shares):
        if step.kind == "event" and step.event is not None:
            fetch.append(step.event)
            if len(fetch) >= FETCH:
                await flush()
        else:
            await flush()  # the re-grade finds its incident committed, as via the API
            order = handlers.RegradeOrder(step.level, "CRU review", "DS 1", "cru")  # type: ignore[arg-type]
            await handlers.regrade(triage, uuid.UUID(step.incident_id), order, step.at)
    await flush()
    async with triage.platform.sessions() as session:
        stmt = select(func.count()).select_from(store.incidents)
        return int((await session.execute(stmt)).scalar_one())


async def run_trial(triage: Triage, batch: int) -> tuple[repository.Trial, float, float]:
    """The current policy under a new version over the year, run by the trials job; the
    finished trial, its wall seconds and the process's CPU seconds."""
    policy = triage.policy.model_copy(update={"version": f"bench-{uuid.uuid4().hex[:8]}"})
    order = trials.TrialOrder(policy, YEAR_START.date(), date(YEAR_START.year, 12, 31), None)
    trial_id = await trials.start_trial(triage, order, "bench", datetime.now(UTC))
    job = PolicyTrials(triage, 60, batch, lambda: datetime.now(UTC))
    wall, cpu = time.perf_counter(), time.process_time()
    await job.run_once(triage.platform)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    async with triage.platform.sessions() as session:
        trial = await repository.find_trial(session, trial_id)
    assert trial is not None
    return trial, wall, cpu


async def bench(
    size: int, folder: Path, seed: int = 22, batch: int = 500, shares: Shares = Shares()
) -> Result:
    """Fill a fresh SQLite store with `size` incidents, then time a trial over them."""
    platform, triage = triage_on(f"sqlite+aiosqlite:///{folder / 'triage.db'}")
    await platform.start_storage()
    try:
        started = time.perf_counter()
        stored = await fill(triage, size, seed, shares)
        filled = time.perf_counter() - started
        print(f"filled {stored:,} incidents in {filled:.1f} s", file=sys.stderr, flush=True)
        trial, wall, cpu = await run_trial(triage, batch)
    finally:
        await platform.engine.dispose()
    rate = trial.done / wall if wall else 0.0
    return Result(
        incidents=trial.done,
        fill_seconds=round(filled, 1),
        trial_seconds=round(wall, 2),
        decisions_per_s=round(rate, 1),
        cpu_seconds=round(cpu, 2),
        cpu_ms_per_decision=round(1000 * cpu / trial.done, 3) if trial.done else 0.0,
        changed=int(trial.summary.get("changed", 0)),
        status=trial.status,
        met_goal=(trial.status == "done" and wall < GOAL_SECONDS)
        if trial.done >= GOAL_INCIDENTS
        else None,
    )


def _verdict(met: bool | None) -> str:
    return "not applicable (a smaller year)" if met is None else "met" if met else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trial-incidents", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--batch", type=int, default=500, help="incidents a trial step")
    parser.add_argument("--victims-share", type=float, default=Shares.victims)
    parser.add_argument("--suspects-share", type=float, default=Shares.suspects)
    args = parser.parse_args()
    shares = Shares(victims=args.victims_share, suspects=args.suspects_share)
    with tempfile.TemporaryDirectory(prefix="mash-bench-trial-") as folder:
        run = bench(args.trial_incidents, Path(folder), args.seed, args.batch, shares)
        result = asyncio.run(run)
    print(
        f"trial of {result.incidents:,} incidents: {result.trial_seconds} s, "
        f"{result.decisions_per_s:,} decisions/s, CPU {result.cpu_seconds} s "
        f"({result.cpu_ms_per_decision} ms a decision), changed {result.changed}, "
        f"goal ({GOAL_INCIDENTS:,} in < {GOAL_SECONDS:.0f} s): {_verdict(result.met_goal)}"
    )
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()
