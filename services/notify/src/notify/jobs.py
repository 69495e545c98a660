"""Notify's background jobs.

The delivery worker: one loop per agency, so a slow or dead agency holds up no other.
Each loop takes its agency's delivery that fell due first, leases it and records its
attempt as in flight (committed, `handlers.begin_attempt`), POSTs it to the address it
checked, and records the answer at once (`handlers.record_attempt`). Everything it needs
is in the ledger, so a restart resumes where it stopped; a delivery that got a 2xx
recorded is never due again.

The clock keeper: looks for referrals past `due_by` without an acknowledgement and
escalates each once (`handlers.escalate_overdue`). The clock is state in the database, so
a restart loses nothing; the job's clock is injected, so tests move it rather than wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import timedelta

import httpx
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind

from notify import handlers, repository
from notify.handlers import Notify
from notify.webhooks import WebhookChannel, redacting_hook
from shared.telemetry import extract_context, mark_incident
from shared.topics import AGENCIES

log = logging.getLogger(__name__)


class _Loops:
    def __init__(self) -> None:
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()

    async def _stop_tasks(self, grace: float) -> None:
        self._stopping.set()
        if self._tasks:
            _done, late = await asyncio.wait(self._tasks, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    @property
    def running(self) -> bool:
        return bool(self._tasks) and all(not task.done() for task in self._tasks)


class DeliveryWorker(_Loops):
    """Delivers referrals to the agencies' webhooks, with retries, across restarts."""

    def __init__(self, notify: Notify, jitter: Callable[[], float] = random.random) -> None:
        super().__init__()
        settings = notify.settings
        self._notify = notify
        self._platform = notify.platform
        self._settings = settings
        self._jitter = jitter
        self._lease = timedelta(seconds=settings.delivery_timeout_seconds + 5)
        self._client: httpx.AsyncClient | None = None
        self._channel: WebhookChannel | None = None
        self._box = settings.secret_box()
        self.passes: dict[str, int] = dict.fromkeys(AGENCIES, 0)
        """How many times each agency's loop has looked for a due delivery (and made the
        attempt it found): what a test waits on to know the loop had its chance."""

    async def start(self, _: object = None) -> None:
        """Start one delivery loop per agency (the app's `extra_start`)."""
        self._stopping.clear()
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self._settings.delivery_timeout_seconds),
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: the checked address is dialled
        )
        HTTPXClientInstrumentor.instrument_client(
            self._client, tracer_provider=self._platform.provider, request_hook=redacting_hook
        )
        self._channel = WebhookChannel(
            self._client,
            self._settings.source,
            self._settings.delivery_timeout_seconds,
            clock=self._notify.clock,
            resolver=self._notify.resolver,
            allow_loopback=self._settings.allows_loopback,
        )
        self._tasks = [
            asyncio.create_task(self._loop(agency), name=f"deliveries-{agency}")
            for agency in AGENCIES
        ]

    async def stop(self, _: object = None) -> None:
        """Let attempts in flight finish (briefly), then stop (the app's `extra_stop`)."""
        await self._stop_tasks(min(self._settings.delivery_timeout_seconds, 5.0))
        if self._client:
            await self._client.aclose()
            self._client = None

    async def _loop(self, agency: str) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                worked = await self.deliver_next(agency)
                self.passes[agency] += 1
                failures = 0
            except Exception as exc:  # noqa: BLE001 - the database blinked: the loop lives on
                failures += 1
                log.warning("deliveries %s: %s", agency, type(exc).__name__)
                await self._pause(min(5.0, 0.2 * 2**failures))
                continue
            if not worked:
                await self._idle(agency)

    async def deliver_next(self, agency: str) -> bool:
        """Make one attempt at the agency's delivery that fell due first; False if none."""
        assert self._channel is not None, "worker not started"
        notify, platform = self._notify, self._platform
        now = notify.clock()
        with suppress_instrumentation():  # polling is not traced: only deliveries are
            async with platform.sessions() as session:
                due = await repository.next_due(session, agency, now)
        if due is None:
            return False
        # unsealed only to sign; a changed key leaves it due (retried), not lost, and
        # records no attempt: the agency PUTs again and its deliveries are redelivered
        secret = self._box.unseal(due.sealed_secret)
        with platform.tracer.start_as_current_span(
            f"webhook deliver {agency}",
            context=extract_context(due.trace),
            kind=SpanKind.PRODUCER,
            attributes={"mash.agency": agency, "mash.referral_id": due.referral_id},
        ) as span:
            number = await handlers.begin_attempt(notify, due, now + self._lease)
            if number is None:
                return True  # another instance took it
            async with platform.sessions() as session:
                referral = await repository.record(session, due.referral_id)
            assert referral is not None, "a delivery always has its referral"
            mark_incident(referral.incident_id)
            try:
                attempt = await self._channel.send(referral, due.webhook_url, secret)
            except asyncio.CancelledError:
                # stopped mid-attempt: no answer was had, so let a restart try at once
                async with platform.uow() as session:
                    await repository.release(
                        session, due.referral_id, due.version + 1, notify.clock()
                    )
                raise
            after = await handlers.record_attempt(notify, due, number, attempt, self._jitter())
            span.set_attribute("mash.delivery.attempt", number)
            span.set_attribute("mash.delivery.status", after.status)
        notify.metrics.attempts.labels(agency, after.status).inc()
        log.info("referral %s to %s: attempt %d %s", due.referral_id, agency, number, after.status)
        return True

    async def _idle(self, agency: str) -> None:
        """Wait for the next poll, or less when a delivery falls due sooner."""
        wait = self._settings.delivery_poll_seconds
        with suppress_instrumentation():
            async with self._platform.sessions() as session:
                due = await repository.earliest_due(session, agency)
        if due is not None:
            wait = min(wait, max(0.0, (due - self._notify.clock()).total_seconds()))
        await self._pause(wait)


class ClockKeeper(_Loops):
    """Escalates referrals that became overdue, once each, surviving restarts."""

    def __init__(self, notify: Notify) -> None:
        super().__init__()
        self._notify = notify
        self.passes = 0
        """How many times it has looked (what a test waits on)."""

    async def start(self, _: object = None) -> None:
        self._stopping.clear()
        self._tasks = [asyncio.create_task(self._loop(), name="overdue-clocks")]

    async def stop(self, _: object = None) -> None:
        await self._stop_tasks(5.0)

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                with suppress_instrumentation():  # a clock, not an incident: not traced
                    while await handlers.escalate_overdue(self._notify, self._notify.clock()):
                        pass  # a full batch: look again at once
                self.passes += 1
            except Exception as exc:  # noqa: BLE001 - the database blinked: the loop lives on
                log.warning("overdue clocks: %s", type(exc).__name__)
            await self._pause(self._notify.settings.clock_poll_seconds)
