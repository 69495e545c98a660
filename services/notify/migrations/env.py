"""Alembic environment for notify's own database."""

from notify.store import metadata
from shared.migrations import run

run(metadata)
