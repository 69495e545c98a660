"""DASH score, bands, professional judgement, not-assessed, re-grades and dip sampling."""

from __future__ import annotations

from uuid import uuid4

import pytest

from tests.unit.triage.builders import dash, regrade
from triage.domain.policy import DEFAULT_POLICY, TriagePolicy
from triage.domain.risk import assess, band, dash_score, in_dip_sample


@pytest.mark.parametrize(
    ("score", "level"),
    [(0, "standard"), (9, "standard"), (10, "medium"), (13, "medium"), (14, "high"),
     (24, "high")],
)  # fmt: skip
def test_score_falls_in_its_band(score: int, level: str) -> None:
    assert band(score, DEFAULT_POLICY) == level
    assessed = assess(dash(score), None, DEFAULT_POLICY)
    assert (assessed.level, assessed.basis, assessed.dash_score) == (level, "dash_score", score)


def test_score_counts_yes_answers_only() -> None:
    answered = dash(0, q1=True, q5=True, q7=False)
    assert dash_score(answered) == 2


@pytest.mark.parametrize(
    ("score", "judgement", "level", "basis"),
    [
        (9, "medium", "medium", "professional_judgement"),
        (9, "high", "high", "professional_judgement"),
        (13, "high", "high", "professional_judgement"),
        (14, "standard", "high", "dash_score"),  # judgement below the score never lowers
        (13, "standard", "medium", "dash_score"),
        (13, "medium", "medium", "dash_score"),  # equal: the score is the basis
        (3, None, "standard", "dash_score"),
    ],
)
def test_professional_judgement_raises_and_never_lowers(
    score: int, judgement: str | None, level: str, basis: str
) -> None:
    assessed = assess(dash(score, judgement), None, DEFAULT_POLICY)
    assert (assessed.level, assessed.basis, assessed.dash_score) == (level, basis, score)


def test_without_a_dash_the_level_is_standard_and_not_assessed() -> None:
    assessed = assess(None, None, DEFAULT_POLICY)
    assert (assessed.level, assessed.basis, assessed.dash_score) == (
        "standard",
        "not_assessed",
        None,
    )


@pytest.mark.parametrize(
    ("score", "judgement", "to"),
    [(20, None, "standard"), (2, None, "high"), (11, "high", "medium"), (None, None, "high")],
)
def test_a_regrade_sets_the_level_outright(
    score: int | None, judgement: str | None, to: str
) -> None:
    given = dash(score, judgement) if score is not None else None
    assessed = assess(given, regrade(to), DEFAULT_POLICY)
    assert (assessed.level, assessed.basis, assessed.dash_score) == (to, "regrade", score)


def test_thresholds_come_from_the_policy() -> None:
    strict = TriagePolicy(version="strict", high_score=12, medium_score=8)
    assert [band(s, strict) for s in (7, 8, 11, 12)] == ["standard", "medium", "medium", "high"]


def test_policy_refuses_bands_out_of_order() -> None:
    with pytest.raises(ValueError, match="medium_score"):
        TriagePolicy(high_score=10, medium_score=12)


def test_dip_sample_is_stable_for_an_incident() -> None:
    ids = [str(uuid4()) for _ in range(200)]
    assert [in_dip_sample(i, 0.1) for i in ids] == [in_dip_sample(i, 0.1) for i in ids]


@pytest.mark.parametrize(
    ("share", "low", "high"), [(0.0, 0, 0), (0.1, 800, 1200), (1.0, 10000, 10000)]
)
def test_dip_sample_takes_the_configured_share(share: float, low: int, high: int) -> None:
    sampled = sum(in_dip_sample(f"00000000-0000-4000-8000-{n:012d}", share) for n in range(10000))
    assert low <= sampled <= high
