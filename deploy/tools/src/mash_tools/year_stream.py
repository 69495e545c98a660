"""A seeded year of a force's incidents, as triage receives them, for the policy-trial
bench (`deploy/bench_trial.py`, issue 22: a year of 100,000 incidents in under 60 s).

A trial's cost grows with the histories it weighs, so the people are not all new:
victims and suspects are drawn with a skew (the smaller of two draws), so that some
victims report again and again and some suspects offend against several victims, as
in a real force. One person in four is known only by names and date of birth. Most
incidents come with a DASH, some get a later one (a late DASH decides again), a few
are re-graded by the CRU and a few arrive days late (a knock-on re-decision).

The stream is lazy, in the order triage receives it (each step's arrival time), so
100,000 incidents never sit in memory at once. Synthetic people only: names are letters
(names are matched without their digits, so digits would make everyone one name).
"""

from __future__ import annotations

import heapq
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from shared.envelope import CloudEvent
from shared.topics import INCIDENT_REPORTED, RISK_ASSESSMENT_SUBMITTED

YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
AREAS = ("southampton", "portsmouth", "winchester", "basingstoke")
SCORES = (0, 2, 3, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20)


@dataclass(frozen=True)
class Shares:
    """How the year is made: distinct people per incident and the shares of each event."""

    victims: float = 1.5
    """Victims to draw from, per incident: at 1.5, 57% of a year's incidents are of a
    victim with more than one that year (up to 7); at 0.6, 85% (up to 12)."""
    suspects: float = 1.2
    with_suspect: float = 0.9
    dash: float = 0.75
    late_dash: float = 0.1
    regrade: float = 0.02
    late_arrival: float = 0.02


@dataclass(order=True)
class Step:
    """One thing triage receives: an event (an incident, a DASH) or a CRU re-grade."""

    at: datetime
    seq: int
    kind: Literal["event", "regrade"] = field(compare=False)
    event: CloudEvent | None = field(compare=False, default=None)
    incident_id: str = field(compare=False, default="")
    level: str = field(compare=False, default="")


def letters(n: int) -> str:
    """A number as letters (base 26): a name distinct once digits are ignored."""
    out = ""
    while True:
        n, r = divmod(n, 26)
        out = chr(ord("a") + r) + out
        if not n:
            return out


def person(kind: str, n: int) -> dict[str, Any]:
    """Synthetic person `n` of a kind ("V" victims, "S" suspects): one in four has no
    person id (matched by names and date of birth only)."""
    one: dict[str, Any] = {
        "given_name": f"{kind}{letters(n)}".capitalize(),
        "family_name": "Yearperson",
        "date_of_birth": f"{1960 + n % 40}-{1 + n % 12:02d}-{1 + n % 28:02d}",
    }
    if n % 4:
        one["person_id"] = f"{kind}{n:07d}"
    return one


def skewed(rng: random.Random, size: int) -> int:
    """The smaller of two draws: low numbers come back often (repeat victims, serial
    suspects), high ones rarely."""
    return min(rng.randrange(size), rng.randrange(size))


def dash(rng: random.Random) -> dict[str, Any]:
    yes = rng.choice(SCORES)
    answers = {f"q{i}": i <= yes for i in range(1, 25)}
    return {"checklist": "safelives-dash-ric-24", "answers": answers, "completed_by": "PC 1"}


def year(size: int, seed: int = 22, shares: Shares = Shares()) -> Iterator[Step]:
    """`size` incidents reported over 12 months from `YEAR_START`, with their later DASHes
    and re-grades, in arrival order."""
    rng = random.Random(seed)
    victims = max(1, int(size * shares.victims))
    suspects = max(1, int(size * shares.suspects))
    minutes = sorted(rng.randrange(365 * 24 * 60) for _ in range(size))
    pending: list[Step] = []
    seq = 0
    for n, minute in enumerate(minutes):
        reported = YEAR_START + timedelta(minutes=minute)
        while pending and pending[0].at <= reported:
            yield heapq.heappop(pending)
        event = _incident(rng, n, reported, victims, suspects, shares)
        incident_id = event.subject or ""
        late = rng.random() < shares.late_arrival
        arrives = reported + timedelta(days=rng.randint(2, 20) if late else 0, seconds=5)
        seq += 1
        heapq.heappush(pending, Step(arrives, seq, "event", event))
        if rng.random() < shares.late_dash:
            at = arrives + timedelta(days=rng.randint(1, 14))
            seq += 1
            heapq.heappush(pending, Step(at, seq, "event", _dash_event(rng, incident_id, at)))
        if rng.random() < shares.regrade:
            at = arrives + timedelta(days=rng.randint(1, 21), hours=1)
            level = rng.choice(["standard", "medium", "high"])
            seq += 1
            heapq.heappush(pending, Step(at, seq, "regrade", incident_id=incident_id, level=level))
    while pending:
        yield heapq.heappop(pending)


def _incident(
    rng: random.Random, n: int, at: datetime, victims: int, suspects: int, shares: Shares
) -> CloudEvent:
    """A `mash.incident.reported` event as intake publishes it."""
    incident_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    data: dict[str, Any] = {
        "incident_id": incident_id,
        "control_room_ref": f"HC-{n:08d}",
        "force": "hampshire",
        "area": rng.choice(AREAS),
        "reported_at": at.isoformat(),
        "received_at": at.isoformat(),
        "abuse_types": rng.choice([["physical"], ["coercive_control"], ["physical", "emotional"]]),
        "relationship": rng.choice(["partner", "ex_partner", "family_member"]),
        "victim": person("V", skewed(rng, victims)),
        "children": [],
    }
    if rng.random() < shares.with_suspect:
        data["suspect"] = person("S", skewed(rng, suspects))
    if rng.random() < shares.dash:
        data["dash"] = dash(rng)
    event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return CloudEvent(event_id, "/mash/intake", INCIDENT_REPORTED, incident_id, data)


def _dash_event(rng: random.Random, incident_id: str, at: datetime) -> CloudEvent:
    """A `mash.risk_assessment.submitted` event: a DASH completed after the report."""
    data = {**dash(rng), "incident_id": incident_id, "submitted_at": at.isoformat()}
    event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return CloudEvent(event_id, "/mash/intake", RISK_ASSESSMENT_SUBMITTED, incident_id, data)
