"""`mash demo`: a synthetic day of control-room traffic through the running hub.

Posts a few dozen incidents for two areas through intake's API (standard, medium and
high risk, children with their schools, repeat victims, a serial perpetrator, a DASH
completed late and one re-grade by the central referral unit), waits until triage has
decided every one, notify has made the referrals, marac has listed the eligible
victims and perpetrators has scored every suspect, and prints what the hub did (after
the MARAC lists, each area's priority perpetrators with the parts of their score). Then
partner agencies refer two victims to MARAC, research and act on a case, every meeting
whose date has come is closed (`demo_close`), and the quarter's SafeLives return is read
(`demo_meeting`). Last, a data protection officer asks the
records service who collected, combined, disclosed and consulted one victim's data,
and whether the chains verify (`subject_access`). Every person is generated from the
seed: none is real. `MASH_DEMO_SUMMARY=<file>` also
writes the summary as JSON (the e2e test reads it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

import httpx

from mash_tools import demo_meeting, policy_trial, subject_access
from mash_tools.keys import signing_key
from mash_tools.stack import SERVICES, service_url
from shared.auth import mint
from shared.config import HubSettings
from shared.topics import AGENCIES

AREAS = ("southampton", "portsmouth")
POSTCODES = {"southampton": ("SO14", "SO15", "SO16", "SO17"), "portsmouth": ("PO1", "PO2", "PO4")}
# fmt: off
GIVEN = (
    "Amira", "Bethany", "Chloe", "Daniela", "Eleanor", "Fatima", "Grace", "Hannah", "Imogen",
    "Jasmine", "Kayleigh", "Leah", "Megan", "Niamh", "Olivia", "Priya", "Rosie", "Sophie", "Tara",
    "Zara", "Aaron", "Callum", "Dean", "Jordan", "Kieran", "Liam", "Marcus", "Ryan",
)
FAMILY = (
    "Ashdown", "Barlow", "Caddick", "Dunmore", "Elmfield", "Fairbairn", "Garside", "Hollis",
    "Ingram", "Jessop", "Kettering", "Lathom", "Marchant", "Northcott", "Oakley", "Pendry",
    "Quarrie", "Rowntree", "Stanway", "Thackeray", "Underhill", "Varley", "Westlake", "Yardley",
)
ABUSE = ("physical", "psychological", "emotional", "coercive_control", "financial", "stalking")
RELATIONSHIPS = ("partner", "ex_partner", "ex_partner", "partner", "family_member")
LEVEL_YES = {"standard": (0, 9), "medium": (10, 13), "high": (14, 20)}
SCOPES = (
    "incidents:write", "incidents:read", "triage:read", "triage:regrade", "marac:read",
    "marac:admin", "referrals:read:*", "perpetrators:read", "triage:policy",
    *demo_meeting.SCOPES,
)
# fmt: on


@dataclass
class Planned:
    """One incident of the day, and what happens to it afterwards."""

    body: dict[str, Any]
    story: str = ""
    late_dash: dict[str, Any] | None = None
    regrade: bool = False
    incident_id: str = ""


@dataclass
class SyntheticDay:
    """Generates people and incidents from one seeded random generator."""

    rng: random.Random
    now: datetime
    stamp: str
    schools: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for area in AREAS:
            self.schools[area] = [f"{self.rng.randrange(100000, 999999)}" for _ in range(5)]

    def adult(self, area: str, given: tuple[str, ...] = GIVEN[:20]) -> dict[str, Any]:
        rng = self.rng
        person: dict[str, Any] = {
            "given_name": rng.choice(given),
            "family_name": rng.choice(FAMILY),
            "date_of_birth": self._born(rng.randint(19, 58)),
            "address": {
                "lines": [f"{rng.randint(1, 180)} Demo Road"],
                "postcode": f"{rng.choice(POSTCODES[area])} {rng.randint(1, 9)}ZZ",
            },
            "contact": {
                "phone": f"07700 900{rng.randint(0, 999):03d}",  # Ofcom's range for drama
                "safe_to_contact": rng.random() < 0.6,
            },
        }
        if rng.random() < 0.7:
            person["person_id"] = f"DEMO{rng.randrange(10**6):06d}"
        return person

    def suspect(self) -> dict[str, Any]:
        rng = self.rng
        person = {
            "given_name": rng.choice(GIVEN[20:]),
            "family_name": rng.choice(FAMILY),
            "date_of_birth": self._born(rng.randint(20, 60)),
        }
        if rng.random() < 0.6:
            person["person_id"] = f"DEMO{rng.randrange(10**6):06d}"
        return person

    def children(self, area: str, family: str, count: int) -> list[dict[str, Any]]:
        found = []
        for _ in range(count):
            age = self.rng.randint(0, 16)
            child: dict[str, Any] = {
                "given_name": self.rng.choice(GIVEN),
                "family_name": family,
                "date_of_birth": self._born(age),
                "present_at_incident": self.rng.random() < 0.5,
            }
            if age >= 4:
                child["school_urn"] = self.rng.choice(self.schools[area])
            found.append(child)
        return found

    def dash(self, level: str, judgement: str | None = None) -> dict[str, Any]:
        low, high = LEVEL_YES[level]
        count = self.rng.randint(low, high)
        pregnant = count > 0 and self.rng.random() < 0.15  # q9: pregnant or a baby under 18 months
        others = [q for q in range(1, 25) if q != 9]
        yes = set(self.rng.sample(others, count - pregnant)) | ({9} if pregnant else set())
        body: dict[str, Any] = {
            "checklist": "safelives-dash-ric-24",
            "answers": {f"q{i}": i in yes for i in range(1, 25)},
            "completed_by": f"PC {self.rng.randint(1000, 9999)}",
        }
        if judgement:
            body["professional_judgement"] = judgement
        return body

    def incident(
        self,
        area: str,
        victim: dict[str, Any],
        suspect: dict[str, Any] | None,
        dash: dict[str, Any] | None,
        children: int = 0,
    ) -> dict[str, Any]:
        return {
            "control_room_ref": "",  # numbered in time order once the day is drawn
            "force": "hampshire",
            "area": area,
            "reported_at": "",
            "abuse_types": sorted(set(self.rng.sample(ABUSE, self.rng.randint(1, 3)))),
            "relationship": self.rng.choice(RELATIONSHIPS),
            "victim": victim,
            "suspect": suspect,
            "children": self.children(area, victim["family_name"], children),
            "dash": dash,
            "notes": "Synthetic incident generated by mash demo.",
        }

    def _born(self, age: int) -> str:
        return (self.now.date() - timedelta(days=365 * age + self.rng.randint(0, 364))).isoformat()


def synthetic_day(seed: int, count: int, now: datetime) -> list[Planned]:
    """The day's incidents in the order they were reported, over the last 24 hours."""
    day = SyntheticDay(random.Random(seed), now, now.strftime("%Y%m%d%H%M%S"))
    rng = day.rng
    south, ports = AREAS
    repeat_a, repeat_b = day.adult(south), day.adult(ports)
    serial = {**day.suspect(), "person_id": f"DEMO{rng.randrange(10**6):06d}"}
    late = day.incident(ports, day.adult(ports), day.suspect(), None, children=1)
    plans = [
        Planned(day.incident(south, repeat_a, day.suspect(), day.dash("standard")), "repeat"),
        Planned(day.incident(south, repeat_a, day.suspect(), day.dash("medium")), "repeat"),
        Planned(day.incident(south, repeat_a, day.suspect(), day.dash("high"), 2), "repeat"),
        Planned(day.incident(ports, repeat_b, day.suspect(), day.dash("medium")), "repeat"),
        Planned(day.incident(ports, repeat_b, day.suspect(), day.dash("high"), 1), "repeat"),
        Planned(day.incident(south, day.adult(south), serial, day.dash("high")), "serial"),
        Planned(day.incident(south, day.adult(south), serial, day.dash("medium"), 1), "serial"),
        Planned(late, "late DASH", late_dash=day.dash("high")),
        Planned(
            day.incident(south, day.adult(south), day.suspect(), day.dash("medium")),
            "re-grade",
            regrade=True,
        ),
        Planned(
            day.incident(
                ports, day.adult(ports), day.suspect(), day.dash("standard", judgement="high")
            ),
            "judgement",
        ),
        Planned(day.incident(south, day.adult(south), None, None, 1), "not assessed"),
    ]
    while len(plans) < count:
        area = rng.choice(AREAS)
        level = rng.choices(("standard", "medium", "high"), (55, 25, 20))[0]
        kids = rng.choice((0, 0, 0, 1, 2, 3)) if rng.random() < 0.5 else 0
        plans.append(
            Planned(day.incident(area, day.adult(area), day.suspect(), day.dash(level), kids))
        )
    for plan in plans:
        if plan.story == "serial" and plan.body["children"]:
            # a serial perpetrator with a child present: the priority cohort's second route
            plan.body["children"][0]["present_at_incident"] = True
    plans = plans[:count]
    moments = [now - timedelta(minutes=rng.randint(30, 24 * 60)) for _ in plans]
    # one victim's (and the serial suspect's) incidents happen in the order of their story
    for role in ("victim", "suspect"):
        people = {id(p.body[role]): p.body[role] for p in plans if p.body[role]}
        for person in people.values():
            mine = [i for i, p in enumerate(plans) if p.body[role] is person]
            for i, moment in zip(mine, sorted(moments[i] for i in mine), strict=True):
                moments[i] = moment
    ordered = sorted(zip(moments, range(len(plans)), plans, strict=True))
    for n, (moment, _, plan) in enumerate(ordered, start=1):
        plan.body["control_room_ref"] = f"DEMO-{day.stamp}-{n:03d}"
        plan.body["reported_at"] = moment.isoformat().replace("+00:00", "Z")
    return [plan for _, _, plan in ordered]


class Hub:
    """The running services, reached over HTTP with tokens the demo mints itself."""

    def __init__(self, client: httpx.Client) -> None:
        settings = HubSettings()
        token = mint(
            signing_key(settings), "mash-demo", SCOPES, timedelta(hours=2), settings.jwt_issuer
        )
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}
        self.urls = {s.name: service_url(s.name) for s in SERVICES}

    def ready(self) -> list[str]:
        """The services that do not answer /readyz with 200."""
        down = []
        for name, url in self.urls.items():
            try:
                if self.client.get(f"{url}/readyz").status_code != 200:
                    down.append(name)
            except httpx.HTTPError:
                down.append(name)
        return down

    def get(self, service: str, path: str, **params: Any) -> httpx.Response:
        return self.client.get(f"{self.urls[service]}{path}", params=params, headers=self.headers)

    def listing(self, service: str, path: str, **params: Any) -> list[Any]:
        """A whole list, read a page of 500 at a time through its `Link: rel="next"`."""
        found: list[Any] = []
        answer = self.get(service, path, limit=500, **params)
        while True:
            answer.raise_for_status()
            found += answer.json()
            link = answer.links.get("next", {}).get("url")
            if not link:
                return found
            answer = self.client.get(f"{self.urls[service]}{link}", headers=self.headers)

    def post(self, service: str, path: str, body: Any) -> httpx.Response:
        return self.client.post(f"{self.urls[service]}{path}", json=body, headers=self.headers)

    def put(self, service: str, path: str, body: Any) -> httpx.Response:
        return self.client.put(f"{self.urls[service]}{path}", json=body, headers=self.headers)


@dataclass
class Outcome:
    """What the hub did with the day's incidents."""

    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)
    referrals: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    meetings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    awaiting: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    perpetrators: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def listed_incidents(self) -> set[str]:
        cases = [c for ms in self.meetings.values() for m in ms for c in m["cases"]]
        cases += [c for cs in self.awaiting.values() for c in cs]
        return {i for c in cases for i in c["incident_ids"]}


_SHOWN: dict[str, tuple[int, int]] = {}
"""The last count printed per label when stdout is not a terminal."""


def progress(label: str, done: int, total: int, width: int = 30) -> None:
    """A progress bar redrawn in place on a terminal; in a log or CI output (not a
    terminal) no `\r` frames: one line, when the step completes."""
    filled = width * done // max(total, 1)
    bar = f"{label:<22} [{'#' * filled}{'-' * (width - filled)}] {done}/{total}"
    if sys.stdout.isatty():
        print(f"\r{bar}", end="\n" if done >= total else "", flush=True)
    elif done >= total and _SHOWN.get(label) != (done, total):
        _SHOWN[label] = (done, total)
        print(bar, flush=True)


def wait(until: Callable[[], bool], deadline: float, interval: float = 0.5) -> bool:
    """Poll `until` until it holds or the deadline passes."""
    while True:
        if until():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def ensure_meetings(hub: Hub, today: date) -> None:
    """Arrange two meetings for an area that has none coming (the schedule usually has)."""
    for area in AREAS:
        coming = hub.get("marac", "/v1/meetings", area=area, **{"from": today.isoformat()})
        coming.raise_for_status()
        if not coming.json():
            for days in (7, 21):
                body = {
                    "area": area,
                    "date": (today + timedelta(days=days)).isoformat(),
                    "capacity": 16,
                }
                hub.post("marac", "/v1/meetings", body)


def post_day(hub: Hub, plans: list[Planned]) -> None:
    for n, plan in enumerate(plans, start=1):
        answer = hub.post("intake", "/v1/incidents", plan.body)
        if answer.status_code not in (200, 202):
            raise DemoError(f"intake answered {answer.status_code}: {answer.text[:300]}")
        plan.incident_id = answer.json()["incident_id"]
        progress("Posting incidents", n, len(plans))


class DemoError(Exception):
    """The hub refused or could not be reached."""


def collect_decisions(hub: Hub, plans: list[Planned], outcome: Outcome) -> bool:
    """True once every incident has its final decision (the late DASH and re-grade too)."""
    for plan in plans:
        answer = hub.get("triage", f"/v1/decisions/{plan.incident_id}")
        if answer.status_code == 200:
            outcome.decisions[plan.incident_id] = answer.json()
    final = sum(1 for p in plans if _final(p, outcome))
    progress("Waiting for triage", final, len(plans))
    return final == len(plans)


def decided(hub: Hub, plan: Planned) -> bool:
    return hub.get("triage", f"/v1/decisions/{plan.incident_id}").status_code == 200


def _final(plan: Planned, outcome: Outcome) -> bool:
    decision = outcome.decisions.get(plan.incident_id)
    if decision is None:
        return False
    if plan.late_dash is not None and decision.get("dash_score") is None:
        return False
    return not (plan.regrade and decision.get("risk_basis") != "regrade")


def collect_lists(hub: Hub, outcome: Outcome, today: date) -> None:
    """Each area's coming meetings with their cases, and the cases awaiting a meeting.

    Marac may still be listing the last decisions: a meeting read before its cases are
    read can count fewer than it then holds. An area is read again (for up to 10 s) until
    every meeting's count agrees with its cases."""
    for area in AREAS:
        for _ in range(20):
            found = _meetings_of(hub, area, today)
            if all(m["listed"] == len(m["cases"]) for m in found):
                break
            time.sleep(0.5)
        outcome.meetings[area] = found
        outcome.awaiting[area] = hub.listing(
            "marac", "/v1/cases", area=area, status="awaiting_meeting"
        )


def _meetings_of(hub: Hub, area: str, today: date) -> list[dict[str, Any]]:
    found = []
    for meeting in hub.listing("marac", "/v1/meetings", area=area, **{"from": today.isoformat()}):
        cases = hub.listing("marac", f"/v1/meetings/{meeting['meeting_id']}/cases")
        found.append({**meeting, "cases": cases})
    return found


def collect_referrals(hub: Hub, outcome: Outcome) -> None:
    ours = set(outcome.decisions)
    for agency in AGENCIES:
        listed = hub.listing("notify", "/v1/referrals", agency=agency)
        outcome.referrals[agency] = [r for r in listed if r["incident_id"] in ours]


def collect_perpetrators(hub: Hub, outcome: Outcome) -> None:
    for area in AREAS:
        outcome.perpetrators[area] = hub.listing(
            "perpetrators", "/v1/perpetrators", area=area, cohort="all"
        )


def unscored(plans: list[Planned], outcome: Outcome) -> int:
    """Suspects of the day whose latest incident the perpetrators service has not scored."""
    latest: dict[tuple[str, str, str], Planned] = {}
    for plan in plans:  # in the order reported
        if suspect := plan.body["suspect"]:
            who = (suspect["given_name"], suspect["family_name"], suspect["date_of_birth"])
            latest[who] = plan
    missing = 0
    for who, plan in latest.items():
        reported = datetime.fromisoformat(plan.body["reported_at"].replace("Z", "+00:00"))
        scored = [
            p
            for p in outcome.perpetrators.get(plan.body["area"], [])
            if tuple(p["person"].values()) == who
            and p["last_incident_at"]
            and datetime.fromisoformat(p["last_incident_at"].replace("Z", "+00:00")) >= reported
        ]
        missing += not scored
    return missing


def pipeline_done(outcome: Outcome) -> list[str]:
    """What is still missing: eligible victims not yet listed, referrals not yet made."""
    missing = []
    eligible = {i for i, d in outcome.decisions.items() if d["marac"]["eligible"]}
    if unlisted := eligible - outcome.listed_incidents():
        missing.append(f"{len(unlisted)} eligible incident(s) not yet on a MARAC list")
    made = {(r["incident_id"], r["agency"]) for rs in outcome.referrals.values() for r in rs}
    wanted = {(i, r["agency"]) for i, d in outcome.decisions.items() for r in d["referrals"]}
    if wanted - made:
        missing.append(f"{len(wanted - made)} referral(s) not yet made")
    return missing


def report(plans: list[Planned], outcome: Outcome, today: date) -> None:
    """Print what the hub did with the day."""
    report_decisions(outcome)
    print("\nReferrals per agency")
    for agency in AGENCIES:
        print(f"  {agency:<22} {len(outcome.referrals.get(agency, [])):>3}")
    for area in AREAS:
        report_lists(area, outcome, {p.incident_id for p in plans})
    for area in AREAS:
        report_perpetrators(area, outcome)
    print(
        "\nEvery person above is synthetic. A list as CSV: GET /v1/meetings/<id>/cases.csv "
        f"on marac, GET /v1/perpetrators.csv?area=<area> on perpetrators (today is "
        f"{today.isoformat()})."
    )


def report_decisions(outcome: Outcome) -> None:
    levels = Counter(d["risk_level"] for d in outcome.decisions.values())
    flags = Counter(f for d in outcome.decisions.values() for f in d["flags"])
    eligible = sum(1 for d in outcome.decisions.values() if d["marac"]["eligible"])
    print("\nDecisions by risk level")
    for level in ("high", "medium", "standard"):
        print(f"  {level:<10} {levels[level]:>3}  {'#' * levels[level]}")
    print(f"  MARAC-eligible: {eligible}")
    counted = ", ".join(f"{flag} {n}" for flag, n in sorted(flags.items()))
    print(textwrap.fill(f"flags: {counted}", 96, initial_indent="  ", subsequent_indent="    "))


def report_lists(area: str, outcome: Outcome, ours: set[str]) -> None:
    """The area's next MARAC list in agenda order, and how full the later ones are."""
    meetings = [m for m in outcome.meetings.get(area, []) if m["cases"]]
    print(f"\nMARAC {area}")
    if not meetings:
        print("  no upcoming meeting has cases yet")
    for meeting in meetings[:1]:
        print(
            f"  next list: {meeting['date']}, {meeting['listed']} of {meeting['capacity']} "
            "places (cases with children first, then by priority)"
        )
        print(f"  {'#':>3} {'prio':>4} {'risk':<8} {'DASH':>4} {'repeat':<6} {'children':>8}  "
              f"{'victim':<28} incidents")  # fmt: skip
        for n, case in enumerate(meeting["cases"], start=1):
            victim = case["victim"]
            name = f"{victim['given_name']} {victim['family_name']}"
            mark = "" if set(case["incident_ids"]) & ours else " (not this run)"
            dash = "-" if case["dash_score"] is None else case["dash_score"]
            print(
                f"  {n:>3} {case['priority']:>4} {case['risk_level']:<8} {dash:>4} "
                f"{'yes' if case['repeat'] else 'no':<6} {case['children_count']:>8}  "
                f"{name:<28} {len(case['incident_ids'])}{mark}"
            )
    for meeting in meetings[1:]:
        mine = sum(1 for c in meeting["cases"] if set(c["incident_ids"]) & ours)
        print(
            f"  then {meeting['date']}: {meeting['listed']} of {meeting['capacity']} places"
            f" ({mine} from this run)"
        )
    print(f"  awaiting a meeting with room: {len(outcome.awaiting.get(area, []))}")


def report_perpetrators(area: str, outcome: Outcome) -> None:
    """The area's priority perpetrators, each with the parts of the score."""
    everyone = outcome.perpetrators.get(area, [])
    cohort = [p for p in everyone if p["priority"]]
    print(f"\nPriority perpetrators {area} ({len(cohort)} of {len(everyone)} scored)")
    if not cohort:
        print("  none in the priority cohort")
        return
    policy = cohort[0]
    print(
        f"  score = R x (F + G + 2 x (V - 1)); policy {policy['policy_version']}, "
        f"owned by {policy['policy_owner']}"
    )
    print(f"  {'score':>5} {'R':>2} {'F':>2} {'G':>3} {'V':>2} {'incidents':>9} "
          f"{'victims':>7} {'child present':<13}  suspect")  # fmt: skip
    for p in cohort:
        parts, person = p["components"], p["person"]
        name = f"{person['given_name']} {person['family_name']} ({person['date_of_birth']})"
        print(
            f"  {p['score']:>5} {parts['recency']:>2} {parts['frequency']:>2} "
            f"{parts['gravity']:>3} {parts['victims']:>2} {p['incidents_24m']:>9} "
            f"{p['victims_count']:>7} {'yes' if p['children_involved'] else 'no':<13}  {name}"
        )


def write_summary(
    path: str,
    plans: list[Planned],
    outcome: Outcome,
    ok: bool,
    records: subject_access.Answer | None = None,
    trial: dict[str, Any] | None = None,
    meeting: demo_meeting.MeetingStory | None = None,
) -> None:
    summary = {
        "trial": trial or None,
        "meeting": None if meeting is None else asdict(meeting),
        "ok": ok,
        "incidents": [
            {
                "incident_id": p.incident_id,
                "control_room_ref": p.body["control_room_ref"],
                "area": p.body["area"],
                "story": p.story,
            }
            for p in plans
        ],
        "decisions": outcome.decisions,
        "referrals": {a: len(rs) for a, rs in outcome.referrals.items()},
        "meetings": outcome.meetings,
        "awaiting": outcome.awaiting,
        "perpetrators": outcome.perpetrators,
        "records": None
        if records is None
        else {
            "question": records.question,
            "entries": records.entries,
            "verify": records.verify,
            "missing": records.missing,
        },
    }
    with open(path, "w", encoding="utf-8") as out:
        json.dump(summary, out, indent=2)


def run(args: argparse.Namespace) -> int:
    """The `mash demo` command: 0 when the whole pipeline finished within `--timeout`."""
    if args.incidents < 1:
        print("mash demo: --incidents must be at least 1", file=sys.stderr)
        return 1
    now = datetime.now(UTC)
    today = now.date()
    plans = synthetic_day(args.seed, args.incidents, now)
    outcome = Outcome()
    ok = False
    records: subject_access.Answer | None = None
    trial: dict[str, Any] = {}
    meeting: demo_meeting.MeetingStory | None = None
    with httpx.Client(timeout=10) as client:
        hub = Hub(client)
        try:
            if down := hub.ready():
                print(
                    f"mash demo: not ready: {', '.join(down)}; start the hub with `make run`",
                    file=sys.stderr,
                )
                return 1
            print(
                f"A synthetic day: {len(plans)} incidents in {' and '.join(AREAS)} "
                f"(seed {args.seed}); every person is generated, none is real.\n"
            )
            ensure_meetings(hub, today)
            deadline = time.monotonic() + args.timeout
            post_day(hub, plans)
            ok = follow_up(hub, plans, outcome, today, deadline)
            if ok:
                stamp = now.strftime("%Y%m%d%H%M%S")
                meeting = demo_meeting.run(hub, plans, today, deadline, stamp, args.seed)
                victim = next(p for p in plans if p.story == "repeat").body["victim"]
                subject_access.agencies_read_their_topics()
                records = subject_access.ask(client, hub.urls["records"], victim, deadline)
                ok = not records.missing and records.verify.get("ok") is True
                trial = policy_trial.run(hub, today, deadline, stamp)
                ok = ok and trial.get("status") == "done"
        except (httpx.HTTPError, DemoError, demo_meeting.MeetingError) as exc:
            print(f"\nmash demo: {exc}", file=sys.stderr)
            return 1
        finally:
            if path := os.environ.get("MASH_DEMO_SUMMARY"):
                write_summary(path, plans, outcome, ok, records, trial, meeting)
    report(plans, outcome, today)
    if meeting is not None:
        demo_meeting.report(meeting)
    if records is not None:
        subject_access.report(records, hub.urls["records"])
    if trial:
        policy_trial.report(trial)
    return 0 if ok else 1


def follow_up(
    hub: Hub, plans: list[Planned], outcome: Outcome, today: date, deadline: float
) -> bool:
    """The late DASH and the re-grade, then wait for decisions, referrals and lists."""
    for plan in plans:
        if plan.late_dash is not None:
            hub.post(
                "intake", f"/v1/incidents/{plan.incident_id}/risk-assessments", plan.late_dash
            ).raise_for_status()
            print(f"A DASH completed later for {plan.body['control_room_ref']}")
    for plan in plans:
        if plan.regrade:
            if not wait(partial(decided, hub, plan), deadline):
                break
            body = {
                "risk_level": "high",
                "by": "CRU DS 4417",
                "reason": "Escalating coercive control disclosed on follow-up call",
            }
            hub.post("triage", f"/v1/incidents/{plan.incident_id}/regrade", body).raise_for_status()
            print(f"The central referral unit re-graded {plan.body['control_room_ref']} to high")
    if not wait(lambda: collect_decisions(hub, plans, outcome), deadline):
        print("\nmash demo: triage has not decided every incident in time", file=sys.stderr)
        return False
    missing: list[str] = []

    def settled() -> bool:
        collect_lists(hub, outcome, today)
        collect_referrals(hub, outcome)
        collect_perpetrators(hub, outcome)
        missing[:] = pipeline_done(outcome)
        if waiting := unscored(plans, outcome):
            missing.append(f"{waiting} suspect(s) not yet scored")
        return not missing

    print("Waiting for referrals, MARAC lists and perpetrator scores ...", end=" ", flush=True)
    if not wait(settled, deadline):
        print(f"\nmash demo: not finished in time: {'; '.join(missing)}", file=sys.stderr)
        return False
    print("done")
    return True
