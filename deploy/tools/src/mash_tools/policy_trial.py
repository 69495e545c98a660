"""The demo's policy trial (contract section 4): what lowering the DASH score for high risk,
and so for visible high risk, from 14 to 12 would have done to the day's decisions, asked
of triage before anyone changes the policy. A trial decides every incident of the period
again under the candidate policy and publishes nothing; the demo prints its summary."""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any, Protocol

import httpx

CANDIDATE_HIGH_SCORE = 12


class Triage(Protocol):
    def get(self, service: str, path: str, **params: Any) -> httpx.Response: ...
    def post(self, service: str, path: str, body: Any) -> httpx.Response: ...


def run(hub: Triage, today: date, deadline: float, stamp: str) -> dict[str, Any]:
    """Start the trial over the days the demo reported in and wait for its summary (or the
    deadline): the trial's view as triage answers it."""
    current = hub.get("triage", "/v1/policy")
    current.raise_for_status()
    policy = dict(current.json()["current"])
    policy["high_score"] = CANDIDATE_HIGH_SCORE
    policy["version"] = f"demo-dash-{CANDIDATE_HIGH_SCORE}-{stamp}"
    period = {"from": (today - timedelta(days=2)).isoformat(), "to": today.isoformat()}
    started = hub.post("triage", "/v1/policy-trials", {"policy": policy, **period})
    started.raise_for_status()
    trial_id = started.json()["trial_id"]
    view: dict[str, Any] = {}
    while time.monotonic() < deadline:
        answer = hub.get("triage", f"/v1/policy-trials/{trial_id}")
        answer.raise_for_status()
        view = answer.json()
        if view["status"] != "running":
            break
        time.sleep(0.5)
    return view


def report(view: dict[str, Any]) -> None:
    """The summary in words: how many decisions would change, and how."""
    summary = view.get("summary") or {}
    print(
        f"\nPolicy trial: high risk (and visible high risk) from a DASH score of "
        f"{CANDIDATE_HIGH_SCORE} instead of 14, over the day's incidents "
        f"({view.get('status', 'not started')}, {view.get('done', 0)} of "
        f"{view.get('total', 0)} decided again; nothing published, nothing changed):"
    )
    changed, incidents = summary.get("changed", 0), summary.get("incidents", 0)
    print(f"  decisions that would change: {changed} of {incidents}")
    for move, count in sorted((summary.get("risk_level") or {}).items()):
        print(f"  risk level {move}: {count}")
    eligible = summary.get("marac_eligible") or {}
    print(f"  MARAC eligible: +{eligible.get('added', 0)} -{eligible.get('removed', 0)}")
    for agency, change in sorted((summary.get("referrals") or {}).items()):
        print(f"  referrals to {agency}: +{change.get('added', 0)} -{change.get('removed', 0)}")
