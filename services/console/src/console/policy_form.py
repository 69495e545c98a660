"""The policy page's form: an edited copy of the policy in force, and the trial's period.

The form is built from the policy triage answers with, not from a list kept here: each
number or text of the policy is a field of its own, anything structured (the routing
table) a JSON text area. So a field triage adds later appears on the page by itself.
The console checks only what it must to build the request (a number is a number, the
JSON parses); the rules themselves (ranges, bands in order, a new version) are triage's,
and its 422 comes back here field by field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from console.inputs import BadRequest, day, text_field

LABELS: dict[str, tuple[str, str]] = {
    "version": ("Version", "A new name for this policy, for example mash-default-2"),
    "high_score": ("High risk DASH score", "The DASH score for high risk and visible high risk"),
    "medium_score": ("Medium risk DASH score", "The DASH score for medium risk"),
    "child_age": ("Child age", "A child is under this age"),
    "repeat_window_days": ("Repeat window (days)", "A repeat victim within this many days"),
    "escalation_incidents": ("Escalation incidents", "This incident included"),
    "serial_window_years": ("Serial perpetrator window (years)", ""),
    "serial_victims": ("Serial perpetrator victims", "This victim included"),
    "marac_window_days": ("Repeat MARAC window (days)", ""),
    "dip_sample_share": ("Dip-sample share", "Between 0 and 1, for example 0.10"),
    "routes": ("Routing table (JSON)", "Which agency gets a referral, for what reason, when"),
}
PERIOD = ("from", "to", "area")
PERIOD_LABELS = {"from": "Reported from", "to": "Reported to", "area": "Area", "policy": "Policy"}


@dataclass(frozen=True)
class PolicyField:
    """One field of the policy: its name, how it is entered, and its value as text."""

    name: str
    kind: str  # "int", "float", "text" or "json"
    value: str

    @property
    def id(self) -> str:
        return f"policy-{self.name}"

    @property
    def label(self) -> str:
        return LABELS.get(self.name, (self.name.replace("_", " ").capitalize(), ""))[0]

    @property
    def hint(self) -> str:
        return LABELS.get(self.name, ("", ""))[1]


def _kind(value: Any) -> str:
    if isinstance(value, (bool, list, dict)):
        return "json"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "text" if isinstance(value, str) else "json"


def _text(value: Any, kind: str) -> str:
    return json.dumps(value, indent=1) if kind == "json" else str(value)


@dataclass
class TrialForm:
    """The form as shown or as filled in, and what is wrong with it (field id -> message)."""

    fields: list[PolicyField]
    period: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    def value_of(self, name: str) -> str:
        return self.period.get(name, "")


def copy_of(current: dict[str, Any], today: date) -> TrialForm:
    """The policy in force as a form, its version left for the person to name, the last
    year as the period."""
    fields = [
        PolicyField(name, _kind(value), "" if name == "version" else _text(value, _kind(value)))
        for name, value in current.items()
    ]
    start = today - timedelta(days=365)
    return TrialForm(fields, {"from": start.isoformat(), "to": today.isoformat(), "area": ""})


def filled(current: dict[str, Any], sent: dict[str, str]) -> tuple[TrialForm, dict[str, Any]]:
    """The form as sent (each field of the policy in force, typed as it is there) and the
    trial's request body; `form.errors` says what cannot be sent as it is."""
    form = TrialForm([], {name: sent.get(name, "").strip()[:64] for name in PERIOD})
    policy: dict[str, Any] = {}
    for name, value in current.items():
        kind = _kind(value)
        text = sent.get(f"policy-{name}", "")
        form.fields.append(PolicyField(name, kind, text))
        parsed = _parse(text, kind)
        if parsed is None:
            form.errors[f"policy-{name}"] = _expected(LABELS.get(name, (name, ""))[0], kind)
        else:
            policy[name] = parsed
    for name in ("from", "to"):
        try:
            if day(form.period[name], name) is None:
                form.errors[name] = f"Enter the date the trial {_ends(name)}, like 2026-11-21."
        except BadRequest as exc:
            form.errors[name] = exc.detail
    body: dict[str, Any] = {"policy": policy, "from": form.period["from"], "to": form.period["to"]}
    if form.period["area"]:
        body["area"] = form.period["area"]
    return form, body


def _ends(name: str) -> str:
    return "starts" if name == "from" else "ends"


def _parse(text: str, kind: str) -> Any:
    """The field's value for the request, or None when it is not of its kind."""
    text = text.strip()
    try:
        if kind == "int":
            return int(text) if text.lstrip("-").isdigit() and len(text) < 10 else None
        if kind == "float":
            return float(text) if len(text) < 20 and text.lower() not in ("nan", "inf") else None
        if kind == "json":
            return json.loads(text) if len(text) < 20_000 else None
    except ValueError:
        return None
    return text_field(text, 64) or None


def _expected(label: str, kind: str) -> str:
    return {
        "int": f"{label} must be a whole number.",
        "float": f"{label} must be a number, like 0.10.",
        "json": f"{label} must be valid JSON.",
    }.get(kind, f"Enter the {label.lower()}: at most 64 characters, no control characters.")


def field_errors(form: TrialForm, errors: list[dict[str, Any]]) -> dict[str, str]:
    """Triage's 422 `errors`, each under the field it names (`["body", "policy",
    "high_score"]` -> `policy-high_score`); one naming no field of the form goes first."""
    known = {f.id for f in form.fields} | set(PERIOD)
    found: dict[str, str] = {}
    for error in errors:
        loc = [str(part) for part in error.get("loc", [])]
        message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")[:200]
        target = "policy" if loc[:1] == ["body"] and len(loc) == 1 else ""
        if loc[:2] == ["body", "policy"] and len(loc) > 2:
            target = f"policy-{loc[2]}"
        elif loc[:1] == ["body"] and len(loc) > 1:
            target = loc[1]
        if target not in known:
            target = "policy"
        labels = {f.id: f.label for f in form.fields} | PERIOD_LABELS
        name = labels.get(target, target)
        found.setdefault(target, f"{name}: {message}")
    return found
