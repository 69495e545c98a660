"""A policy trial's rules: the stages an incident's decisions had, their replay through
`decide` (referrals grow as live ones did), the comparison and the summary's counts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from tests.unit.triage.builders import NOT_SAMPLED, case, dash, regrade
from triage.domain.decision import Case, decide
from triage.domain.policy import DEFAULT_POLICY
from triage.domain.trial import (
    Outcome,
    Stage,
    compare,
    empty,
    outcome,
    published_outcome,
    replay,
    stages,
    tally,
)
from triage.domain.windows import OnRecord

TWELVE = DEFAULT_POLICY.model_copy(update={"version": "t-12", "high_score": 12})
AT = datetime(2026, 1, 1, tzinfo=UTC)


def reported_with(first: int | None, latest: int | None = None, **kw: object) -> Case:
    """A case whose incident came with a DASH of `first` yes answers (or none), its
    latest DASH `latest` (the same by default)."""
    base = case(incident_id=NOT_SAMPLED, **kw)  # type: ignore[arg-type]
    given = dash(first) if first is not None else None
    incident = base.incident.model_copy(update={"dash": given})
    now = dash(latest) if latest is not None else given
    return replace(base, incident=incident, dash=now)


def test_an_incident_without_later_inputs_has_one_stage() -> None:
    assert stages(reported_with(12), ()) == [Stage(dash(12), None)]


def test_a_later_dash_and_each_regrade_are_stages_of_their_own() -> None:
    grades = (regrade("high"), regrade("standard"))
    found = stages(replace(reported_with(None, 12), regrade=grades[-1]), grades)
    assert found == [
        Stage(None, None),
        Stage(dash(12), None),
        Stage(dash(12), grades[0]),
        Stage(dash(12), grades[1]),
    ]


def test_replay_of_one_stage_is_decide_itself() -> None:
    reported = reported_with(11)
    assert replay(reported, stages(reported, ()), OnRecord(), TWELVE) == decide(
        reported, OnRecord(), TWELVE
    )


def test_replay_keeps_the_referrals_of_earlier_stages() -> None:
    """Not assessed at report (victim support), high once the DASH came: both referred."""
    late = reported_with(None, 14)
    decision = replay(late, stages(late, ()), OnRecord(), DEFAULT_POLICY)
    agencies = {r.agency for r in decision.referrals}
    assert {"victim-support", "idva", "safeguarding-team"} <= agencies
    assert decision.risk_level == "high"


def test_an_earlier_dash_at_the_new_threshold_still_refers_to_the_idva() -> None:
    replaced = reported_with(12, 10)
    before = outcome(replay(replaced, stages(replaced, ()), OnRecord(), DEFAULT_POLICY))
    after = outcome(replay(replaced, stages(replaced, ()), OnRecord(), TWELVE))
    assert before.risk_level == after.risk_level == "medium"
    assert "idva" not in before.referrals
    assert "idva" in after.referrals


def test_an_outcome_reads_the_same_from_a_published_decision() -> None:
    reported = reported_with(
        15, children=[{"given_name": "K", "family_name": "E", "school_urn": "123456"}]
    )
    decision = decide(reported, OnRecord(), DEFAULT_POLICY)
    data = {
        "risk_level": decision.risk_level,
        "flags": decision.flags,
        "marac": {"criteria": list(decision.marac.criteria)},
        "referrals": [{"agency": r.agency, "subject": r.subject} for r in decision.referrals],
    }
    assert published_outcome(data) == outcome(decision)
    assert "school:child:0" in outcome(decision).referrals


def test_the_same_outcome_is_no_change() -> None:
    same = Outcome("medium", ("pregnancy",), (), ("safeguarding-team",))
    assert compare("i", "a", AT, same, same) is None


def test_the_summary_counts_levels_eligibility_and_referrals_per_agency_and_area() -> None:
    before = Outcome("medium", (), (), ("safeguarding-team", "school:child:0"))
    after = Outcome("high", (), ("visible_high_risk",), ("idva", "safeguarding-team"))
    summary = empty()
    tally(summary, "southampton", compare("i1", "southampton", AT, before, after))
    tally(summary, "portsmouth", None)
    figures = {
        "incidents": 1,
        "changed": 1,
        "risk_level": {"medium->high": 1},
        "marac_eligible": {"added": 1, "removed": 0},
        "referrals": {"idva": {"added": 1, "removed": 0}, "school": {"added": 0, "removed": 1}},
    }
    quiet = {
        "incidents": 1,
        "changed": 0,
        "risk_level": {},
        "marac_eligible": {"added": 0, "removed": 0},
        "referrals": {},
    }
    assert summary == {
        **figures,
        "incidents": 2,
        "by_area": {"southampton": figures, "portsmouth": quiet},
    }


def test_a_dash_after_a_regrade_is_replayed_after_it() -> None:
    """Not assessed, re-graded standard by the CRU, then a DASH of 16: the decisions
    triage published say which came first, and only that order refers as live triage
    did (no safeguarding team: the level was never high without the re-grade)."""
    grade = regrade("standard")
    late = replace(reported_with(None, 16), regrade=grade)
    published: list[dict[str, Any]] = [
        {"dash_score": None, "regrade": None},
        {"dash_score": None, "regrade": grade.model_dump(mode="json")},
        {"dash_score": 16, "regrade": grade.model_dump(mode="json")},
    ]
    found = stages(late, (grade,), published)
    assert found == [Stage(None, None), Stage(None, grade), Stage(dash(16), grade)]
    decision = replay(late, found, OnRecord(), DEFAULT_POLICY)
    assert {r.agency for r in decision.referrals} == {"victim-support", "idva"}
    assert stages(late, (grade,)) == [
        Stage(None, None),
        Stage(dash(16), None),
        Stage(dash(16), grade),
    ]
