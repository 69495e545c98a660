"""Audit of every read of personal data through an API (contract section 2).

A route that discloses personal data records, in the transaction it reads in, one
`mash.audit.read` event on `mash.audit.v1` naming who read (the token's `sub`), when,
through which route, and the ids of the records (never the records). The event goes
through the outbox, so it is committed before the answer leaves and published even if
the service stops a moment later.

    Audit = Annotated[ReadAudit, Depends(audited("perpetrators:read"))]

    @router.get("/v1/things/{thing_id}")
    async def one(thing_id: str, platform: PlatformDep, audit: Audit) -> Thing:
        async with platform.uow() as session:
            thing = await repository.find(session, thing_id)
            await audit.record(session, "thing", [thing_id], 200 if thing else 404)
        ...
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import uuid4

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, require
from shared.envelope import CloudEvent
from shared.outbox import Outbox
from shared.schemas.v1 import AuditRead
from shared.topics import AUDIT, AUDIT_READ

SUBJECT_LIMIT = 64  # ce_subject, as the inbox stores it
KEY_LIMIT = 128  # the outbox's key column


def read_event(
    *,
    service: str,
    sub: str,
    route: str,
    resource: str,
    ids: Sequence[str],
    status: int,
    now: datetime,
) -> CloudEvent:
    """The `mash.audit.read` event of one answered read."""
    data = AuditRead(
        at=now,
        sub=sub,
        service=service,
        route=route,
        resource=resource,
        ids=[str(i) for i in ids],
        status=status,
    )
    # one record read: its id is the subject; several (a list): the kind of record
    subject = str(ids[0]) if len(ids) == 1 else resource
    return CloudEvent(
        id=str(uuid4()),
        source=f"/mash/{service}",
        type=AUDIT_READ,
        subject=subject[:SUBJECT_LIMIT] or resource[:SUBJECT_LIMIT],
        data=data.model_dump(mode="json"),
        time=now,
    )


def audit_key(sub: str) -> str:
    """The Kafka key: the reader, so that one reader's reads keep their order."""
    if 0 < len(sub) <= KEY_LIMIT:
        return sub
    return hashlib.sha256(sub.encode()).hexdigest()


async def record_read(
    outbox: Outbox,
    session: AsyncSession,
    *,
    service: str,
    sub: str,
    route: str,
    resource: str,
    ids: Sequence[str],
    status: int = 200,
    now: datetime | None = None,
) -> None:
    """Stage the audit event of one read in `session`'s transaction (published on commit)."""
    event = read_event(
        service=service,
        sub=sub,
        route=route,
        resource=resource,
        ids=ids,
        status=status,
        now=now or datetime.now(UTC),
    )
    await outbox.add(session, AUDIT, audit_key(sub), event)


@dataclass(frozen=True)
class ReadAudit:
    """One request's reader and route, ready to record what the route disclosed."""

    outbox: Outbox
    service: str
    sub: str
    route: str

    async def record(
        self,
        session: AsyncSession,
        resource: str,
        ids: Sequence[str],
        status: int = 200,
        now: datetime | None = None,
    ) -> None:
        """Stage the audit event in `session`'s transaction: commit it before answering."""
        await record_read(
            self.outbox,
            session,
            service=self.service,
            sub=self.sub,
            route=self.route,
            resource=resource,
            ids=ids,
            status=status,
            now=now,
        )


def audited(scope: str) -> Callable[[Request, Principal], Awaitable[ReadAudit]]:
    """A FastAPI dependency: admits only tokens holding `scope` (401/403 exactly as
    `shared.auth.require`) and gives the route the `ReadAudit` of this request. The app's
    `state.platform` supplies the outbox and the service's name."""
    checker = require(scope)

    # a default, not Annotated: the annotation is a string here, and `checker` is local
    async def dependency(request: Request, principal: Principal = Depends(checker)) -> ReadAudit:
        platform = request.app.state.platform
        route = getattr(request.scope.get("route"), "path", None) or request.url.path
        return ReadAudit(platform.outbox, platform.name, principal.subject, route)

    return dependency
