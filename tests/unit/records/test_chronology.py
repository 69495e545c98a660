"""Which log entries are events of a review's chronology, naming which agency and what
(records.domain.chronology): one case per kind of entry the services log."""

from __future__ import annotations

from typing import Any

import pytest

from records.domain.chronology import Known, chronology, event_of
from tests.unit.records.builders import record

DISCLOSED = record(1, ids=("r-idva", "i-1"))
KNOWN = Known.of([DISCLOSED, record(2, ids=("r-csc", "i-1"), recipient="childrens-social-care")])


def _entry(service: str, operation: str, resource: str, **changes: Any) -> Any:
    fields = {"via": "api", "route": "/v1/things", "recipient": None, "ids": ("r-idva", "i-1")}
    fields.update(changes)
    return record(5, service, operation=operation, resource=resource, **fields)


CASES = [
    (_entry("intake", "collected", "incident"), ("police", "incident reported")),
    (_entry("intake", "collected", "risk_assessment"), ("police", "incident reported")),
    (_entry("triage", "combined", "incident", via="topic"), ("mash", "decision")),
    (
        _entry("triage", "altered", "decision", route="/v1/incidents/{id}/regrade"),
        ("mash", "decision"),
    ),
    (DISCLOSED, ("idva", "referral disclosed")),
    (
        _entry(
            "notify", "disclosed", "referral", via="webhook", route="idva.example", recipient="idva"
        ),
        ("idva", "referral disclosed"),
    ),
    (
        _entry("records", "consulted", "referral", via="topic", recipient="idva", sub="idva.cw"),
        ("idva", "referral consulted"),
    ),
    (
        _entry("notify", "consulted", "referral", route="/v1/referrals"),
        ("idva", "referral consulted"),
    ),
    (
        _entry("notify", "altered", "referral", route="/v1/referrals/{referral_id}/ack"),
        ("idva", "acknowledged"),
    ),
    (
        _entry(
            "notify",
            "altered",
            "referral",
            route="/v1/referrals/{referral_id}/ack",
            ids=("r-csc", "i-1"),
        ),
        ("childrens-social-care", "acknowledged"),
    ),
    (
        _entry("marac", "collected", "marac_referral", route="/v1/marac-referrals"),
        ("marac", "MARAC referral"),
    ),
    (_entry("marac", "combined", "marac_case", via="topic"), ("marac", "listed")),
    (
        _entry("marac", "collected", "marac_case", route="/v1/cases/{case_id}/research/{agency}"),
        ("marac", "research"),
    ),
    (
        _entry("marac", "altered", "action", route="/v1/cases/{case_id}/actions"),
        ("marac", "action agreed or completed"),
    ),
    (
        _entry("marac", "altered", "action", route="/v1/actions/{action_id}/complete"),
        ("marac", "action agreed or completed"),
    ),
    (
        _entry("marac", "altered", "marac_case", route="/v1/meetings/{meeting_id}/outcome"),
        ("marac", "case closed"),
    ),
    (
        _entry(
            "perpetrators", "disclosed", "perpetrator", via="topic", recipient="neighbourhood-team"
        ),
        ("neighbourhood-team", "perpetrator prioritised"),
    ),
]


@pytest.mark.parametrize(("entry", "expected"), CASES)
def test_each_kind_of_entry_is_its_event_with_its_agency(entry: Any, expected: Any) -> None:
    found = event_of(entry, KNOWN)
    assert found is not None
    assert (found.agency, found.event) == expected
    assert found.at == entry.at
    assert found.summary


@pytest.mark.parametrize(
    "entry",
    [
        _entry("intake", "consulted", "incident"),
        _entry("triage", "consulted", "decision"),
        _entry("notify", "altered", "subscription"),
        _entry("notify", "altered", "referral", route="idva.example"),  # a redelivery queued
        _entry("records", "consulted", "records"),
        _entry("records", "erased", "records", via="job"),
        _entry("marac", "consulted", "marac_case"),
    ],
)
def test_what_is_no_contact_with_the_person_is_left_out(entry: Any) -> None:
    assert event_of(entry, KNOWN) is None


def test_a_page_read_names_only_the_persons_referrals() -> None:
    page = _entry("notify", "consulted", "referral", ids=("someone-else", "r-idva"))
    found = event_of(page, KNOWN)
    assert found is not None
    assert found.ids == ("r-idva",)


def test_summaries_name_agencies_and_topics() -> None:
    found = event_of(DISCLOSED, KNOWN)
    assert found is not None
    assert found.summary == "Referral to idva disclosed on mash.referrals.idva.v1"


def test_the_chronology_keeps_the_entries_order_and_drops_non_events() -> None:
    entries = [DISCLOSED, _entry("intake", "consulted", "incident"), record(3, ids=("r-x", "i"))]
    assert [e.at for e in chronology(entries, KNOWN)] == [DISCLOSED.at, entries[2].at]


@pytest.mark.parametrize(
    ("changes", "summary"),
    [
        ({"via": "api", "route": "/v1/incidents/{id}/regrade"}, "re-grade through"),
        ({"via": "job", "route": "policy:2026-12-a"}, "under triage policy 2026-12-a"),
        ({"via": "topic", "route": "mash.incidents.v1"}, "later risk assessment"),
    ],
)
def test_a_decision_made_again_says_why(changes: dict[str, str], summary: str) -> None:
    """A re-grade, an applied policy and a late arrival each read as what they were."""
    found = event_of(_entry("triage", "altered", "decision", **changes), KNOWN)
    assert found is not None
    assert found.event == "decision"
    assert summary in found.summary
