"""The MARAC meeting in `mash demo`: partner agencies refer, research and act.

After the synthetic day, a health visitor refers a victim the police already brought
(she joins her case: one case, two sources) and a housing officer refers a victim no
one has reported; each referral also reaches the IDVA service through notify. Health
and housing record their research on the known victim's case, the coordinator agrees
two actions, and housing completes its own. Last, the area's SafeLives return for the
quarter is read, after every meeting of the area whose date has come is closed
(`demo_close`). Marac lists a case on a meeting at least the research period ahead
(`MARAC_RESEARCH_DAYS`) and takes an outcome only on or after the meeting's date; when
that period is 0 the demo arranges a meeting today before referring, so the housing
officer's case is listed on it and closed in the same run.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from mash_tools import demo_close

if TYPE_CHECKING:
    from mash_tools.demo import Hub, Planned

AREA = "southampton"
SCOPES = (
    "marac:refer:health",
    "marac:refer:housing",
    "marac:act:health",
    "marac:act:housing",
)


@dataclass
class MeetingStory:
    """What the agencies did on the MARAC side, for the report and the summary."""

    referrals: list[dict[str, Any]] = field(default_factory=list)
    """Each: agency, marac_referral_id, case_id, idva (the IDVA referral's id)."""
    case: dict[str, Any] = field(default_factory=dict)
    """The known victim's case as the coordinator sees it (sources, research, actions)."""
    quarter: str = ""
    returned: str = ""
    closed: list[dict[str, Any]] = field(default_factory=list)
    """Each meeting the demo closed: meeting_id, date, cases (its whole list), discussed."""
    next_meeting: str | None = None
    """When no meeting has been held: the date of the meeting the referred case is on."""


class MeetingError(Exception):
    """An answer the story cannot go on from."""


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def _answers(yes: int) -> dict[str, bool]:
    return {f"q{i}": i <= yes for i in range(1, 25)}


def referral(agency: str, ref: str, victim: dict[str, Any], **rest: Any) -> dict[str, Any]:
    return {
        "referral_ref": ref,
        "referring_agency": agency,
        "referrer": {"name": f"Demo {agency} referrer", "role": f"{agency} practitioner"},
        "area": AREA,
        "victim": victim,
        "consent": "given",
        **rest,
    }


def stories(plans: list[Planned], stamp: str, seed: int) -> list[dict[str, Any]]:
    """The two referral forms: health for the day's repeat victim, housing for a new one."""
    known = next(p for p in plans if p.story == "repeat" and p.body["area"] == AREA)
    rng = random.Random(seed)
    new = {
        "given_name": rng.choice(("Corinne", "Delphine", "Harriet", "Lorna", "Miriam")),
        "family_name": rng.choice(("Brackley", "Cowdrey", "Fenwick", "Merriot", "Twyford")),
        "date_of_birth": f"19{rng.randint(70, 99)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
    }
    return [
        referral(
            "health",
            f"DEMO-HV-{stamp}",
            {**known.body["victim"], "equality": {"sex": "female", "ethnicity": "white"}},
            criteria=["visible_high_risk"],
            dash={
                "checklist": "safelives-dash-ric-24",
                "answers": _answers(16),
                "completed_by": "Health visitor 31",
            },
            summary="Disclosed at a routine visit; bruising seen.",
        ),
        referral(
            "housing",
            f"DEMO-HO-{stamp}",
            {**new, "equality": {"sex": "female", "ethnicity": "asian", "disability": True}},
            criteria=["professional_judgement"],
            professional_judgement_reason="Emergency rehousing request; fears for her life.",
            consent="not_sought",
            consent_reason="Contact now would alert the perpetrator.",
        ),
    ]


def run(
    hub: Hub, plans: list[Planned], today: date, deadline: float, stamp: str, seed: int
) -> MeetingStory:
    """Refer, wait for IDVA's referrals, research, agree and complete actions, read the
    return."""
    story = MeetingStory(quarter=quarter_of(today))
    demo_close.meeting_today(hub, AREA, today)
    for body in stories(plans, stamp, seed):
        answer = hub.post("marac", "/v1/marac-referrals", body)
        if answer.status_code not in (200, 202):
            raise MeetingError(f"marac answered {answer.status_code}: {answer.text[:300]}")
        referral_id = answer.json()["marac_referral_id"]
        found = hub.get("marac", f"/v1/marac-referrals/{referral_id}")
        found.raise_for_status()
        story.referrals.append(
            {
                "agency": body["referring_agency"],
                "marac_referral_id": referral_id,
                "case_id": found.json()["case_id"],
                "idva": _idva_referral(hub, referral_id, deadline),
            }
        )
    case_id = story.referrals[0]["case_id"]
    for agency, known, summary in (
        ("health", True, "Two A&E attendances this year; missed antenatal appointments."),
        ("housing", False, "Not known to housing."),
    ):
        body = {"known": known, "summary": summary, "completed_by": f"Demo {agency} researcher"}
        hub.put("marac", f"/v1/cases/{case_id}/research/{agency}", body).raise_for_status()
    due = (today + timedelta(days=14)).isoformat()
    actions = []
    for agency, text in (
        ("housing", "Fit target-hardening (locks, alarm) at the victim's address."),
        ("health", "Flag the record; see the victim alone at each appointment."),
    ):
        body = {"agency": agency, "description": text, "due_by": due}
        made = hub.post("marac", f"/v1/cases/{case_id}/actions", body)
        made.raise_for_status()
        actions.append(made.json())
    done = hub.post(
        "marac",
        f"/v1/actions/{actions[0]['action_id']}/complete",
        {"outcome": "Locks changed and a monitored alarm fitted."},
    )
    done.raise_for_status()
    detail = hub.get("marac", f"/v1/cases/{case_id}")
    detail.raise_for_status()
    story.case = detail.json()
    story.closed = demo_close.close_held(hub, AREA, today)
    if not story.closed:
        story.next_meeting = demo_close.meeting_of(hub, story.referrals[-1]["case_id"])
    returned = hub.get("marac", "/v1/returns/safelives.csv", area=AREA, quarter=story.quarter)
    returned.raise_for_status()
    story.returned = returned.text
    return story


def _idva_referral(hub: Hub, referral_id: str, deadline: float) -> str:
    """The IDVA service's referral notify made for the MARAC referral (waited for)."""
    while True:
        found = hub.get("notify", "/v1/referrals", agency="idva", incident_id=referral_id)
        found.raise_for_status()
        if found.json():
            return str(found.json()[0]["referral_id"])
        if time.monotonic() > deadline:
            raise MeetingError("notify has not referred the MARAC referral to the IDVA service")
        time.sleep(0.5)


def report(story: MeetingStory) -> None:
    print(f"\nMARAC referrals from partner agencies ({AREA})")
    for made in story.referrals:
        print(
            f"  {made['agency']:<8} referral {made['marac_referral_id'][:8]}: case "
            f"{made['case_id'][:8]}; the IDVA service referred too ({made['idva'][:8]})"
        )
    case = story.case
    if case:
        sources = ", ".join(
            "police incident" if s["kind"] == "incident" else f"{s['agency']} referral"
            for s in case["sources"]
        )
        print(f"  the known victim's case {case['case_id'][:8]}: sources {sources}")
        print(f"  research returned by: {', '.join(r['agency'] for r in case['research'])}")
        for action in case["actions"]:
            print(f"  action for {action['agency']:<8} due {action['due_by']}: {action['status']}")
    demo_close.report(story.closed, story.next_meeting)
    print(f"\nSafeLives MARAC return, {AREA}, {story.quarter} (one row per meeting held)")
    for line in story.returned.strip().splitlines():
        print(f"  {line}")
