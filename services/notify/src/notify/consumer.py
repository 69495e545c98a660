"""Kafka -> notify's handlers: triage's decisions, and the agencies' MARAC referrals the
IDVA service is to be told of, become referrals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from notify import handlers
from shared.kafka import utc_now
from shared.service import ConsumerSpec
from shared.topics import DECISIONS, MARAC_IDVA_REFERRALS


def consumers(
    notify: handlers.Notify, clock: Callable[[], datetime] = utc_now
) -> list[ConsumerSpec]:
    """`clock`: when each event is processed (tests make it tick, to show a batch keeps
    each event's own time)."""
    spec = ConsumerSpec.of(
        "notify", [DECISIONS, MARAC_IDVA_REFERRALS], handlers.EVENTS, notify, clock
    )
    return [spec]
