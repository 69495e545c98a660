"""The webhook channel: one signed CloudEvents POST per attempt, and what an attempt left.

Binary-mode CloudEvents over HTTP: `ce-*` headers, the referral record as the JSON body,
and `X-Mash-Signature` over the raw body so the receiver knows it came from the hub.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from notify.domain.delivery import Verdict, signature, verdict_for_status
from notify.domain.records import LedgerEntry, body_of, created_record
from shared.topics import REFERRAL_CREATED

# a URL that can never work: retrying will not help
_HOPELESS = (httpx.UnsupportedProtocol, httpx.InvalidURL)


@dataclass(frozen=True)
class Attempt:
    """What one POST came to (no personal data: a status code or an error's type)."""

    verdict: Verdict
    started_at: datetime
    finished_at: datetime
    http_status: int | None = None
    error: str | None = None


def headers_for(record: dict[str, Any], body: bytes, secret: str, source: str) -> dict[str, str]:
    """The CloudEvents HTTP headers and the signature of one referral's POST."""
    return {
        "ce-specversion": "1.0",
        "ce-id": str(record["referral_id"]),
        "ce-type": REFERRAL_CREATED,
        "ce-source": source,
        "ce-subject": str(record["incident_id"]),
        "ce-time": str(record["created_at"]),
        "content-type": "application/json",
        "X-Mash-Signature": signature(secret, body),
    }


class WebhookChannel:
    """POSTs referral records to agencies' webhooks with one shared httpx client."""

    def __init__(self, client: httpx.AsyncClient, source: str, timeout: float) -> None:
        self._client = client
        self._source = source
        self._timeout = timeout  # for the whole attempt: a slow drip of bytes is no answer

    async def send(self, referral: LedgerEntry, url: str, secret: str) -> Attempt:
        """One attempt to deliver `referral`; never raises for the network."""
        record = created_record(referral)
        body = body_of(record)
        headers = headers_for(record, body, secret, self._source)
        started = datetime.now(UTC)
        try:
            async with asyncio.timeout(self._timeout):
                answer = await self._client.post(url, content=body, headers=headers)
        except TimeoutError:
            return Attempt("retry", started, datetime.now(UTC), error="Timeout")
        except _HOPELESS as exc:
            return Attempt("dead", started, datetime.now(UTC), error=type(exc).__name__)
        except httpx.HTTPError as exc:  # timeouts, refused or dropped connections
            return Attempt("retry", started, datetime.now(UTC), error=type(exc).__name__)
        verdict = verdict_for_status(answer.status_code)
        error = None if verdict == "delivered" else f"HTTP {answer.status_code}"
        return Attempt(verdict, started, datetime.now(UTC), answer.status_code, error)
