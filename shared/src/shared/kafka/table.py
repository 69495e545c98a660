"""A consumer's handler table: the event types it handles, each with its payload model.

A service declares what it consumes as data (`EVENTS = {type: On(Model, handler)}`), and
`dispatch` turns the table into the one callable the consumer loop runs for each new
event. Validation happens here, before the handler, so handlers never check `event.type`
nor call `model_validate(event.data)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from shared.envelope import CloudEvent

Handler = Callable[[AsyncSession, CloudEvent], Awaitable[None]]
"""What the loop calls for each new event, inside its transaction (see `dispatch`)."""

Context = TypeVar("Context")
Payload = TypeVar("Payload", bound=BaseModel)


@dataclass(frozen=True)
class On(Generic[Context, Payload]):
    """One row of a consumer's table: an event's data is validated as `payload`, then
    `handler(context, session, data, event, now)` runs in the event's transaction.

    A payload that fails validation is poison: it goes to the dead-letter topic at once.
    """

    payload: type[Payload]
    handler: Callable[[Context, AsyncSession, Payload, CloudEvent, datetime], Awaitable[None]]


EventTable = Mapping[str, On[Context, Any]]
"""A consumer's handlers: event type -> (payload model, handler). Types not in the table
are not the consumer's business and are skipped (they still pass through the inbox)."""


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


Prepare = Callable[[AsyncSession, Sequence[CloudEvent]], Awaitable[None]]
"""A batch's first step: the batch's new events, in its transaction, before any handler."""
BatchStep = Callable[[Context, AsyncSession, Sequence[CloudEvent]], Awaitable[None]]
"""A service's batch step, given its handlers' context (`dispatch` makes it a `Prepare`)."""


class BatchHandler:
    """A handler with a step the loop runs once per fetched batch before its handlers
    (`prepare`): a service can read what the whole batch needs in a few queries (triage:
    the history of every person of the batch) instead of a few per event. Handling one
    event alone skips it, so the handlers must give the same results without it."""

    def __init__(self, handle: Handler, prepare: Prepare) -> None:
        self._handle = handle
        self.prepare = prepare

    async def __call__(self, session: AsyncSession, event: CloudEvent) -> None:
        await self._handle(session, event)


def dispatch(
    table: EventTable[Context],
    context: Context,
    clock: Callable[[], datetime] = utc_now,
    prepare: BatchStep[Context] | None = None,
) -> Handler:
    """The loop's handler for a table: look the type up, validate the data, call the row's
    handler with `context` and the time of processing (`clock()`, which handlers pass on).
    With `prepare`, a `BatchHandler` whose batch step is `prepare(context, ...)`."""

    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        on = table.get(event.type)
        if on is None:
            return
        # validated from the bytes as received (pydantic parses and validates in one
        # pass: about a third cheaper than validating the dict `parse` made); an event
        # made here, without them, from its data. ValidationError: poison
        raw = event.raw
        data = on.payload.model_validate_json(raw) if raw else on.payload.model_validate(event.data)
        await on.handler(context, session, data, event, clock())

    if prepare is None:
        return handle

    async def prepared(session: AsyncSession, events: Sequence[CloudEvent]) -> None:
        await prepare(context, session, events)

    return BatchHandler(handle, prepared)
