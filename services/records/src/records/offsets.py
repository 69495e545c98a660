"""What the partners consumed, as the broker knows it: their consumer groups, where each
has committed, and the records it has committed past, with their ids and the people's
keys (`records.partners` logs them). Asked with records' own principal (contract section
8: DESCRIBE on the groups of the prefixes `<agency>.`, `neighbourhood-team.` and `ops.`;
READ on the referral topics, `mash.perpetrators.v1` and the log topics).

What a group has committed is what it has consumed, whoever its members were, so the
groups are found with ListGroups and their positions with OffsetFetch. (DescribeGroups
adds only the members, and aiokafka 0.14 cannot parse Kafka 3.9's answer to it.)

The broker answers only what the principal may see: a group without DESCRIBE is not
listed, and a committed offset on a topic without DESCRIBE is left out of OffsetFetch's
answer, without an error. An empty answer is what a missing ACL looks like.

Ids and subjects, by topic:
- `mash.referrals.<agency>.v1`: the value's `referral_id`; the subjects are the Kafka key
  (the victim's pseudonymous key) and the keys of the people the minimised record names
  (victim, suspect, children: `shared.identity` over their names and date of birth), so a
  search by the victim's person id or by their names finds the entry.
- `mash.perpetrators.v1`: the `perpetrator_id`; the key of the person it names.
- `mash.audit.<service>.v1` (ops may read them): the `entry_id`, resource `records`, and
  the entry's own subjects; except records' own entries of what partners consumed (this
  module's), which are not logged as consumed again: that would never end.
- A topic records may not read (ops reads every `mash.*` topic, records only the topics
  above): records must not read incidents or decisions just to log that ops did, so the
  ids are the ranges themselves, one `<topic>:<partition>:<first>-<last>` (offsets,
  inclusive) per partition, which name the records exactly; the resource is the kind of
  record the topic carries (`incident`, `decision`, ...), with no subjects. The owning
  service's own entries tie those offsets to ids. Records must be allowed to DESCRIBE
  those topics, or the broker leaves the offsets out of its answer.
- A record whose value is not what the topic carries is logged by its position too, and
  so are offsets a group committed past that the log no longer holds (retention).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared import audit
from shared.identity import keys_of_fields
from shared.kafka_security import ACL_TABLE
from shared.schemas.v1 import AuditResource
from shared.topics import (
    AUDIT_PREFIX,
    DEADLETTER,
    DECISIONS,
    ESCALATIONS,
    INCIDENTS,
    INTAKE_EQUALITY,
    MARAC,
    MARAC_IDVA_REFERRALS,
    PERPETRATORS,
    REFERRAL_OUTCOMES,
    audit_topic,
)

PRINCIPAL = "records"
OWN_LOG = audit_topic(PRINCIPAL)
REFERRALS_PREFIX = "mash.referrals."
SUMMARIES = "mash.triage.summaries.v1"
RESOURCES: Mapping[str, AuditResource] = {
    INCIDENTS: "incident",
    INTAKE_EQUALITY: "incident",  # an incident victim's equality monitoring
    DECISIONS: "decision",
    SUMMARIES: "decision",
    MARAC: "marac_case",
    MARAC_IDVA_REFERRALS: "marac_referral",
    ESCALATIONS: "referral",
    REFERRAL_OUTCOMES: "referral",
    PERPETRATORS: "perpetrator",
    DEADLETTER: "incident",  # whatever failed: mostly incidents and the decisions on them
}


class NoProgress(TimeoutError):
    """A topic's records could not be fetched: unreadable now, tried again next round."""


@dataclass(frozen=True)
class Consumed:
    """One record a group has committed past: where it is, its key and its value."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class Fetched:
    """What one read found: the records still held in the range asked, the offset the
    read reached (the range's end, or less when fetching stalled after some records), and
    the log's first and end offsets then (before `first`: deleted by retention; from
    `last` on: nothing yet, though a group may commit any offset)."""

    records: list[Consumed]
    reached: int
    first: int
    last: int


class PartnerBus:
    """An admin client and, when records must be read, a consumer without a group (it
    commits nothing and joins nothing: it only fetches), both as records' principal."""

    def __init__(
        self, bootstrap: str, security: Mapping[str, Any], read_timeout: float = 10.0
    ) -> None:
        self._bootstrap = bootstrap
        self._security = dict(security)
        self._read_timeout = read_timeout
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=10_000, **self._security
        )
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> PartnerBus:
        await self._admin.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self._consumer is not None:
                await self._consumer.stop()
        finally:
            await self._admin.close()

    async def groups(self) -> list[str]:
        """Every consumer group records may describe, by id."""
        return sorted({str(found[0]) for found in await self._admin.list_consumer_groups()})

    async def committed(self, group: str) -> dict[tuple[str, int], int]:
        """(topic, partition) -> the group's committed offset: the next record it would
        read, so every record before it has been consumed."""
        offsets = await self._admin.list_consumer_group_offsets(group)
        return {
            (tp.topic, tp.partition): int(meta.offset)
            for tp, meta in offsets.items()
            if meta.offset >= 0
        }

    async def read(self, topic: str, partition: int, start: int, end: int) -> Fetched:
        """The records at offsets [start, end) still on the partition (see `Fetched`).
        Raises `NoProgress` when nothing could be fetched."""
        consumer = await self._reader()
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        first = int((await consumer.beginning_offsets([tp]))[tp])
        last = int((await consumer.end_offsets([tp]))[tp])
        stop = min(end, last)
        consumer.seek(tp, max(start, first))
        found: list[Consumed] = []
        reached = start
        deadline = time.monotonic() + self._read_timeout
        while reached < stop:
            batches = await consumer.getmany(tp, timeout_ms=500, max_records=500)
            for record in batches.get(tp, ()):
                if start <= record.offset < stop:
                    found.append(Consumed(partition, record.offset, record.key, record.value))
            position = min(int(await consumer.position(tp)), stop)
            if position > reached:
                reached = position
                deadline = time.monotonic() + self._read_timeout
            elif time.monotonic() > deadline:
                if reached == start:
                    raise NoProgress(f"{topic}:{partition} from {start}")
                return Fetched(found, reached, first, last)
        # a group may commit any offset: past the log's end, nothing was there to consume
        return Fetched(found, end if reached >= last else reached, first, last)

    async def first_offset(self, topic: str, partition: int) -> int:
        """The oldest offset the partition still holds (DESCRIBE on the topic suffices)."""
        consumer = await self._reader()
        tp = TopicPartition(topic, partition)
        return int((await consumer.beginning_offsets([tp]))[tp])

    async def _reader(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            self._consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=None,
                enable_auto_commit=False,
                # an offset the log no longer holds: start at the oldest it still does
                auto_offset_reset="earliest",
                # it reads only what is already there: a fetch need not wait for more
                fetch_max_wait_ms=50,
                **self._security,
            )
            await self._consumer.start()
        return self._consumer


def resource_of(topic: str) -> AuditResource:
    if topic.startswith(REFERRALS_PREFIX):
        return "referral"
    if topic.startswith(AUDIT_PREFIX):
        return "records"
    return RESOURCES.get(topic, "incident")


def readable(topic: str) -> bool:
    """Whether records may read the topic's records (its ACL), not only its offsets."""
    for allowed in ACL_TABLE[PRINCIPAL].reads:
        if topic == allowed or (allowed.endswith("*") and topic.startswith(allowed[:-1])):
            return True
    return False


def position(topic: str, partition: int, first: int, last: int) -> str:
    """The id of records logged by where they are: `<topic>:<partition>:<first>-<last>`."""
    return f"{topic}:{partition}:{first}-{last}"


def person_keys(secret: str, person: Any) -> list[str]:
    """The pseudonymous keys of a person as a record carries them (a JSON object)."""
    if not isinstance(person, Mapping):
        return []
    born: date | None = None
    try:
        born = date.fromisoformat(str(person["date_of_birth"]))
    except (KeyError, TypeError, ValueError):
        born = None
    return list(
        keys_of_fields(
            secret,
            str(person["person_id"]) if person.get("person_id") else None,
            str(person.get("given_name") or ""),
            str(person.get("family_name") or ""),
            born,
        )
    )


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def echoes(topic: str, value: Mapping[str, Any]) -> bool:
    """Whether a record is one of records' own entries of partners' consumption: logging
    that ops consumed those would log an entry that ops consumes next, and so on forever."""
    consumption = value.get("operation") == "consulted" and value.get("via") == "topic"
    return topic == OWN_LOG and consumption


def item_of(secret: str, topic: str, record: Consumed) -> audit.Item | None:
    """The id and the people's keys of one record a group has consumed (None: an echo)."""
    try:
        value = _object(json.loads(record.value or b""))
    except ValueError:
        value = {}
    if echoes(topic, value):
        return None
    keys: list[str] = []
    if topic.startswith(REFERRALS_PREFIX):
        found = value.get("referral_id")
        data = _object(value.get("data"))
        if record.key:
            keys.append(record.key.decode("utf-8", "replace"))
        children = data.get("children")
        people = [data.get("victim"), data.get("suspect")]
        for person in people + (children if isinstance(children, list) else []):
            keys += person_keys(secret, person)
    elif topic == PERPETRATORS:
        found = value.get("perpetrator_id")
        keys += person_keys(secret, value.get("person"))
    else:  # a log entry
        found = value.get("entry_id")
        subjects = value.get("subjects")
        keys += [str(k) for k in subjects] if isinstance(subjects, list) else []
    if not isinstance(found, str) or not found:
        found = position(topic, record.partition, record.offset, record.offset)
    return audit.Item(found, tuple(dict.fromkeys(keys)))


def _gaps(start: int, end: int, found: Iterable[int]) -> list[tuple[int, int]]:
    """Offsets in [start, end) the log no longer holds, as (first, last) ranges: consumed
    all the same, before retention deleted them."""
    gaps, expected = [], start
    for offset in sorted(found):
        if offset > expected:
            gaps.append((expected, offset - 1))
        expected = offset + 1
    if expected < end:
        gaps.append((expected, end - 1))
    return gaps


@dataclass(frozen=True)
class Committed:
    """What one partition's range committed past is logged as: the items, how many
    records they stand for, and the offset up to which the range is logged."""

    items: list[audit.Item]
    count: int
    reached: int


async def consumed_items(
    bus: PartnerBus, secret: str, topic: str, partition: int, start: int, end: int, known: bool
) -> Committed:
    """The items of the records a group committed past, [start, end). Offsets in the
    range the log no longer holds are logged by position if the group was `known` at
    `start` (logged before: it read on from there); for a group seen first, only from the
    log's first offset (it cannot have read what was deleted before: a new group starts
    where the log starts, or later)."""
    records: list[Consumed] = []
    if readable(topic):
        fetched = await bus.read(topic, partition, start, end)
        records, end = fetched.records, fetched.reached
        since = start if known else max(start, fetched.first)
        ranges = _gaps(since, min(end, fetched.last), (r.offset for r in records))
    else:
        since = start if known else max(start, await bus.first_offset(topic, partition))
        ranges = [(since, end - 1)] if since < end else []
    items = [i for i in (item_of(secret, topic, r) for r in records) if i is not None]
    count = len(items) + sum(b - a + 1 for a, b in ranges)
    items += [audit.Item(position(topic, partition, a, b)) for a, b in ranges]
    return Committed(items, count, end)
