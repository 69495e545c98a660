"""Alembic environment for marac's own database."""

from marac.store import metadata
from shared.migrations import run

run(metadata)
