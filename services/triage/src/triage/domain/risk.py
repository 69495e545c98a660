"""The risk level: DASH score and bands, professional judgement, re-grades, dip sampling."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from shared.schemas import Dash
from shared.schemas.v1 import Regrade, RiskBasis, RiskLevel
from triage.domain.policy import TriagePolicy

LEVELS: tuple[RiskLevel, ...] = ("standard", "medium", "high")


@dataclass(frozen=True)
class RiskAssessment:
    """The level, what it rests on, and the DASH score (None without a DASH)."""

    level: RiskLevel
    basis: RiskBasis
    dash_score: int | None


def dash_score(dash: Dash) -> int:
    """The number of `true` answers (0-24); unanswered questions count as no."""
    return sum(1 for answer in dash.answers.values() if answer is True)


def band(score: int, policy: TriagePolicy) -> RiskLevel:
    """`high` at or above the high threshold, `medium` at or above the medium one."""
    if score >= policy.high_score:
        return "high"
    if score >= policy.medium_score:
        return "medium"
    return "standard"


def assess(dash: Dash | None, regrade: Regrade | None, policy: TriagePolicy) -> RiskAssessment:
    """The incident's level: a re-grade rules outright; else the DASH band, raised (never
    lowered) by the officer's professional judgement; no DASH is `standard`, not assessed."""
    score = dash_score(dash) if dash else None
    if regrade is not None:
        return RiskAssessment(regrade.risk_level, "regrade", score)
    if dash is None or score is None:
        return RiskAssessment("standard", "not_assessed", None)
    level = band(score, policy)
    judgement = dash.professional_judgement
    if judgement and LEVELS.index(judgement) > LEVELS.index(level):
        return RiskAssessment(judgement, "professional_judgement", score)
    return RiskAssessment(level, "dash_score", score)


def in_dip_sample(incident_id: str, share: float) -> bool:
    """Whether the incident falls in the dip sample: a stable hash of its id, so a replay
    (or another instance) always picks the same incidents."""
    digest = hashlib.sha256(f"dip-sample:{incident_id}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    return position < share
