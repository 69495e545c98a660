"""How the pages write dates, months and the contract's names for people to read."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
_NAME = re.compile(r"[a-z]+(?:_[a-z]+)+|[a-z]+")
_QUESTION = re.compile(r"q\d+")
NAMES = {
    "childrens-social-care": "children's social care",
    "idva": "the IDVA service",
    "victim-support": "victim support",
    "safeguarding-team": "the police safeguarding team",
    "school": "schools",
    "mash": "the MASH",
    "dash_score": "DASH score",
    "marac": "MARAC",
}


# words the hub writes in capitals wherever they appear in a label
ACRONYMS = frozenset({"dash", "marac", "idva", "mash", "id", "nhs", "gp", "caf"})


def agency(name: str) -> str:
    return NAMES.get(name, name)


def label(key: Any) -> str:
    """`risk_level` -> `Risk level`; `dash_answers` -> `DASH answers`."""
    text = str(key if key is not None else "")
    if text in NAMES and "_" in text:
        return NAMES[text]
    words = [
        word.upper() if word.lower() in ACRONYMS else word
        for word in text.replace("_", " ").replace("-", " ").split()
    ]
    spaced = " ".join(words)
    return spaced[:1].upper() + spaced[1:] if spaced else ""


def when(value: Any) -> str:
    """An instant as people in the hub read it: `21 November 2026, 09:30` (UK time)."""
    moment = _instant(value)
    if moment is None:
        return str(value or "")
    local = moment.astimezone(LONDON)
    return f"{local.day} {local:%B %Y}, {local:%H:%M}"


def when_or_text(value: str) -> str:
    """Instants written for people, the contract's names (`coercive_control`) as words;
    any other text as it is."""
    if len(value) >= 20 and value[4:5] == "-" and "T" in value:
        return when(value)
    if _NAME.fullmatch(value):
        return label(value)
    return value


def in_order(mapping: dict[str, Any]) -> list[tuple[str, Any]]:
    """A record's fields in natural order (q2 before q10)."""
    if all(_QUESTION.fullmatch(k) for k in mapping):
        return sorted(mapping.items(), key=lambda kv: int(kv[0][1:]))
    return list(mapping.items())


def day(value: Any) -> str:
    try:
        found = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    return f"{found.day} {found:%B %Y}"


def month(value: str) -> str:
    """`2026-11` -> `November 2026`."""
    try:
        return f"{date.fromisoformat(value + '-01'):%B %Y}"
    except ValueError:
        return value


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


FILTERS: dict[str, Callable[..., Any]] = {
    "in_order": in_order,
    "agency": agency,
    "label": label,
    "when": when,
    "when_or_text": when_or_text,
    "day": day,
    "month": month,
}
