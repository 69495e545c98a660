"""Prometheus metrics: one registry per service instance (tests run several in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from shared.topics import AGENCIES, DEADLETTER


class Metrics:
    """Requests, events consumed/produced/dead-lettered per topic, outbox backlog, lag."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "mash_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "mash_http_request_seconds", "HTTP request duration", ["route"], registry=r
        )
        self.consumed = Counter(
            "mash_events_consumed", "Events processed from a topic", ["topic", "type"], registry=r
        )
        self.duplicates = Counter(
            "mash_events_duplicate", "Events skipped as already processed", ["topic"], registry=r
        )
        self.produced = Counter(
            "mash_events_produced", "Events published to a topic", ["topic"], registry=r
        )
        self.deadlettered = Counter(
            "mash_events_deadlettered",
            "Events sent to the dead-letter topic",
            ["topic"],
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "mash_outbox_backlog", "Outbox events committed but not yet published", registry=r
        )
        self.outbox_oldest_age = Gauge(
            "mash_outbox_oldest_age_seconds",
            "Age of the oldest outbox event not yet published (0 when none waits)",
            registry=r,
        )
        self.referrals_overdue = Counter(
            "mash_referrals_overdue",
            "Referrals escalated because their agency did not acknowledge them in time",
            ["agency"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "mash_consumer_lag",
            "Messages behind the end of a partition",
            ["topic", "partition"],
            registry=r,
        )

        # series that alerts watch start at 0, so their first increase is seen
        self.produced.labels(DEADLETTER)
        for agency in AGENCIES:
            self.referrals_overdue.labels(agency)

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
