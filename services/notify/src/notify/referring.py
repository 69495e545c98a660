"""Making a transaction's referrals as a set: what one-by-one did, in a few statements.

The consumer loop hands notify a fetched batch (up to 500 decisions and MARAC referrals)
in one transaction, calling a handler once per event. Making each referral at once took
six statements a referral and one more an event (the referrals the incident had, the
agency's subscription, two inserts, reading the entry back, its topic event's and its
log entry's outbox rows): with perpetrators, notify was the hub's largest consumer of
CPU per incident (docs/speed.md). So a handler only plans (the domain, at its own
`now`) and stages what its event calls for here, with the trace it is processed in; when
the transaction ends (`shared.db.at_commit`) the whole batch is made at once: one query
for the referrals its incidents have, one for the subscriptions of its agencies, then
one executemany each for the referrals, their deliveries, and the outbox rows.

The result is the one-by-one result, row for row: events are made in the order the
handler saw them (the loop's order: each partition in offset order), and a referral an
incident has already (in the ledger, or made earlier in the same batch: a re-grade, or
the same decision again under another event id) is not made again. Outbox rows keep the
order one-by-one wrote them in (each referral's topic event, then its log entry), so the
relay publishes them in the same order per key. Ids (`uuid4`) are drawn here as they
were in the handler. One difference cannot be seen from outside: a delivery is pinned
to the agency's subscription as of the batch's end rather than of its event, which a
subscription changed while the batch ran cannot tell from a change just before or after.

`shared.outbox.Outbox.add` and `shared.audit.log` write one row a statement and are
shared with every service; the rows here are made by the function `Outbox.add` makes its
row with (`shared.outbox.outbox_row`, given the handler's trace) and the log entries by
`shared.audit.entries`, the function `audit.log` stages.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from notify import repository
from notify.domain.clocks import ClockPolicy
from notify.domain.records import created_record
from notify.domain.referrals import NewReferral
from shared import audit
from shared.audit import Entry
from shared.db import at_commit
from shared.envelope import CloudEvent
from shared.outbox import outbox_row
from shared.schemas import Person
from shared.topics import REFERRAL_CREATED, audit_topic, referrals_topic

if TYPE_CHECKING:
    from notify.handlers import Notify

NAME = "notify"
_STAGED = "notify.referrals"


@dataclass(frozen=True)
class Origin:
    """What a referral is made for: an incident (and the decision), or a MARAC referral
    (its id as both); the risk level it carries; the victim's Kafka key."""

    incident_id: str
    decision_id: str
    risk_level: str
    key: str


@dataclass(frozen=True)
class Wanted:
    """The referrals one event calls for (each with the person it is about), waiting for
    the transaction's end; its time of processing and the trace it was processed in."""

    origin: Origin
    referrals: list[tuple[NewReferral, Person | None]]
    now: datetime
    trace: dict[str, str]


def stage(notify: Notify, session: AsyncSession, wanted: Wanted) -> None:
    """Make the referrals of `wanted` that its incident does not have yet, when this unit
    of work commits."""
    staged: list[Wanted] | None = session.info.get(_STAGED)
    if staged is None:
        staged = session.info[_STAGED] = []
        at_commit(session, _STAGED, functools.partial(make, notify))
    staged.append(wanted)


async def make(notify: Notify, session: AsyncSession) -> None:
    """Make every staged referral not made yet (see the module docstring)."""
    staged: list[Wanted] = session.info.pop(_STAGED, [])
    if not staged:
        return
    made = await repository.made_for_each(session, {w.origin.incident_id for w in staged})
    agencies = {r.agency for w in staged for r, _ in w.referrals}
    webhooks = await repository.subscriptions_of(session, agencies)
    news: list[repository.NewEntry] = []
    rows: list[dict[str, Any]] = []
    for wanted in staged:
        have = made.setdefault(wanted.origin.incident_id, set())
        fresh = [(r, about) for r, about in wanted.referrals if (r.agency, r.subject) not in have]
        # after the whole event, as one-by-one's one query before it: a pair twice in one
        # event fails on the ledger's constraint here as it did there
        have.update((r.agency, r.subject) for r, _ in fresh)
        for referral, about in fresh:
            new = _new_entry(notify, wanted, referral, about, webhooks.get(referral.agency))
            news.append(new)
            rows.extend(_events(notify, wanted, new))
    await repository.add_referrals(session, news)
    await notify.platform.outbox.add_rows(session, rows)
    for new in news:
        notify.metrics.referrals.labels(new.referral.agency).inc()


def _new_entry(
    notify: Notify,
    wanted: Wanted,
    referral: NewReferral,
    about: Person | None,
    webhook: repository.Webhook | None,
) -> repository.NewEntry:
    """One referral and its delivery, pinned to the agency's subscription of now."""
    origin = wanted.origin
    return repository.NewEntry(
        referral_id=str(uuid4()),
        referral=referral,
        incident_id=origin.incident_id,
        decision_id=origin.decision_id,
        risk_level=origin.risk_level,
        victim_key=origin.key,
        created_at=wanted.now,
        clock_policy=ClockPolicy().version,
        webhook=webhook,
        trace=wanted.trace,
        subject_keys=audit.person_keys(notify.settings.hub.pseudonym_key, about),
    )


def _events(notify: Notify, wanted: Wanted, new: repository.NewEntry) -> list[dict[str, Any]]:
    """The outbox rows of one referral: its event on the agency's topic (ce_id = the
    referral's id, on Kafka as in the webhook), then its log entry (disclosed)."""
    origin, agency = wanted.origin, new.referral.agency
    topic = referrals_topic(agency)
    event = CloudEvent(
        id=new.referral_id,
        source=notify.settings.source,
        type=REFERRAL_CREATED,
        subject=origin.incident_id,
        data=created_record(repository.entry_of(new)),
        time=wanted.now,
    )
    rows = [outbox_row(topic, origin.key, event, wanted.trace)]
    disclosed = Entry(NAME, "disclosed", NAME, "topic", topic, "referral", agency)
    ids = audit.items([new.referral_id, origin.incident_id], new.subject_keys)
    for entry in audit.entries(disclosed, ids, wanted.now):
        rows.append(outbox_row(audit_topic(NAME), NAME, entry, wanted.trace))
    return rows
