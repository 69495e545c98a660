"""The webhook channel: one signed CloudEvents POST per attempt, and what an attempt left.

Binary-mode CloudEvents over HTTP: `ce-*` headers, the referral record as the JSON body,
and `X-Mash-Signature` over the raw body so the receiver knows it came from the hub.

Where it may go (contract section 5, `domain.targets`) is checked when subscribing and
again before each attempt, after resolving the host: the POST then goes to the very
address that was checked (the `Host` header and TLS server name keep the URL's name), so
a name that resolves elsewhere the second time (DNS rebinding) cannot slip through.
A refusal is decided before any connection, so it says nothing about open ports.

Nothing recorded (logs, span attributes, the ledger) carries a raw URL: `redact_url`.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from opentelemetry.trace import Span

from notify.domain.delivery import Answer, Verdict, signature, verdict_for_status
from notify.domain.records import LedgerEntry, body_of, created_record
from notify.domain.targets import Address, literal, literal_loopback, url_refusal
from shared.topics import REFERRAL_CREATED

Clock = Callable[[], datetime]
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""(host, port) -> the addresses it resolves to (raises OSError when it does not)."""

# a URL that can never work: retrying will not help
_HOPELESS = (httpx.UnsupportedProtocol, httpx.InvalidURL)
REFUSED = "refused by policy"


def redact_url(url: str) -> str:
    """The URL without user info, query string or fragment: safe to log or trace."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "(unparseable URL)"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def host_of(url: str) -> str:
    """The host of a webhook URL, alone (no scheme, user info, port, path or query): what a
    log entry names as where a referral went (contract section 12)."""
    try:
        return urlsplit(url).hostname or "(no host)"
    except ValueError:
        return "(unparseable URL)"


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (getaddrinfo: numeric forms included)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]).split("%")[0] for info in infos]


class Refused(Exception):
    """The URL is not allowed (contract section 5): the reason, never the URL."""


@dataclass(frozen=True)
class Target:
    """Where one POST goes: the checked address, and the name the URL gave."""

    url: str
    """The URL with its host replaced by the checked address."""
    host: str
    """The `Host` header: the URL's own host (and port)."""
    server_name: str | None
    """The TLS server name (https with a name), checked against the certificate."""


async def resolve(url: str, resolver: Resolver) -> tuple[httpx.URL, list[Address]]:
    """The parsed URL and every address its host stands for (OSError if it resolves to
    nothing)."""
    parsed = httpx.URL(url)
    found = literal(parsed.host)
    if found is not None:
        return parsed, [found]
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    names = await resolver(parsed.host, port)
    if not names:
        raise OSError("no address")
    return parsed, [ip_address(name) for name in names]


def _loopback(url: str, parsed: httpx.URL, allow_loopback: bool) -> bool:
    """Loopback is allowed for this URL: allowed at all, and its host, as the standard
    library and httpx each read it, is the literal `127.0.0.1` (domain.targets)."""
    try:
        written = urlsplit(url).hostname
    except ValueError:
        return False
    return allow_loopback and literal_loopback(written, parsed.host)


async def refusal(url: str, resolver: Resolver, allow_loopback: bool) -> str | None:
    """Why a subscription may not name `url` (None when it may). A name that does not
    resolve now is judged by its scheme alone; it is checked again at each delivery."""
    try:
        parsed, addresses = await resolve(url, resolver)
    except (OSError, ValueError, httpx.InvalidURL):
        try:
            parsed, addresses = httpx.URL(url), []
        except httpx.InvalidURL:
            return "the URL's host is not valid"
    if parsed.scheme not in ("http", "https"):
        return "the URL must be https://"
    return url_refusal(parsed.scheme, addresses, _loopback(url, parsed, allow_loopback))


async def target(url: str, resolver: Resolver, allow_loopback: bool) -> Target:
    """Where to POST `url` now: Refused when not allowed, OSError when it resolves to
    nothing (worth retrying)."""
    parsed, addresses = await resolve(url, resolver)
    why = url_refusal(parsed.scheme, addresses, _loopback(url, parsed, allow_loopback))
    if why is not None:
        raise Refused(why)
    address = addresses[0]
    host = parsed.host if parsed.port is None else f"{_bracketed(parsed.host)}:{parsed.port}"
    named = literal(parsed.host) is None
    return Target(
        url=str(parsed.copy_with(host=str(address))),
        host=host,
        server_name=parsed.host if parsed.scheme == "https" and named else None,
    )


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def redacting_hook(span: Span, request: Any) -> None:
    """httpx instrumentation hook: the client span records the redacted URL only."""
    redacted = redact_url(str(request.url))
    span.set_attribute("url.full", redacted)
    span.set_attribute("http.url", redacted)


@dataclass(frozen=True)
class Attempt:
    """What one POST came to (no personal data: a status code or an error's type)."""

    verdict: Answer
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

    def __init__(
        self,
        client: httpx.AsyncClient,
        source: str,
        timeout: float,
        *,
        clock: Clock,
        resolver: Resolver = system_resolver,
        allow_loopback: bool = False,
    ) -> None:
        self._client = client
        self._source = source
        self._timeout = timeout  # for the whole attempt: a slow drip of bytes is no answer
        self._clock = clock
        self._resolver = resolver
        self._allow_loopback = allow_loopback

    async def send(self, referral: LedgerEntry, url: str, secret: str) -> Attempt:
        """One attempt to deliver `referral`; never raises for the network."""
        record = created_record(referral)
        body = body_of(record)
        headers = headers_for(record, body, secret, self._source)
        started = self._clock()
        try:
            async with asyncio.timeout(self._timeout):
                where = await target(url, self._resolver, self._allow_loopback)
                extensions = {"sni_hostname": where.server_name} if where.server_name else None
                answer = await self._client.post(
                    where.url,
                    content=body,
                    headers={**headers, "Host": where.host},
                    extensions=extensions,
                )
        except Refused as exc:
            return Attempt(Verdict.DEAD, started, self._clock(), error=f"{REFUSED}: {exc}")
        except TimeoutError:
            return Attempt(Verdict.RETRY, started, self._clock(), error="Timeout")
        except _HOPELESS as exc:
            return Attempt(Verdict.DEAD, started, self._clock(), error=type(exc).__name__)
        except httpx.HTTPError as exc:  # timeouts, refused or dropped connections
            return Attempt(Verdict.RETRY, started, self._clock(), error=type(exc).__name__)
        except (OSError, ValueError):  # the name resolves to nothing (now)
            return Attempt(Verdict.RETRY, started, self._clock(), error="DNS lookup failed")
        verdict = verdict_for_status(answer.status_code)
        error = None if verdict == Verdict.DELIVERED else f"HTTP {answer.status_code}"
        return Attempt(verdict, started, self._clock(), answer.status_code, error)
