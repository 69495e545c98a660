"""Kept only for `deploy/bench.py`, which imports it; the suite uses `tests.builders`.
Remove once the bench imports `tests.builders` (deploy/ is being changed elsewhere)."""

from tests.builders import dash_body, incident_body, settings_for, spans_named

__all__ = ["dash_body", "incident_body", "settings_for", "spans_named"]
