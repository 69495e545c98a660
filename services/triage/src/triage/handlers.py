"""Triage's commands and event handlers: load, call the domain, save, emit.

Each runs in one transaction; every decision goes out through the outbox with it, and so
does its log entry (contract section 12): `combined` when an incident is linked to its
people's other incidents, `altered` when a later DASH or a re-grade decides again. The
module ends with `EVENTS`, the table the consumer dispatches on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from opentelemetry import trace
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from shared import audit, outbox
from shared.audit import Entry, Item
from shared.db import hold, utc
from shared.envelope import CloudEvent
from shared.identity import Identity, from_keys, identify, same_person, victim_key
from shared.kafka import EventTable, On, PoisonMessage
from shared.schemas import (
    Dash,
    IncidentReported,
    MaracCaseListed,
    Person,
    RiskAssessmentSubmitted,
    TriageDecided,
)
from shared.schemas.v1 import Regrade, RiskLevel
from shared.service import Platform
from shared.topics import (
    DECISIONS,
    INCIDENT_REPORTED,
    INCIDENTS,
    MARAC_CASE_LISTED,
    RISK_ASSESSMENT_SUBMITTED,
    SUMMARIES,
    TRIAGE_DECIDED,
    TRIAGE_SUMMARISED,
)
from triage import repository
from triage.config import Settings
from triage.domain.decision import decide, decision_id, knock_on_cause, published, same_substance
from triage.domain.policy import TriagePolicy
from triage.domain.summary import summarise, summary_id
from triage.domain.windows import OnRecord, PastIncident, reported_later

SOURCE = "/mash/triage"
NAME = "triage"
COMBINED = Entry(NAME, "combined", NAME, "topic", INCIDENTS, "incident")
"""Linking an incident to its people's other incidents, as triage consumes it."""
ALTERED = Entry(NAME, "altered", NAME, "topic", INCIDENTS, "decision")
"""A later DASH deciding again, or a knock-on re-decision that changed a decision (a late
arrival, an applied policy); a re-grade is logged as its caller's, through the API."""


@dataclass(frozen=True)
class Triage:
    """What triage's handlers work with: the platform and a decision counter."""

    platform: Platform[Settings]
    decisions: Counter

    @classmethod
    def on(cls, platform: Platform[Settings]) -> Triage:
        counter = Counter(
            "mash_triage_decisions",
            "Triage decisions made",
            ["risk_level", "risk_basis", "marac_eligible"],
            registry=platform.metrics.registry,
        )
        return cls(platform, counter)

    @property
    def policy(self) -> TriagePolicy:
        return self.platform.settings.policy

    @property
    def secret(self) -> str:
        return self.platform.settings.hub.pseudonym_key

    def keys(self, incident: IncidentReported) -> tuple[str, ...]:
        """Every pseudonymous key of the incident's people: what its log entries name."""
        return audit.keys_of(self.secret, [incident.victim, incident.suspect, *incident.children])


class UnknownIncident(Exception):
    """Triage has no incident with this id (yet)."""


@dataclass(frozen=True)
class RegradeOrder:
    """The central referral unit's re-grade: the level, why, and by whom."""

    risk_level: RiskLevel
    reason: str
    by: str
    principal: str
    """Who asked: the token's `sub` (the log names them, with the route)."""
    route: str = "/v1/incidents/{incident_id}/regrade"


@dataclass(frozen=True)
class Regraded:
    regrade_id: UUID
    decision_id: UUID


def hold_names(incident_id: str, *people: Identity | None) -> list[str]:
    """What to hold (`shared.db.hold`) for a decision on an incident: it, and its people's
    hashes. Two incidents of one person may arrive on different partitions (one with a
    person id, one without): whoever holds second waits, then sees the first one's record."""
    return [f"incident:{incident_id}", *(h for p in people if p for h in p.hashes)]


async def on_incident_reported(
    triage: Triage,
    session: AsyncSession,
    incident: IncidentReported,
    event: CloudEvent,
    now: datetime,
) -> None:
    """A new incident: put it on its people's record and decide on it."""
    outbox.set_wise(session)
    incident_id = str(incident.incident_id)
    victim = identify(triage.secret, incident.victim)
    suspect = identify(triage.secret, incident.suspect) if incident.suspect else None
    await hold(session, hold_names(incident_id, victim, suspect))
    if await repository.find_incident(session, incident_id) is not None:
        return  # already decided on: the same incident again under another event id
    key = victim_key(triage.secret, incident.victim, incident_id)
    stored = await repository.add_incident(session, incident, key, victim, suspect, now)
    record = stored.case.record
    on_record = await repository.on_record(session, record.victim, record.suspect)
    await _log_combined(triage, session, stored, on_record, now)
    await _decide(triage, session, incident_id, event.id, now, known=(stored, on_record))
    # Another victim's incidents travel on another partition: one reported later may have
    # been decided first. Its windows now hold this one, so decide on it again.
    later = reported_later(on_record.incidents, record.reported_at, exclude=[incident_id])
    for other in later:
        await _decide(triage, session, other, knock_on_cause(event.id, other), now, knock_on=True)


async def prepare(triage: Triage, session: AsyncSession, events: Sequence[CloudEvent]) -> None:
    """A fetched batch's first step (`shared.kafka.BatchHandler`): hold the people of its
    new incidents and read their history once for the whole batch
    (`repository.preload`), so each incident's decision reads no history of its own.
    An event whose people cannot be read is left to its handler (poison or not, alone)."""
    outbox.set_wise(session)
    incident_ids: list[str] = []
    people: list[repository.People] = []
    for event in events:
        if event.type != INCIDENT_REPORTED:
            continue
        try:
            victim = identify(triage.secret, Person.model_validate(event.data["victim"]))
            found = event.data.get("suspect")
            suspect = identify(triage.secret, Person.model_validate(found)) if found else None
            incident_id = str(UUID(str(event.data["incident_id"])))
        except (KeyError, TypeError, ValueError):  # pydantic's ValidationError is a ValueError
            continue
        incident_ids.append(incident_id)
        people.append((victim, suspect))
    if not people:
        return
    names = [n for i, (v, s) in zip(incident_ids, people, strict=True) for n in hold_names(i, v, s)]
    await hold(session, names)
    await repository.preload(session, incident_ids, people)


async def on_risk_assessment_submitted(
    triage: Triage,
    session: AsyncSession,
    submitted: RiskAssessmentSubmitted,
    event: CloudEvent,
    now: datetime,
) -> None:
    """A DASH completed after the report: it replaces the incident's DASH; decide again.

    A CRU re-grade already made stays in force (the level is the CRU's until it re-grades
    again); the new score still counts for `visible_high_risk` and the flags.
    """
    outbox.set_wise(session)
    incident_id = str(submitted.incident_id)
    known = await repository.find_incident(session, incident_id)
    if known is None:
        # one victim's events share a partition, so the incident always comes first
        raise PoisonMessage("a risk assessment for an incident triage has never seen")
    record = known.case.record
    await hold(session, hold_names(incident_id, record.victim, record.suspect))
    dash = Dash.model_validate(submitted.model_dump(include=set(Dash.model_fields)))
    await repository.set_dash(session, incident_id, dash)
    decided = await _decide(triage, session, incident_id, event.id, now)
    assert decided is not None, "only a knock-on decision may be left out"
    keys = triage.keys(known.case.incident)
    ids = audit.items([incident_id, str(decided.decision_id)], keys)
    await audit.log(triage.platform.outbox, session, ALTERED, ids, now)


async def on_case_listed(
    triage: Triage,
    session: AsyncSession,
    listing: MaracCaseListed,
    event: CloudEvent,
    now: datetime,
) -> None:
    """A victim listed at a MARAC: remember it (pseudonymously) for `repeat_marac`."""
    outbox.set_wise(session)
    victim = from_keys(listing.victim_keys)
    if not victim.hashes:
        return  # matches nobody, so it could never make anyone a repeat
    await hold(session, victim.hashes)
    listed = [str(i) for i in listing.incident_ids]
    await repository.add_listing(
        session, event.id, listing.case_id, victim, listing.listed_at, listed
    )
    # the victim's next incident may have been decided before this listing arrived
    since = min(
        await repository.reported_times(session, listed),
        default=utc(listing.listed_at) - timedelta(days=366),
    )
    of_victim = await repository.incidents_of(session, victim, None)
    for other in reported_later(of_victim, since, exclude=listed):
        await _decide(triage, session, other, knock_on_cause(event.id, other), now, knock_on=True)


async def regrade(
    triage: Triage, incident_id: UUID, order: RegradeOrder, now: datetime
) -> Regraded:
    """Record the CRU's re-grade (who, when, why) and publish the decision it makes."""
    key = str(incident_id)
    async with triage.platform.uow() as session:
        outbox.set_wise(session)
        known = await repository.find_incident(session, key)
        if known is None:
            raise UnknownIncident(key)
        record = known.case.record
        await hold(session, hold_names(key, record.victim, record.suspect))
        regrade_id = uuid4()
        grade = Regrade(risk_level=order.risk_level, reason=order.reason, by=order.by, at=now)
        await repository.add_regrade(session, regrade_id, key, grade, order.principal)
        decided = await _decide(triage, session, key, str(regrade_id), now)
        assert decided is not None, "only a knock-on decision may be left out"
        ids = [key, str(regrade_id), str(decided.decision_id)]
        keys = triage.keys(known.case.incident)
        altered = Entry(NAME, "altered", order.principal, "api", order.route, "decision")
        await audit.log(triage.platform.outbox, session, altered, audit.items(ids, keys), now)
    return Regraded(regrade_id, decided.decision_id)


async def _log_combined(
    triage: Triage,
    session: AsyncSession,
    stored: repository.KnownIncident,
    on_record: OnRecord,
    now: datetime,
) -> None:
    """Log the linking of a new incident to the other incidents of its victim or suspect
    (those the identity rule matches, earlier or reported later but arrived first): the
    ids of all of them, and the keys of the people each is about. Nothing to log when
    the incident's people have no other incident."""
    record = stored.case.record
    linked = [p for p in on_record.incidents if _shares_a_person(p, record)]
    if not linked:
        return
    found = [Item(record.incident_id, triage.keys(stored.case.incident))]
    found += [Item(p.incident_id, _hashes(p.victim, p.suspect)) for p in linked]
    await audit.log(triage.platform.outbox, session, COMBINED, found, now)


def _shares_a_person(past: PastIncident, current: PastIncident) -> bool:
    """Whether another incident on record is of this incident's victim or suspect."""
    if past.incident_id == current.incident_id:
        return False
    if same_person(past.victim, current.victim):
        return True
    return bool(past.suspect and current.suspect and same_person(past.suspect, current.suspect))


def _hashes(*people: Identity | None) -> tuple[str, ...]:
    """The keys triage holds of these people: its identity hashes are the hub's person keys
    (`shared.audit.person_keys`), made with the same secret."""
    return tuple(dict.fromkeys(h for p in people if p for h in p.hashes))


async def _decide(
    triage: Triage,
    session: AsyncSession,
    incident_id: str,
    cause: str,
    now: datetime,
    *,
    knock_on: bool = False,
    known: tuple[repository.KnownIncident, OnRecord] | None = None,
    altered: Entry = ALTERED,
) -> TriageDecided | None:
    """Decide on a stored incident, keep the decision and stage it on the outbox.

    `known`: the incident as just stored and what is on record about its people, when
    the caller has them (else they are read). A knock-on re-decision (an earlier
    incident or a MARAC listing arrived late, under another incident) is published only
    if the decision really changes.
    """
    outbox.set_wise(session)
    if known is None:
        found = await repository.find_incident(session, incident_id)
        assert found is not None, "decide only on stored incidents"
        people = found.case.record
        known = (found, await repository.on_record(session, people.victim, people.suspect))
    stored, on_record = known
    case, latest = stored.case, stored.latest
    policy = await policy_in_force(triage, session)
    data = published(case, decide(case, on_record, policy), decision_id(cause), now)
    if knock_on and latest is not None and same_substance(latest.data, data):
        return None
    await repository.add_decision(session, data, latest.version + 1 if latest else 1, cause, now)
    event = CloudEvent(
        id=str(data.decision_id),
        source=SOURCE,
        type=TRIAGE_DECIDED,
        subject=incident_id,
        data=data.model_dump(mode="json"),
        time=now,
    )
    await triage.platform.outbox.add(session, DECISIONS, stored.victim_key, event)
    if knock_on:  # a late arrival or an applied policy changed this decision: altered
        ids = audit.items([incident_id, str(data.decision_id)], triage.keys(case.incident))
        await audit.log(triage.platform.outbox, session, altered, ids, now)
    await _stage_summary(triage, session, stored.victim_key, data, now)
    _observe(triage, data)
    return data


async def policy_in_force(triage: Triage, session: AsyncSession) -> TriagePolicy:
    """The policy applied last (kept in triage's store, so every replica and a restart use
    it), else the settings' initial one; read once per transaction (a consumer batch)."""
    cached = session.info.get(_POLICY)
    if isinstance(cached, TriagePolicy):
        return cached
    policy = await repository.applied_policy(session) or triage.policy
    session.info[_POLICY] = policy
    return policy


_POLICY = "triage.policy"


async def redecide(
    triage: Triage, session: AsyncSession, incident_id: str, cause: str, now: datetime, version: str
) -> TriageDecided | None:
    """Decide again on a stored incident under the policy in force, published only if the
    decision changes (an applied policy's re-decision: a new version always does); logged
    as altered by the policy job, `policy:<version>`, so a chronology names the policy."""
    by_policy = Entry(NAME, "altered", NAME, "job", f"policy:{version}", "decision")
    return await _decide(triage, session, incident_id, cause, now, knock_on=True, altered=by_policy)


async def _stage_summary(
    triage: Triage, session: AsyncSession, key: str, data: TriageDecided, now: datetime
) -> None:
    """Stage the decision's summary (no personal data: for read models such as the
    console) in the same transaction, keyed like the decision."""
    summary = summarise(data)
    event = CloudEvent(
        id=str(summary_id(data.decision_id)),
        source=SOURCE,
        type=TRIAGE_SUMMARISED,
        subject=str(data.incident_id),
        data=summary.model_dump(mode="json"),
        time=now,
    )
    await triage.platform.outbox.add(session, SUMMARIES, key, event)


def _observe(triage: Triage, data: TriageDecided) -> None:
    """Enums and counts only: no personal data reaches spans or metrics."""
    eligible = str(data.marac.eligible).lower()
    triage.decisions.labels(data.risk_level, data.risk_basis, eligible).inc()
    span = trace.get_current_span()
    span.set_attribute("mash.decision_id", str(data.decision_id))
    span.set_attribute("mash.risk_level", data.risk_level)
    span.set_attribute("mash.risk_basis", data.risk_basis)
    span.set_attribute("mash.flags", data.flags)
    span.set_attribute("mash.marac.criteria", data.marac.criteria)
    span.set_attribute("mash.referrals", len(data.referrals))


EVENTS: EventTable[Triage] = {
    INCIDENT_REPORTED: On(IncidentReported, on_incident_reported),
    RISK_ASSESSMENT_SUBMITTED: On(RiskAssessmentSubmitted, on_risk_assessment_submitted),
    MARAC_CASE_LISTED: On(MaracCaseListed, on_case_listed),
}
