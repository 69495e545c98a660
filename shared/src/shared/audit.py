"""Records of processing (contract section 12, DPA 2018 s.62): every service logs what it
does with personal data on its own topic, `mash.audit.<service>.v1`.

An entry names who (a token's `sub`, a Kafka principal or group, `job:<name>`), when,
how (`via`), the operation, the ids of the records and the people's pseudonymous keys,
never the records themselves. It is staged in the outbox inside the transaction of the
operation it records, so an operation and its log entry commit together or not at all.
An operation over more than 500 records is logged as several entries.

    await audit.log(platform.outbox, session, Entry("notify", "disclosed", "notify",
                    "topic", topic, "referral", recipient="idva"), [Item(id, keys)])

API routes go through the `audited(scope)` dependency, which gives the route a
`ReadAudit` bound to the token's `sub` and the route's template (a write route hands it
to its handler, which logs with `audit.entry("collected", ...)`):

    Audit = Annotated[ReadAudit, Depends(audited("perpetrators:read"))]

    @router.get("/v1/things/{thing_id}")
    async def one(thing_id: str, platform: PlatformDep, audit: Audit) -> Thing:
        async with platform.uow() as session:
            thing = await repository.find(session, thing_id)
            await audit.record(session, "thing", [thing_id], 200 if thing else 404)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from uuid import uuid4

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Credentials, scoped
from shared.envelope import CloudEvent
from shared.identity import identify
from shared.outbox import Outbox
from shared.schemas.v1 import (
    AUDIT_MAX_IDS,
    AUDIT_MAX_SUBJECTS,
    AuditEntry,
    AuditOperation,
    AuditResource,
    AuditVia,
    Person,
)
from shared.topics import audit_topic, audit_type

SUBJECT_LIMIT = 64  # ce_subject, as the inbox stores it


@dataclass(frozen=True)
class Entry:
    """What one log entry says, less the records it names (those are `Item`s)."""

    service: str
    operation: AuditOperation
    sub: str
    via: AuditVia
    route: str
    resource: AuditResource
    recipient: str | None = None
    status: int | str = "ok"


@dataclass(frozen=True)
class Item:
    """One record processed: its id and the keys of the people it is about."""

    id: str
    subjects: tuple[str, ...] = field(default_factory=tuple)


def person_keys(secret: str, person: Person | None) -> tuple[str, ...]:
    """Every pseudonymous key of one person: one for the person id, one for the names and
    date of birth, as the hub's identity rule (`shared.identity`) makes them."""
    return identify(secret, person).hashes if person is not None else ()


def keys_of(secret: str, people: Iterable[Person | None]) -> tuple[str, ...]:
    """The keys of several people, each once, in order."""
    return tuple(dict.fromkeys(k for p in people for k in person_keys(secret, p)))


def _chunks(items: Sequence[Item]) -> Iterable[list[Item]]:
    chunk: list[Item] = []
    keys: set[str] = set()
    for item in items:
        fresh = keys.union(item.subjects)
        if chunk and (len(chunk) >= AUDIT_MAX_IDS or len(fresh) > AUDIT_MAX_SUBJECTS):
            yield chunk
            chunk, fresh = [], set(item.subjects)
        chunk.append(item)
        keys = fresh
    if chunk or not items:
        yield chunk


def entries(entry: Entry, items: Sequence[Item], now: datetime) -> list[CloudEvent]:
    """The log events of one operation: one entry per 500 records (one for none, so a
    read that found nothing is logged too)."""
    events = []
    for chunk in _chunks(items):
        subjects = list(dict.fromkeys(k for item in chunk for k in item.subjects))
        data = AuditEntry(
            entry_id=uuid4(),
            at=now,
            service=entry.service,
            operation=entry.operation,
            sub=entry.sub[:256],
            via=entry.via,
            route=entry.route[:256],
            resource=entry.resource,
            ids=[item.id[:128] for item in chunk],
            subjects=subjects[:AUDIT_MAX_SUBJECTS],
            recipient=entry.recipient,
            status=entry.status,
        )
        # one record: its id is the subject; several: the kind of record
        subject = chunk[0].id if len(chunk) == 1 else entry.resource
        events.append(
            CloudEvent(
                id=str(data.entry_id),
                source=f"/mash/{entry.service}",
                type=audit_type(entry.operation),
                subject=subject[:SUBJECT_LIMIT] or entry.resource,
                data=data.model_dump(mode="json"),
                time=now,
            )
        )
    return events


async def log(
    outbox: Outbox,
    session: AsyncSession,
    entry: Entry,
    items: Sequence[Item],
    now: datetime | None = None,
) -> None:
    """Stage the entries of one operation in `session`'s transaction (published on commit).

    The key is the service, so one service's entries keep their order on the topic, which
    is the order the records service chains them in."""
    for event in entries(entry, items, now or datetime.now(UTC)):
        await outbox.add(session, audit_topic(entry.service), entry.service, event)


def items(ids: Iterable[str], subjects: Sequence[str] = ()) -> list[Item]:
    """Records that all concern the same people (or nobody known)."""
    keys = tuple(subjects)
    return [Item(str(i), keys) for i in ids]


@dataclass(frozen=True)
class ReadAudit:
    """One request's reader and route, ready to log what the route consulted."""

    outbox: Outbox
    service: str
    sub: str
    route: str

    async def record(
        self,
        session: AsyncSession,
        resource: AuditResource,
        ids: Sequence[str] | Sequence[Item],
        status: int = 200,
        now: datetime | None = None,
        subjects: Sequence[str] = (),
    ) -> None:
        """Log a consultation in `session`'s transaction: commit it before answering.
        `ids` are plain ids (all about `subjects`) or `Item`s with their own keys."""
        found = [i if isinstance(i, Item) else Item(str(i), tuple(subjects)) for i in ids]
        entry = Entry(self.service, "consulted", self.sub, "api", self.route, resource)
        await log(self.outbox, session, replace(entry, status=status), found, now)

    def entry(self, operation: AuditOperation, resource: AuditResource) -> Entry:
        """What this request did besides reading (collected, altered...), by the same
        caller through the same route: a write route's handler logs it with `log`."""
        return Entry(self.service, operation, self.sub, "api", self.route, resource)


def audited(
    scope: str,
) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[ReadAudit]]:
    """A FastAPI dependency: admits only tokens holding `scope` (401/403 exactly as
    `shared.auth.require`) and gives the route the `ReadAudit` of this request. The app's
    `state.platform` supplies the outbox and the service's name.

    It checks the token itself (`shared.auth.scoped`) rather than through `require`'s
    chain of dependencies: the same answers, the same security scheme in the OpenAPI
    document, two levels fewer for FastAPI to solve on every request."""

    async def dependency(request: Request, credentials: Credentials) -> ReadAudit:
        principal = await scoped(request, credentials, scope)
        platform = request.app.state.platform
        route = getattr(request.scope.get("route"), "path", None) or request.url.path
        return ReadAudit(platform.outbox, platform.name, principal.subject, route)

    return dependency
