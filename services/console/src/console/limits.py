"""Limits on what anyone may do before signing in.

Each start of an OpenID sign-in stores a pending request; without a limit, anyone could
fill the table. A client (its address as the server sees it: uvicorn runs with
`--no-proxy-headers`, so no header can choose it) may start a few a minute; the pending
requests themselves are purged by `Purge` once they expire.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from datetime import UTC, datetime

from console import handlers
from console.config import Settings
from shared.periodic import PeriodicJob
from shared.service import Platform

WINDOW_SECONDS = 60.0
MAX_CLIENTS = 10_000


class PerClient:
    """At most `limit` events per client in any `window` seconds (a sliding window, in
    this process's memory; the least recently seen clients are forgotten first)."""

    def __init__(self, limit: int, window: float = WINDOW_SECONDS) -> None:
        self._limit = limit
        self._window = window
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, client: str, now: float | None = None) -> bool:
        moment = time.monotonic() if now is None else now
        times = self._seen.pop(client, None) or deque()
        while times and times[0] <= moment - self._window:
            times.popleft()
        allowed = len(times) < self._limit
        if allowed:
            times.append(moment)
        self._seen[client] = times
        while len(self._seen) > MAX_CLIENTS:
            self._seen.popitem(last=False)
        return allowed


class Purge(PeriodicJob[Settings]):
    """Deletes expired pending OpenID requests, sessions and used-link records."""

    name = "console-purge"
    what = "expired sign-in rows deleted"

    async def round(self, platform: Platform[Settings]) -> int:
        return await handlers.purge(platform, datetime.now(UTC))
