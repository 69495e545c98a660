"""`mash demo` closing meetings (demo_close): only meetings whose date has come, every case
of the whole list discussed, an outcome recorded earlier left alone, a meeting today
arranged only when marac's research period is 0, and the line printed when none is held."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

import httpx
import pytest

from mash_tools import demo_close
from mash_tools.demo import Hub

TODAY = date(2026, 12, 5)


class FakeHub:
    """Marac's answers as the demo reads them (the e2e test runs the real stack)."""

    def __init__(self, meetings: list[dict[str, Any]], cases: dict[str, list[str]]) -> None:
        self.meetings, self.cases = meetings, cases
        self.posted: list[tuple[str, Any]] = []
        self.recorded = {"held-before"}

    def listing(self, service: str, path: str, **params: Any) -> list[Any]:
        if path == "/v1/meetings":
            return self.meetings
        meeting_id = path.split("/")[3]
        return [{"case_id": c} for c in self.cases[meeting_id]]

    def post(self, service: str, path: str, body: Any) -> httpx.Response:
        self.posted.append((path, body))
        meeting_id = path.split("/")[3] if "outcome" in path else ""
        status = 409 if meeting_id in self.recorded else 201 if path == "/v1/meetings" else 200
        return httpx.Response(status, json={}, request=httpx.Request("POST", "http://x" + path))


def test_only_meetings_whose_date_has_come_are_closed_with_every_case_discussed() -> None:
    hub = FakeHub(
        [
            {"meeting_id": "held-before", "date": "2026-11-24"},
            {"meeting_id": "empty", "date": "2026-12-01"},
            {"meeting_id": "today", "date": "2026-12-05"},
            {"meeting_id": "tuesday", "date": "2026-12-08"},
        ],
        {"held-before": ["a"], "empty": [], "today": ["b", "c"], "tuesday": ["d"]},
    )
    closed = demo_close.close_held(cast(Hub, hub), "southampton", TODAY)
    assert [m["meeting_id"] for m in closed] == ["today"]
    assert closed[0]["discussed"] == ["b", "c"]
    assert ("/v1/meetings/today/outcome", {"discussed": ["b", "c"], "deferred": []}) in hub.posted
    assert not [p for p, _ in hub.posted if "tuesday" in p or "empty" in p]


@pytest.mark.parametrize(("days", "arranged"), [("0", True), ("5", False)])
def test_a_meeting_today_is_arranged_only_without_a_research_period(
    monkeypatch: pytest.MonkeyPatch, days: str, arranged: bool
) -> None:
    monkeypatch.setenv("MARAC_RESEARCH_DAYS", days)
    hub = FakeHub([], {})
    demo_close.meeting_today(cast(Hub, hub), "southampton", TODAY)
    expected = [("/v1/meetings", {"area": "southampton", "date": "2026-12-05", "capacity": 16})]
    assert hub.posted == (expected if arranged else [])


def test_when_nothing_is_held_the_demo_says_when_the_meeting_is(
    capsys: pytest.CaptureFixture[str],
) -> None:
    demo_close.report([], "2026-12-15")
    out = capsys.readouterr().out
    assert "no meeting has been held yet" in out
    assert "on 2026-12-15" in out
    assert "run `mash demo` again on or after that date" in out
