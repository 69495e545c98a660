"""The policy and review pages' forms (issue 22): an edited copy of the policy in force
made into triage's trial request, triage's 422 put back under each field, the moment of
an as-of view, and the CSV's formula guard."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from console.policy_form import copy_of, field_errors, filled
from console.policy_pages import chart
from console.review_pages import _line, shown

CURRENT = {
    "version": "mash-default-1",
    "high_score": 14,
    "medium_score": 10,
    "dip_sample_share": 0.1,
    "routes": [{"agency": "idva", "reason": "high_risk", "when": "level:high"}],
}
LONDON = ZoneInfo("Europe/London")


def sent(**changes: str) -> dict[str, str]:
    form = copy_of(CURRENT, date(2026, 11, 30))
    fields = {f.id: f.value for f in form.fields} | form.period
    return fields | {"policy-version": "trial-12"} | changes


def test_the_copy_leaves_the_version_to_name_and_offers_the_last_year() -> None:
    form = copy_of(CURRENT, date(2026, 11, 30))
    values = {f.name: f.value for f in form.fields}
    assert values["version"] == ""
    assert values["high_score"] == "14"
    assert json.loads(values["routes"]) == CURRENT["routes"]
    assert form.period == {"from": "2025-11-30", "to": "2026-11-30", "area": ""}


def test_an_edited_copy_becomes_a_whole_policy_of_the_same_types() -> None:
    form, body = filled(CURRENT, sent(**{"policy-high_score": "12", "area": "southampton"}))
    assert form.errors == {}
    assert body == {
        "policy": {**CURRENT, "version": "trial-12", "high_score": 12},
        "from": "2025-11-30",
        "to": "2026-11-30",
        "area": "southampton",
    }


def test_what_cannot_be_sent_is_named_field_by_field() -> None:
    form, _ = filled(
        CURRENT,
        sent(
            **{
                "policy-version": " ",
                "policy-high_score": "twelve",
                "policy-dip_sample_share": "nan",
                "policy-routes": "[{",
                "to": "30/11/2026",
            }
        ),
    )
    assert set(form.errors) == {
        "policy-version",
        "policy-high_score",
        "policy-dip_sample_share",
        "policy-routes",
        "to",
    }


def test_triages_422_is_put_under_the_fields_it_names() -> None:
    form, _ = filled(CURRENT, sent())
    errors = field_errors(
        form,
        [
            {"loc": ["body", "policy", "high_score"], "msg": "less than or equal to 24"},
            {"loc": ["body", "policy", "routes", 0, "agency"], "msg": "not an agency"},
            {"loc": ["body", "policy"], "msg": "Value error, medium_score must not exceed"},
            {"loc": ["body", "to"], "msg": "`to` must not be before `from`"},
            {"loc": ["query", "x"], "msg": "unknown"},
        ],
    )
    assert errors == {
        "policy-high_score": "High risk DASH score: less than or equal to 24",
        "policy-routes": "Routing table (JSON): not an agency",
        "policy": "Policy: medium_score must not exceed",
        "to": "Reported to: `to` must not be before `from`",
    }


def test_the_chart_draws_the_summarys_figures() -> None:
    summary = {
        "risk_level": {"standard->medium": 3, "medium->high": 2},
        "referrals": {"safeguarding-team": {"added": 3, "removed": 0}, "idva": {"added": 2}},
    }
    assert chart(summary) == {
        "agencies": ["idva", "safeguarding-team"],
        "added": [2, 3],
        "removed": [0, 0],
        "moves": ["medium->high", "standard->medium"],
        "moved": [2, 3],
    }


def test_an_as_of_moment_is_uk_time_sent_in_utc() -> None:
    summer = shown("idva", "2026-07-01", "09:30", LONDON)
    assert summer.errors == {}
    assert summer.params() == {"agency": "idva", "as_of": "2026-07-01T08:30:00+00:00"}
    end_of_day = shown("idva", "2026-12-01", "", LONDON)
    assert end_of_day.as_of == datetime(2026, 12, 1, 23, 59, 59, tzinfo=UTC)
    assert shown("idva", "", "", LONDON).params() == {"agency": "idva", "as_of": ""}
    assert shown("", "", "", LONDON).params() == {}


def test_an_as_of_view_needs_a_known_agency_a_date_and_a_real_time() -> None:
    assert set(shown("", "2026-07-01", "", LONDON).errors) == {"agency"}
    assert set(shown("police", "", "", LONDON).errors) == {"agency"}
    assert set(shown("idva", "1 July", "", LONDON).errors) == {"as_of"}
    assert set(shown("idva", "", "09:30", LONDON).errors) == {"as_of"}
    assert set(shown("idva", "2026-07-01", "9.30am", LONDON).errors) == {"as_of-time"}
    assert set(shown("idva", "2026-07-01", "25:00", LONDON).errors) == {"as_of-time"}


def test_a_cell_a_spreadsheet_would_run_is_written_as_text() -> None:
    assert _line(["=HYPERLINK(1)", "-1", "plain"]) == "'=HYPERLINK(1),'-1,plain\r\n"
