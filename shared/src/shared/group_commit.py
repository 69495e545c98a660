"""Group commit: concurrent requests share one transaction, each answered after its commit.

A request hands its work (a function of the session) to `GroupCommit.run` and waits. One
writer task takes every work queued so far and runs them, in order, in ONE transaction;
when it commits, each waiting request gets its own result. Requests that arrive while a
group commits form the next group. If the group's transaction fails, nothing of it was
committed, and each work is run again alone in its own transaction, so one failing work
(an integrity error, a bug) fails its own request only.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

R = TypeVar("R")
Work = Callable[[AsyncSession], Coroutine[Any, Any, Any]]
Entry = tuple[Work, asyncio.Future[Any], contextvars.Context]


class GroupCommit:
    """Runs queued works together in one transaction of `unit_of_work()`."""

    def __init__(self, unit_of_work: Callable[[], Any], max_group: int = 256) -> None:
        self._uow = unit_of_work
        self._max = max_group
        self._queue: list[Entry] = []
        self._writer: asyncio.Task[None] | None = None

    async def run(self, work: Callable[[AsyncSession], Coroutine[Any, Any, R]]) -> R:
        """`work(session)` committed (with the works queued alongside it); its result."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        # the work runs in its caller's context: its spans and its events' trace are the
        # request's own, not the group's first request's
        self._queue.append((work, future, contextvars.copy_context()))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="group-commit")
        return await future

    async def _drain(self) -> None:
        group: list[Entry] = []
        try:
            while self._queue:
                group, self._queue = self._queue[: self._max], self._queue[self._max :]
                await self._commit(group)
        finally:
            # cancelled mid-group (shutdown): no request waits for ever
            for _, future, _ in [*group, *self._queue]:
                if not future.done():
                    future.set_exception(RuntimeError("group commit stopped"))

    async def _commit(self, group: list[Entry]) -> None:
        if len(group) == 1:
            await self._alone(*group[0])
            return
        try:
            results = []
            async with self._uow() as session:
                for work, _, context in group:
                    results.append(await asyncio.create_task(work(session), context=context))
        except Exception:  # noqa: BLE001 - nothing committed: each again on its own
            for entry in group:
                await self._alone(*entry)
            return
        for (_, future, _), result in zip(group, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _alone(
        self, work: Work, future: asyncio.Future[Any], context: contextvars.Context
    ) -> None:
        try:
            async with self._uow() as session:
                result: Any = await asyncio.create_task(work(session), context=context)
        except Exception as exc:  # noqa: BLE001 - the request's own failure, handed to it
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(result)

    async def stop(self) -> None:
        """Let the queued works finish."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self._writer
