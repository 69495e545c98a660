"""Triage's policy-trial commands (contract section 4): start a trial, take a trial a
batch further, apply a trial's policy and re-decide the incidents since a date.

Kept beside `handlers.py` (the live event handlers) so that the two stay small; both
decide with `decision.decide`. A trial step reads triage's own store, never a topic,
publishes nothing and writes only its own rows; each step is one transaction that also
checkpoints the trial, so a restarted triage goes on from the last step committed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import uuid4

from shared import audit
from shared.db import hold
from triage import handlers, repository
from triage.domain import trial as rules
from triage.domain.decision import knock_on_cause
from triage.domain.policy import TriagePolicy
from triage.domain.windows import OnRecord
from triage.handlers import Triage

BATCH = 500


class UnknownTrial(Exception):
    """No trial with this id."""


class VersionInUse(Exception):
    """The trial's policy has the version of a policy in force now or before."""


class NotApplicable(Exception):
    """The trial cannot be applied (not finished, or its version is already applied)."""


@dataclass(frozen=True)
class TrialOrder:
    """A trial to run: the candidate policy, the period (inclusive dates), the area."""

    policy: TriagePolicy
    date_from: date
    date_to: date
    area: str | None


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


async def start_trial(triage: Triage, order: TrialOrder, by: str, now: datetime) -> str:
    """Record the trial (running, nothing decided yet); the background job runs it. Its
    policy needs a version never in force (decisions name the version they were made
    under)."""
    trial_id = str(uuid4())
    until = _start_of(order.date_to) + timedelta(days=1)
    async with triage.platform.uow() as session:
        version = order.policy.version
        used = {p.version for p in await repository.policy_history(session)}
        if version in used | {triage.policy.version}:
            raise VersionInUse(version)
        total = await repository.count_reported(
            session, _start_of(order.date_from), until, order.area
        )
        trial = repository.Trial(
            trial_id,
            order.policy,
            order.date_from,
            order.date_to,
            order.area,
            "running" if total else "done",
            0,
            total,
            rules.empty(),
            None,
        )
        await repository.add_trial(session, trial, now, by)
    return trial_id


async def trial_step(triage: Triage, trial_id: str, batch: int = BATCH) -> int:
    """Decide the trial's next batch of incidents under its policy and checkpoint; how
    many were decided (0 once the trial is finished)."""
    async with triage.platform.uow() as session:
        trial = await repository.find_trial(session, trial_id)
        if trial is None or trial.status != "running":
            return 0
        since = _start_of(trial.date_from)
        until = _start_of(trial.date_to) + timedelta(days=1)
        inputs = await repository.trial_inputs(
            session, since, until, trial.area, trial.after, batch
        )
        summary = trial.summary
        changes: list[tuple[int, rules.Change]] = []
        people = [(one.case.record.victim, one.case.record.suspect) for one in inputs]
        records = await repository.on_record_many(session, people)
        for one, on_record in zip(inputs, records, strict=True):
            if one.current is None:
                continue  # never decided (cannot happen: a decision commits with its incident)
            found = _change(one, one.current, on_record, trial.policy)
            rules.tally(summary, one.case.incident.area, found)
            if found is not None:
                changes.append((trial.done + len(changes) + 1, found))  # numbered in order
        done = trial.done + len(inputs)
        finished = len(inputs) < batch
        last = inputs[-1].case.record.moment if inputs else trial.after
        status = "done" if finished else "running"
        total = done if finished else max(trial.total, done)  # late arrivals count too
        saved = replace(trial, status=status, done=done, total=total, summary=summary, after=last)
        await repository.save_trial(session, saved, changes)
    return len(inputs)


def _change(
    one: repository.TrialInput,
    current: dict[str, Any],
    on_record: OnRecord,
    policy: TriagePolicy,
) -> rules.Change | None:
    """The incident's decision replayed under `policy`, against the one triage published."""
    case, record = one.case, one.case.record
    inputs = rules.stages(case, one.regrades, one.decided)
    after = rules.outcome(rules.replay(case, inputs, on_record, policy))
    before = rules.published_outcome(current)
    return rules.compare(record.incident_id, case.incident.area, record.reported_at, before, after)


async def fail_trial(triage: Triage, trial_id: str) -> None:
    """Mark a trial failed (a fault of its data, not an outage): it is not retried."""
    async with triage.platform.uow() as session:
        trial = await repository.find_trial(session, trial_id)
        if trial is not None:
            await repository.save_trial(session, replace(trial, status="failed"), [])


async def apply_trial(
    triage: Triage, trial_id: str, since: date, by: str, route: str, now: datetime
) -> None:
    """Make the trial's policy current (logged: `altered`); the background job then
    decides again every incident reported since `since`, and publishes the decisions."""
    async with triage.platform.uow() as session:
        trial = await repository.find_trial(session, trial_id)
        if trial is None:
            raise UnknownTrial(trial_id)
        if trial.status != "done":
            raise NotApplicable("Only a finished trial can be applied.")
        if await repository.policy_applied(session, trial.policy.version):
            raise NotApplicable(f"Policy version {trial.policy.version} was applied already.")
        await repository.add_policy(session, trial.policy, trial_id, _start_of(since), now, by)
        entry = audit.Entry("triage", "altered", by, "api", route, "policy")
        await audit.log(
            triage.platform.outbox, session, entry, audit.items([trial.policy.version]), now
        )


async def redecision_step(
    triage: Triage, redecision: repository.Redecision, now: datetime, batch: int = BATCH
) -> tuple[int, repository.Redecision | None]:
    """Decide the next batch of incidents since an applied policy's date under the policy
    in force and publish them (each through the outbox); how many were decided, and where
    the re-decision now stands (None once finished)."""
    async with triage.platform.uow() as session:
        found = await repository.reported_since(session, redecision.since, redecision.after, batch)
        await hold(
            session,
            [n for p in found for n in handlers.hold_names(p.incident_id, p.victim, p.suspect)],
        )
        for past in found:
            cause = knock_on_cause(f"policy:{redecision.version}", past.incident_id)
            await handlers.redecide(
                triage, session, past.incident_id, cause, now, redecision.version
            )
        last = found[-1].moment if found else redecision.after
        finished = len(found) < batch
        await repository.save_redecision(session, redecision.seq, last, finished)
    return len(found), None if finished else replace(redecision, after=last)
