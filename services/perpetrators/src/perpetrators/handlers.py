"""Perpetrators' event and command handlers: load, call the domain, save, emit.

Scoring a suspect over their incidents is logged as `combined`, and publishing a
perpetrator for the neighbourhood team as `disclosed` (contract section 12), in the
transaction that does it. The module ends with `EVENTS`, the table the consumer
dispatches from.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from perpetrators import batch, repository
from perpetrators.config import Settings
from perpetrators.domain import cohort, scoring
from perpetrators.domain.perpetrator import (
    IncidentOnRecord,
    Perpetrator,
    PersonDetails,
    perpetrator_id,
)
from perpetrators.domain.scoring import Incident
from perpetrators.schemas import record_of
from shared import audit, outbox
from shared.audit import Entry, Item
from shared.db import hold, utc
from shared.envelope import CloudEvent
from shared.identity import Identity, identify
from shared.kafka import EventTable, On
from shared.kafka_security import NEIGHBOURHOOD_TEAM
from shared.schemas import Person, TriageDecided
from shared.service import Platform
from shared.topics import (
    DECISIONS,
    PERPETRATOR_PRIORITISED,
    PERPETRATOR_RELEASED,
    PERPETRATORS,
    TRIAGE_DECIDED,
)

SOURCE = "/mash/perpetrators"
EVENT_TYPES = {"prioritised": PERPETRATOR_PRIORITISED, "released": PERPETRATOR_RELEASED}
log = logging.getLogger(__name__)
NAME = "perpetrators"
COMBINED = Entry(NAME, "combined", NAME, "topic", DECISIONS, "perpetrator")
DISCLOSED = Entry(
    NAME, "disclosed", NAME, "topic", PERPETRATORS, "perpetrator", recipient=NEIGHBOURHOOD_TEAM
)


async def on_triage_decided(
    platform: Platform[Settings],
    session: AsyncSession,
    decision: TriageDecided,
    event: CloudEvent,
    now: datetime,
) -> None:
    """A triage decision: its incident scores its suspect, when the suspect is identifiable.

    A later decision for the same incident (a DASH, a re-grade) updates that incident."""
    outbox.set_wise(session)  # its outbox rows: one statement for the whole batch
    incident = decision.incident
    if incident.suspect is None:
        return
    secret = platform.settings.hub.pseudonym_key
    suspect = identify(secret, incident.suspect)
    if not suspect.hashes:
        return  # an unidentifiable suspect scores nobody
    # One suspect's incidents against different victims travel under different Kafka
    # keys, so two replicas may resolve them at once: the second waits here, then finds
    # the first one's perpetrator rather than making a second one.
    await hold(session, suspect.hashes)  # in a batch, its step held them: no statement
    ref = await batch.resolve_perpetrator(session, suspect, perpetrator_id(secret, suspect), now)
    kept = IncidentOnRecord(
        incident=Incident(
            incident_id=str(decision.incident_id),
            reported_at=utc(incident.reported_at),
            risk_level=decision.risk_level,
            child_present=any(c.present_at_incident for c in incident.children),
            abuse_types=tuple(incident.abuse_types),
            victim=identify(secret, incident.victim),
        ),
        area=decision.area,
        decided_at=utc(decision.decided_at),
        suspect=PersonDetails(
            incident.suspect.given_name,
            incident.suspect.family_name,
            incident.suspect.date_of_birth,
        ),
    )
    await batch.save_incident(session, ref, kept)
    _, scored = await _rescore(platform, session, ref, now)
    await _log_combined(platform, session, ref, suspect.hashes, scored, now)


async def prepare(
    platform: Platform[Settings], session: AsyncSession, events: Sequence[CloudEvent]
) -> None:
    """A fetched batch's first step (`shared.kafka.BatchHandler`): hold its suspects and
    read once what their decisions would each read (`batch.preload`). An event whose
    suspect cannot be read is left to its handler (poison or not, alone)."""
    outbox.set_wise(session)
    secret = platform.settings.hub.pseudonym_key
    suspects: list[tuple[Identity, str]] = []
    incident_ids: list[str] = []
    for event in events:
        if event.type != TRIAGE_DECIDED:
            continue
        try:
            found = event.data["incident"].get("suspect")
            suspect = identify(secret, Person.model_validate(found)) if found else None
            incident_id = str(UUID(str(event.data["incident_id"])))
        except (AttributeError, KeyError, TypeError, ValueError):  # ValidationError too
            continue
        if suspect is None or not suspect.hashes:
            continue
        suspects.append((suspect, perpetrator_id(secret, suspect)))
        incident_ids.append(incident_id)
    if not suspects:
        return
    names = [h for identity, _ in suspects for h in identity.hashes]
    await hold(session, names)
    await batch.preload(session, suspects, incident_ids)


async def _log_combined(
    platform: Platform[Settings],
    session: AsyncSession,
    ref: str,
    keys: tuple[str, ...],
    scored: list[IncidentOnRecord],
    now: datetime,
) -> None:
    """The suspect scored over every incident on record against them (`scored`, as the
    score read them): the perpetrator with the suspect's keys, and each incident with
    its victim's."""
    found = [Item(ref, keys)]
    found += [Item(k.incident.incident_id, k.incident.victim.hashes) for k in scored]
    await audit.log(platform.outbox, session, COMBINED, found, now)


async def rescore(
    platform: Platform[Settings], session: AsyncSession, ref: str, now: datetime
) -> cohort.Change | None:
    """Score one perpetrator at `now`; entering or leaving the cohort is announced."""
    change, _ = await _rescore(platform, session, ref, now)
    return change


async def _rescore(
    platform: Platform[Settings], session: AsyncSession, ref: str, now: datetime
) -> tuple[cohort.Change | None, list[IncidentOnRecord]]:
    """`rescore`, and the incidents on record it scored over, oldest first."""
    policy = platform.settings.policy
    before = await batch.lock(session, ref)
    kept = await batch.incidents_of(session, ref)
    if not kept:
        return None, kept
    latest = max(kept, key=lambda k: (k.incident.reported_at, k.incident.incident_id))
    score = scoring.score([k.incident for k in kept], now, policy)
    after = Perpetrator(
        perpetrator_id=ref,
        area=latest.area,
        person=latest.suspect,
        score=score,
        priority=cohort.is_priority(score, policy),
        last_incident_id=latest.incident.incident_id,
    )
    await batch.save(session, after, before)
    change = cohort.change(before.priority if before else False, after.priority)
    if change is not None:
        await announce(platform, session, ref, change, now)
    return change, kept


async def announce(
    platform: Platform[Settings],
    session: AsyncSession,
    ref: str,
    change: cohort.Change,
    now: datetime,
) -> None:
    """Stage the change on `mash.perpetrators.v1`, keyed by the perpetrator, with the
    perpetrator as `GET /v1/perpetrators/{id}` shows them."""
    policy = platform.settings.policy
    await batch.flush(session)  # what the batch staged so far, for `find` to read
    found = await repository.find(
        session, ref, partial(scoring.months_before, months=policy.window_months)
    )
    assert found is not None
    event = CloudEvent(
        id=str(uuid4()),
        source=SOURCE,
        type=EVENT_TYPES[change],
        subject=found.last_incident_id or ref,
        data=record_of(found).model_dump(mode="json"),
        time=now,
    )
    await platform.outbox.add(session, PERPETRATORS, ref, event)
    # released or prioritised, the record goes to the neighbourhood team's topic
    keys = (await repository.identity_keys(session, [ref])).get(ref, ())
    await audit.log(platform.outbox, session, DISCLOSED, [Item(ref, keys)], now)
    log.info("perpetrator %s %s", ref, change)


async def rescore_all(platform: Platform[Settings], now: datetime) -> int:
    """The daily re-score: every perpetrator at `now`, each in its own transaction
    (recency decays; windows close). The number whose cohort membership changed."""
    async with platform.sessions() as session:
        refs = await repository.all_ids(session)
    changed = 0
    for ref in refs:
        async with platform.uow() as session:
            changed += await rescore(platform, session, ref, now) is not None
    return changed


EVENTS: EventTable[Platform[Settings]] = {
    TRIAGE_DECIDED: On(TriageDecided, on_triage_decided),
}
