"""The producer every service, relay and dead-letter path sends with.

Idempotent with `acks=all`, so a retried send neither loses nor duplicates a record on
the broker; and replaceable, because aiokafka's idempotent producer can stick on
`OutOfOrderSequenceNumber` after a broker blip until it is recreated (the relay calls
`restart`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError


class EventProducer:
    """aiokafka's producer, idempotent with acks=all, recreated when it gets stuck."""

    def __init__(
        self, bootstrap: str, client_id: str, security: Mapping[str, Any] | None = None
    ) -> None:
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._security = dict(security or {})
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            enable_idempotence=True,
            acks="all",
            # no lingering: the relay queues a whole batch before the sender runs, so
            # batches form anyway, and an idle hop is not held back
            linger_ms=0,
            request_timeout_ms=15000,
            **self._security,
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer:
            await self._producer.stop()
            self._producer = None

    async def restart(self) -> None:
        """Replace the producer (aiokafka's idempotent producer can stick after a broker blip)."""
        try:
            await self.stop()
        except Exception:  # noqa: BLE001 - a stuck producer may fail to stop cleanly
            self._producer = None
        await self.start()

    async def send(
        self, topic: str, value: bytes, key: str | None, headers: dict[str, str]
    ) -> asyncio.Future[Any]:
        """Queue one message; await the returned future for the broker's acknowledgement."""
        if self._producer is None:
            raise KafkaError("producer not started")
        return await self._producer.send(  # type: ignore[no-any-return]
            topic,
            value=value,
            key=key.encode() if key else None,
            headers=[(k, v.encode()) for k, v in headers.items()],
        )

    async def send_raw(
        self, topic: str, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        """Send a record as it came (the dead-letter path: the original bytes, untouched)."""
        if self._producer is None:
            raise KafkaError("producer not started")
        await self._producer.send_and_wait(topic, value=value, key=key, headers=headers)

    async def ping(self) -> bool:
        """True when the broker answers a metadata request."""
        if self._producer is None:
            return False
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), 3)
        except Exception:  # noqa: BLE001 - readiness reports any failure as not ready
            return False
        return True
