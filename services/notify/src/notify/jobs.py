"""Notify's background job, the delivery worker: one loop per agency, so a slow or dead
agency holds up no other.

Each loop takes its agency's delivery that fell due first, leases it in the ledger (no
second instance and no restart tries it meanwhile), POSTs it, and records the attempt
(`handlers.record_attempt`). Everything it needs is in the ledger, so a restart resumes
where it stopped; a delivery that got a 2xx is never due again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.trace import SpanKind

from notify import handlers, repository
from notify.config import Settings
from notify.metrics import ReferralMetrics
from notify.webhooks import WebhookChannel
from shared.service import Platform
from shared.telemetry import extract_context
from shared.topics import AGENCIES

log = logging.getLogger(__name__)


class DeliveryWorker:
    """Delivers referrals to the agencies' webhooks, with retries, across restarts."""

    def __init__(
        self,
        platform: Platform[Settings],
        metrics: ReferralMetrics,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        settings = platform.settings
        self._platform = platform
        self._metrics = metrics
        self._settings = settings
        self._jitter = jitter
        self._lease = timedelta(seconds=settings.delivery_timeout_seconds + 5)
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None
        self._channel: WebhookChannel | None = None
        self._box = settings.secret_box()
        self.passes: dict[str, int] = dict.fromkeys(AGENCIES, 0)
        """How many times each agency's loop has looked for a due delivery (and made the
        attempt it found): what a test waits on to know the loop had its chance."""

    async def start(self, _: Platform[Settings] | None = None) -> None:
        """Start one delivery loop per agency (the app's `extra_start`)."""
        self._stopping.clear()
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self._settings.delivery_timeout_seconds), follow_redirects=False
        )
        HTTPXClientInstrumentor.instrument_client(
            self._client, tracer_provider=self._platform.provider
        )
        self._channel = WebhookChannel(
            self._client, self._settings.source, self._settings.delivery_timeout_seconds
        )
        self._tasks = [
            asyncio.create_task(self._loop(agency), name=f"deliveries-{agency}")
            for agency in AGENCIES
        ]

    async def stop(self, _: Platform[Settings] | None = None) -> None:
        """Let attempts in flight finish (briefly), then stop (the app's `extra_stop`)."""
        self._stopping.set()
        if self._tasks:
            grace = min(self._settings.delivery_timeout_seconds, 5.0)
            _done, late = await asyncio.wait(self._tasks, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._client:
            await self._client.aclose()
            self._client = None

    @property
    def running(self) -> bool:
        return bool(self._tasks) and all(not task.done() for task in self._tasks)

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
        platform, now = self._platform, datetime.now(UTC)
        async with platform.sessions() as session:
            due = await repository.next_due(session, agency, now)
        if due is None:
            return False
        async with platform.uow() as session:
            if not await repository.lease(session, due.referral_id, due.version, now + self._lease):
                return True  # another instance took it
            referral = await repository.record(session, due.referral_id)
        assert referral is not None, "a delivery always has its referral"
        with platform.tracer.start_as_current_span(
            f"webhook deliver {agency}",
            context=extract_context(due.trace),
            kind=SpanKind.PRODUCER,
            attributes={"mash.agency": agency, "mash.referral_id": due.referral_id},
        ) as span:
            try:
                # unsealed only to sign; a changed key leaves it due (retried), not lost
                secret = self._box.unseal(due.sealed_secret)
                attempt = await self._channel.send(referral, due.webhook_url, secret)
            except asyncio.CancelledError:
                # stopped mid-attempt: no answer was had, so let a restart try at once
                async with platform.uow() as session:
                    await repository.release(
                        session, due.referral_id, due.version + 1, datetime.now(UTC)
                    )
                raise
            after = await handlers.record_attempt(platform, due, attempt, self._jitter())
            span.set_attribute("mash.delivery.attempt", due.attempts + 1)
            span.set_attribute("mash.delivery.status", after.status)
        self._metrics.attempts.labels(agency, after.status).inc()
        log.info(
            "referral %s to %s: attempt %d %s",
            due.referral_id,
            agency,
            due.attempts + 1,
            after.status,
        )
        return True

    async def _idle(self, agency: str) -> None:
        """Wait for the next poll, or less when a delivery falls due sooner."""
        wait = self._settings.delivery_poll_seconds
        async with self._platform.sessions() as session:
            due = await repository.earliest_due(session, agency)
        if due is not None:
            wait = min(wait, max(0.0, (due - datetime.now(UTC)).total_seconds()))
        await self._pause(wait)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
