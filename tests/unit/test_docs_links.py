"""The README and docs/ link only to files inside the repository: they work in any clone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.config import ROOT

PAGES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *ROOT.glob("services/*/README.md"),
]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_there_are_docs() -> None:
    names = {page.name for page in (ROOT / "docs").glob("*.md")}
    assert {"README.md", "interface.md", "rules.md", "operations.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(page: Path) -> None:
    text = page.read_text()
    assert "../shared/" not in text  # the contract's folder is not part of a clone
    for link in LINK.findall(text):
        if re.match(r"[a-z]+:", link) or link.startswith("#"):
            continue
        target = (page.parent / link.split("#", 1)[0]).resolve()
        assert target.is_relative_to(ROOT.resolve()), link
        assert target.exists(), f"{page.name}: {link}"


def test_the_readme_shows_how_to_find_an_incidents_trace() -> None:
    text = (ROOT / "README.md").read_text()
    assert "mash.incident_id=<incident_id>" in text
    assert "trace_id" in text
    assert "docs/interface.md" in text
