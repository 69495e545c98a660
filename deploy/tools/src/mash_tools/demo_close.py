"""Closing the demo area's MARAC meetings in `mash demo`, by marac's own rules.

Marac lists a case on a meeting at least the research period (`MARAC_RESEARCH_DAYS`)
after its decision and records an outcome only on or after the meeting's date. The demo
bends neither: with a research period of 0 it arranges a meeting today (before the
partner agencies refer, so their new case is listed on it); then it closes every meeting
of the area whose date has come and whose outcome is not yet recorded, with every case
on its list discussed (closed: the simplest honest outcome of a meeting that heard each
case). With the default period (5 days) nothing has been held yet, and the demo says
when the meeting is: running `mash demo` again on or after that date closes it.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.config import ENV_FILE

if TYPE_CHECKING:
    from mash_tools.demo import Hub

CAPACITY = 16
"""The meeting the demo arranges for today (SafeLives: about 16 cases a meeting)."""


class ResearchPeriod(BaseSettings):
    """Marac's research period, read as marac reads it (its prefix, the same `.env`)."""

    model_config = SettingsConfigDict(env_prefix="MARAC_", env_file=ENV_FILE, extra="ignore")

    research_days: int = 5


def meeting_today(hub: Hub, area: str, today: date) -> None:
    """Arrange a meeting of `area` today when marac may list a case on it (a research
    period of 0); an existing meeting today is kept (marac answers 409 for a second)."""
    if ResearchPeriod().research_days != 0:
        return
    body = {"area": area, "date": today.isoformat(), "capacity": CAPACITY}
    made = hub.post("marac", "/v1/meetings", body)
    if made.status_code not in (201, 409):
        made.raise_for_status()


def close_held(hub: Hub, area: str, today: date) -> list[dict[str, Any]]:
    """Every meeting of `area` on or before today whose outcome is not recorded, closed
    with each case on its whole list (read through every page) discussed."""
    closed = []
    for meeting in hub.listing("marac", "/v1/meetings", area=area):
        if date.fromisoformat(meeting["date"]) > today:
            continue
        cases = hub.listing("marac", f"/v1/meetings/{meeting['meeting_id']}/cases")
        if not cases:
            continue  # nothing was listed on it: no meeting to record
        body = {"discussed": [c["case_id"] for c in cases], "deferred": []}
        answer = hub.post("marac", f"/v1/meetings/{meeting['meeting_id']}/outcome", body)
        if answer.status_code == 409:
            continue  # its outcome was recorded before (an earlier run)
        answer.raise_for_status()
        closed.append(
            {
                "meeting_id": meeting["meeting_id"],
                "date": meeting["date"],
                "cases": cases,
                "discussed": body["discussed"],
            }
        )
    return closed


def meeting_of(hub: Hub, case_id: str) -> str | None:
    """The date of the meeting a case is listed on (None: it awaits one with room)."""
    case = hub.get("marac", f"/v1/cases/{case_id}")
    case.raise_for_status()
    meeting_id = case.json().get("meeting_id")
    if not meeting_id:
        return None
    for meeting in hub.listing("marac", "/v1/meetings", area=case.json()["area"]):
        if meeting["meeting_id"] == meeting_id:
            return str(meeting["date"])
    return None


def report(closed: list[dict[str, Any]], next_meeting: str | None) -> None:
    for meeting in closed:
        print(
            f"  meeting {meeting['date']} closed: {len(meeting['discussed'])} cases "
            "discussed (closed), none deferred"
        )
    if not closed:
        when = f"on {next_meeting}" if next_meeting else "when one has room"
        print(
            f"  no meeting has been held yet: the referred cases' meeting is {when} (after "
            "the research period); run `mash demo` again on or after that date to close it"
        )
