"""Notify's own Prometheus series, in the service's registry (served at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


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
        self.dead = Counter(
            "mash_webhook_deliveries_dead",
            "Webhook deliveries given up (dead), per agency",
            ["agency"],
            registry=registry,
        )
        self.overdue = Counter(
            "mash_referrals_overdue",
            "Referrals escalated as overdue (not acknowledged by due_by), per agency",
            ["agency"],
            registry=registry,
        )
