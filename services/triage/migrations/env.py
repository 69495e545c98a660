"""Alembic environment for triage's own database."""

from shared.migrations import run
from triage.store import metadata

run(metadata)
