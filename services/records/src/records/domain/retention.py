"""What the retention job erases (DPA 2018 s.39: no longer than necessary): a service's
oldest entries, from the start of its chain, while they are older than the cutoff.

Only a prefix of a chain is ever erased, so what is kept still verifies from the
checkpoint left behind; an old entry that sits after a newer one in the chain (two
replicas of a service publishing out of clock order) waits for that one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import takewhile

from records.domain.chain import Chained, instant


def cutoff(now: datetime, retention_days: int) -> datetime:
    """Entries processed before this instant have been kept long enough."""
    return now - timedelta(days=retention_days)


def erasable(entries: Iterable[Chained], before: datetime) -> list[Chained]:
    """The leading entries of a chain (in chain order) processed before `before`."""
    limit = instant(before)
    return list(takewhile(lambda e: instant(e.record.at) < limit, entries))
