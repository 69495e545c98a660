"""Intake consumes no topic: it is where events begin. Kept so every service has one shape."""

from __future__ import annotations

from shared.service import ConsumerSpec


def consumers() -> list[ConsumerSpec]:
    return []
