"""The contract's names as people read them on the pages."""

from __future__ import annotations

import pytest

from console.formats import label


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("risk_level", "Risk level"),
        ("visible_high_risk", "Visible high risk"),
        ("dash_answers", "DASH answers"),
        ("marac_criteria", "MARAC criteria"),
        ("idva", "IDVA"),
        ("victim_person_id", "Victim person ID"),
        ("dash_score", "DASH score"),
        ("", ""),
        (None, ""),
    ],
)
def test_labels_keep_the_hubs_acronyms_in_capitals(key: object, shown: str) -> None:
    assert label(key) == shown
