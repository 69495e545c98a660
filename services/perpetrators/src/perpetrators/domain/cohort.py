"""The priority cohort: who the neighbourhood teams manage, and when that changes."""

from __future__ import annotations

from typing import Literal

from perpetrators.domain.policy import Policy
from perpetrators.domain.scoring import Score

Change = Literal["prioritised", "released"]


def is_priority(score: Score, policy: Policy) -> bool:
    """A score of `priority_score` or more, or a serial perpetrator (2+ identifiable
    victims) with a child present at one of the window's incidents."""
    serial = score.victims_count >= policy.serial_victims
    return score.score >= policy.priority_score or (serial and score.children_involved)


def change(was_priority: bool, now_priority: bool) -> Change | None:
    """Entering the cohort is `prioritised`, leaving it `released`; staying, nothing."""
    if now_priority and not was_priority:
        return "prioritised"
    if was_priority and not now_priority:
        return "released"
    return None
