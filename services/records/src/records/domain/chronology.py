"""A person's chronology for a Domestic Abuse Related Death Review (contract 12): each log
entry about them read as one event of the review's vocabulary, with the agency it concerns
and a short factual summary. Pure: the entries in, the events out.

Only what an agency did or was told becomes an event: a report, a decision, a referral
disclosed, consumed or read, its acknowledgement, the MARAC's steps and a perpetrator
disclosed. Reads of other records, subscriptions and records' own answers are not part of
anyone's contact with the person and are left out.

A summary names services, agencies, routes and topics, never personal data (the routes
are templates and the topics and consumer groups are the hub's own names).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from records.domain.chain import Record

EventKind = Literal[
    "incident reported",
    "decision",
    "referral disclosed",
    "referral consulted",
    "acknowledged",
    "MARAC referral",
    "listed",
    "research",
    "action agreed or completed",
    "case closed",
    "perpetrator prioritised",
]
POLICE = "police"
HUB = "mash"
"""The hub's own steps (triage's decisions) are the MASH's."""
MARAC = "marac"


@dataclass(frozen=True)
class Event:
    """One step of the chronology: when, which agency, what happened, which records."""

    at: datetime
    agency: str
    event: EventKind
    ids: tuple[str, ...]
    summary: str


@dataclass(frozen=True)
class Known:
    """What the person's whole log tells about their referrals: each referral's agency
    (from its disclosure), to name who acknowledged or read it."""

    agencies: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, records: Iterable[Record]) -> Known:
        agencies = {
            r.ids[0]: r.recipient
            for r in records
            if _is(r, "notify", "disclosed", "referral") and r.ids and r.recipient
        }
        return cls(agencies)

    def agency_of(self, ids: Iterable[str]) -> str | None:
        """The one agency these referral ids were disclosed to (None: unknown or several)."""
        found = {self.agencies[i] for i in ids if i in self.agencies}
        return found.pop() if len(found) == 1 else None


def _is(r: Record, service: str, operation: str, resource: str) -> bool:
    return (r.service, r.operation, r.resource) == (service, operation, resource)


def _ids(r: Record, known: Known) -> tuple[str, ...]:
    """A read of a list names every record of the page: keep the person's referrals when
    they are known, so other people's ids do not appear in their chronology."""
    if r.operation == "consulted" and r.via == "api":
        own = tuple(i for i in r.ids if i in known.agencies)
        return own or r.ids
    return r.ids


def event_of(r: Record, known: Known) -> Event | None:
    """The event an entry is, or None when it is not one of a review's."""
    found = _classify(r, known)
    if found is None:
        return None
    agency, kind, summary = found
    return Event(r.at, agency, kind, _ids(r, known), summary)


def _classify(r: Record, known: Known) -> tuple[str, EventKind, str] | None:
    if r.service == "intake" and r.operation == "collected":
        what = "Risk assessment (DASH) submitted" if r.resource == "risk_assessment" else ""
        return POLICE, "incident reported", what or "Incident reported to the hub"
    if r.service == "triage" and r.operation in ("altered", "combined"):
        return HUB, "decision", _decision(r)
    if r.service == "perpetrators" and r.operation == "disclosed":
        to = r.recipient or "neighbourhood-team"
        return to, "perpetrator prioritised", f"Priority perpetrator disclosed to {to} on {r.route}"
    if r.resource == "referral":
        return _referral(r, known)
    if r.service == "marac":
        return _marac(r)
    return None


def _decision(r: Record) -> str:
    if r.operation == "combined":
        return f"Incident linked to {len(r.ids) - 1} other incident(s) of its victim or suspect"
    if r.via == "api":
        return f"Decision made again on a re-grade through {r.route}"
    if r.via == "job" and r.route.startswith("policy:"):
        return f"Decision made again under triage policy {r.route.removeprefix('policy:')}"
    return "Decision made again on a later risk assessment"


def _referral(r: Record, known: Known) -> tuple[str, EventKind, str] | None:
    if r.operation == "disclosed" and r.recipient:
        if r.via == "webhook":
            summary = f"Referral to {r.recipient} delivered to its webhook at {r.route}"
        else:
            summary = f"Referral to {r.recipient} disclosed on {r.route}"
        return r.recipient, "referral disclosed", summary
    if r.operation == "consulted" and r.via == "topic" and r.recipient:
        summary = f"Referral read from {r.route} by consumer group {r.sub}"
        return r.recipient, "referral consulted", summary
    if r.operation == "consulted" and r.via == "api":
        agency = known.agency_of(r.ids) or r.service
        return agency, "referral consulted", f"Referral read through {r.route}"
    if r.operation == "altered" and r.route.endswith("/ack"):
        agency = known.agency_of(r.ids) or r.service
        return agency, "acknowledged", f"Referral acknowledged by {agency}"
    return None


def _marac(r: Record) -> tuple[str, EventKind, str] | None:
    if r.resource == "marac_referral" and r.operation == "collected":
        return MARAC, "MARAC referral", f"MARAC referral received through {r.route}"
    if r.resource == "action":
        done = r.route.endswith("/complete")
        what = "completed" if done else "agreed"
        return MARAC, "action agreed or completed", f"MARAC action {what}"
    if r.resource != "marac_case":
        return None
    if r.operation == "combined":
        return MARAC, "listed", "Case listed for MARAC with its incidents and referrals"
    if "/research/" in r.route:
        return MARAC, "research", "An agency's research recorded for the MARAC case"
    if r.route.endswith("/outcome"):
        summary = "MARAC meeting outcome recorded: discussed cases closed, deferred ones wait"
        return MARAC, "case closed", summary
    return None


def chronology(records: Iterable[Record], known: Known) -> list[Event]:
    """The events of entries (already oldest first), those that are one."""
    return [e for e in (event_of(r, known) for r in records) if e is not None]
