"""Marac's 422 errors on the MARAC pages' forms, beside the fields they name.

Each of marac's errors (`{"loc": ["body", "victim", "date_of_birth"], "msg": ...}`)
becomes a message beside the page's field (`victim-date_of_birth-day`) and a link in the
page's error summary, as GOV.UK's error summary pattern has it, worded as GOV.UK words
errors: what to do ("Enter the victim's given name"), not what a validator saw.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from console.marac_form import ReferralForm

CHOICES = frozenset(
    {"consent", "criteria", "referring_agency", "dash-professional_judgement", "known", "agency"}
)
"""Fields answered by choosing (radios, checkboxes): "Select", not "Enter"."""
LABELS = {
    "referral_ref": "Your reference",
    "referring_agency": "The referring agency",
    "area": "The MARAC area",
    "criteria": "The referral criteria",
    "consent": "The victim's consent",
    "consent_reason": "Why consent was not given or not sought",
    "professional_judgement_reason": "The reason for professional judgement",
    "victim_fears": "What the victim fears",
    "safe_contact": "How to contact the victim safely",
    "summary": "The summary",
    "dash-q1": "The DASH answers",
    "dash-completed_by": "Who completed the DASH",
    "dash-professional_judgement": "The DASH's professional judgement",
}
PARTS = {
    "name": "name",
    "role": "role",
    "phone": "phone number",
    "email": "email address",
    "given_name": "given name",
    "family_name": "family name",
    "person_id": "person id",
    "date_of_birth-day": "date of birth",
    "address-lines": "address",
    "address-postcode": "postcode",
    "contact-phone": "phone number",
    "contact-email": "email address",
    "equality-sex": "sex",
    "equality-ethnicity": "ethnic group",
    "equality-disability": "disability",
    "equality-lgbt": "LGBT+",
    "present_at_incident": "presence at the incident",
    "school_urn": "school URN",
}
RULES = {
    ("dash", "is required with visible_high_risk"): (
        "Answer the DASH questions: visible high risk needs the DASH"
    ),
    ("dash-q1", "visible_high_risk needs at least 14 yes answers"): (
        "Visible high risk needs at least 14 'yes' answers on the DASH"
    ),
    ("professional_judgement_reason", "is required with professional_judgement"): (
        "Enter the reason for referring on professional judgement"
    ),
    ("consent_reason", "is required unless consent is given"): (
        "Enter why the victim's consent was not given or not sought"
    ),
}


def field_id(loc: Sequence[Any], slots: Mapping[str, list[int]] | None = None) -> str:
    """The page's field that an error's `loc` names (the first box of a date, the first
    DASH question for the answers as a whole, the first checkbox of the criteria; the
    box a perpetrator or child was typed in)."""
    path = [str(p) for p in loc]
    if len(path) > 2 and path[1] in (slots or {}) and path[2].isdigit():
        sent = (slots or {})[path[1]]
        index = int(path[2])
        path[2] = str(sent[index] if index < len(sent) else index)
    if path[:1] == ["body"]:
        path = path[1:]
    if not path:
        return ""
    head = path[0]
    if head == "dash" and (len(path) == 1 or path[1] == "answers"):
        return f"dash-{path[2]}" if len(path) > 2 and path[2].startswith("q") else "dash-q1"
    if head == "criteria":
        return "criteria"
    if head in ("perpetrators", "children"):
        path = path if len(path) > 1 and path[1].isdigit() else [head, "0", "given_name"]
    if path[-1] == "date_of_birth":
        return "-".join(path) + "-day"
    if len(path) >= 3 and path[-2] == "lines" and path[-1].isdigit():
        path = path[:-1]
    return "-".join(path[:4])


def label(name: str) -> str:
    """What a field is, in words: `children-1-school_urn` -> `Child 2's school URN`."""
    if name in LABELS:
        return LABELS[name]
    head, _, rest = name.partition("-")
    if head == "referrer":
        return f"Your {PARTS.get(rest, rest.replace('_', ' '))}"
    if head == "victim":
        return f"The victim's {PARTS.get(rest, rest.replace('_', ' '))}"
    if head in ("perpetrators", "children"):
        number, _, part = rest.partition("-")
        who = "Perpetrator" if head == "perpetrators" else "Child"
        index = int(number) + 1 if number.isdigit() else 1
        return f"{who} {index}'s {PARTS.get(part, part.replace('_', ' '))}"
    return name.replace("_", " ").replace("-", " ").capitalize()


def message(name: str, msg: str, what: str | None = None) -> str:
    """One error as GOV.UK words it: what to do, not what the validator saw."""
    msg = msg.removeprefix("Value error, ")
    key = "dash" if name == "dash-q1" and "required" in msg else name
    if (key, msg) in RULES:
        return RULES[(key, msg)]
    what = what or label(name)
    lowered = what[:1].lower() + what[1:]
    chosen = name in CHOICES or name.endswith(("present_at_incident", "disability", "lgbt"))
    if (msg == "Field required" and not chosen) or msg.startswith("String should have at least 1"):
        return f"Enter {lowered}"
    if msg.startswith(("Field required", "Input should be", "List should have at least")):
        return f"Select {lowered}"
    if msg.startswith("String should match pattern"):
        return f"{what} is not in the right format"
    if msg.startswith(("String should have at most", "List should have at most")):
        return f"{what} is too long: " + msg.split("should have ", 1)[1]
    return f"{what}: {msg}"


def with_errors(form: ReferralForm, errors: Iterable[Mapping[str, Any]]) -> ReferralForm:
    """The form with marac's errors beside their fields (the first for each field)."""
    for error in errors:
        name = field_id(error.get("loc", ()), form.slots)
        form.errors.setdefault(name, message(name, str(error.get("msg", ""))))
    return form


def simple_errors(
    errors: Iterable[Mapping[str, Any]], labels: Mapping[str, str], dates: Sequence[str] = ()
) -> dict[str, str]:
    """A one-level form's errors (research, an action, its outcome): `["body", name]` to
    the field `name` (a date's first box); anything else to the summary only."""
    found: dict[str, str] = {}
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())]
        name = loc[1] if len(loc) > 1 and loc[0] == "body" else ""
        box = f"{name}-day" if name in dates else name if name in labels else ""
        text = message(name, str(error.get("msg", "")), labels.get(name, "This form"))
        found.setdefault(box, text)
    return found


def typed_date(day: str, month: str, year: str) -> str | None:
    """A date typed in three boxes as `YYYY-MM-DD`, or None when it is no date."""
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None
