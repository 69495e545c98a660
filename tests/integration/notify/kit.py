"""Notify under test: its settings, decisions published as triage would, and a real HTTP
receiver on 127.0.0.1 standing in for an agency's webhook."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter
from sqlalchemy import select

import notify.app
from mash_tools.testing import bearer, eventually, kafka_options
from notify import store
from notify.config import Settings
from notify.webhooks import Resolver
from shared.envelope import CloudEvent
from shared.topics import DECISIONS, TRIAGE_DECIDED
from tests.builders import settings_for

FAST = {
    "delivery_retry_schedule": (0.01, 0.02, 0.04, 0.05),  # 5 attempts
    "delivery_poll_seconds": 0.05,
    "delivery_timeout_seconds": 5,
    "webhook_allow_loopback": True,  # the receivers are on 127.0.0.1
    "clock_poll_seconds": 0.05,
}


def notify_settings(bootstrap: str, database_url: str, group: str, **extra: Any) -> Settings:
    return settings_for(Settings, bootstrap, database_url, group, **{**FAST, **extra})


def notify_app(
    bootstrap: str,
    database_url: str,
    group: str,
    *,
    clock: Callable[[], datetime] | None = None,
    resolver: Resolver | None = None,
    exporters: Sequence[SpanExporter] = (),
    **extra: Any,
) -> FastAPI:
    settings = notify_settings(bootstrap, database_url, group, **extra)
    return notify.app.create_app(settings, exporters, clock=clock, resolver=resolver)


@dataclass
class Clock:
    """A clock the test moves: notify's commands and jobs read it, nobody waits hours."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC) + timedelta(minutes=5))
    """Starts a little ahead of the real time, so referrals the consumer makes (stamped
    with the real time) are already due by it."""

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Names:
    """A resolver the test controls: names to addresses, no DNS ever asked."""

    table: dict[str, list[str]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError(f"{host}: unknown to the test")
        return self.table[host]


async def clock_passed(app: FastAPI, passes: int = 2) -> None:
    """Wait until the overdue-clock job has looked `passes` more times."""
    keeper = app.state.clock_keeper
    target = keeper.passes + passes
    await eventually(lambda: keeper.passes >= target)


async def publish(
    bootstrap: str, data: dict[str, Any], *, event_id: str | None = None, key: str = "victim-k"
) -> str:
    """Put one `mash.triage.decided` event on the decisions topic; its ce_id."""
    event = CloudEvent(
        id=event_id or str(uuid.uuid4()),
        source="/mash/triage",
        type=TRIAGE_DECIDED,
        subject=str(data["incident_id"]),
        data=data,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **kafka_options("triage"))
    await producer.start()
    try:
        await producer.send_and_wait(
            DECISIONS, value=event.value(), key=key.encode(), headers=event.headers()
        )
    finally:
        await producer.stop()
    return event.id


async def referrals_of(client: Any, agency: str, incident_id: str) -> list[dict[str, Any]]:
    answer = await client.get(
        "/v1/referrals",
        params={"agency": agency, "incident_id": incident_id},
        headers=bearer("referrals:read:*"),
    )
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


async def subscribe(client: Any, agency: str, url: str, secret: str = "s3cret") -> None:  # noqa: S107
    answer = await client.put(
        f"/v1/subscriptions/{agency}",
        json={"webhook_url": url, "secret": secret},
        headers=bearer(f"subscriptions:write:{agency}"),
    )
    assert answer.status_code == 200, answer.text


async def loops_passed(app: FastAPI, *agencies: str, passes: int = 3) -> None:
    """Wait until each agency's delivery loop has looked for due deliveries `passes` more
    times: a delivery wrongly due again would have been sent by then."""
    worker = app.state.delivery_worker
    target = {agency: worker.passes[agency] + passes for agency in agencies}
    await eventually(lambda: all(worker.passes[a] >= n for a, n in target.items()))


async def attempt_rows(app: FastAPI, referral_id: str) -> list[Any]:
    async with app.state.platform.sessions() as session:
        stmt = (
            select(store.attempts)
            .where(store.attempts.c.referral_id == referral_id)
            .order_by(store.attempts.c.attempt)
        )
        return list((await session.execute(stmt)).all())


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int | None = None


Answer = Callable[[str, int], int | None]
"""(ce-id, how many times this ce-id has come, this one included) -> status, or None: hang."""


@dataclass
class Receiver:
    """A real HTTP/1.1 server on a free loopback port that answers as `answer` says."""

    answer: Answer = lambda _id, _n: 200
    incident_id: str | None = None
    """Answer only this incident's requests as `answer` says (others: 200 at once), since
    other tests' decisions reach this notify too."""
    requests: list[Received] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        self._server.close()

    def of(self, incident_id: str) -> list[Received]:
        """The requests about one incident (other tests' referrals may arrive too)."""
        return [r for r in self.requests if r.headers.get("ce-subject") == incident_id]

    def hanging(self, incident_id: str) -> list[Received]:
        return [r for r in self.of(incident_id) if r.status is None]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")[1:]
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            request = Received(headers, body)
            self.requests.append(request)
            ce_id = headers.get("ce-id", "")
            seen = sum(1 for r in self.requests if r.headers.get("ce-id") == ce_id)
            mine = self.incident_id in (None, headers.get("ce-subject"))
            status = self.answer(ce_id, seen) if mine else 200
            if status is None:
                await self.release.wait()
                status = 200
            request.status = status
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
