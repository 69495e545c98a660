"""Notify's own Prometheus series, in the service's registry (served at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from notify.domain.delivery import Status
from shared.topics import AGENCIES


class ReferralMetrics:
    """Referrals made, webhook attempts, dead deliveries and overdue referrals, per agency:
    enums only, no people."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.referrals = Counter(
            "mash_referrals_created", "Referrals made, per agency", ["agency"], registry=registry
        )
        self.attempts = Counter(
            "mash_webhook_attempts",
            "Webhook delivery attempts, per agency and outcome (delivered, failed, dead)",
            ["agency", "status"],
            registry=registry,
        )
        for agency in AGENCIES:  # at 0 from the start: alerts see the first dead delivery
            for status in (Status.DELIVERED, Status.FAILED, Status.DEAD):
                self.attempts.labels(agency, status)
        self.dead = Counter(
            "mash_webhook_deliveries_dead",
            "Webhook deliveries given up (dead), per agency",
            ["agency"],
            registry=registry,
        )
