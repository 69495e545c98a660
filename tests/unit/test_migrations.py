"""Each service's Alembic history is one line: a single head, so `upgrade head` works
(two branches that each add a `0002` would otherwise stop the service at start-up)."""

from __future__ import annotations

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from shared.config import ROOT

SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/migrations"))


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_has_one_migration_head(service: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "services" / service / "migrations"))
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_every_service_has_migrations() -> None:
    assert set(SERVICES) >= {
        "intake",
        "triage",
        "notify",
        "marac",
        "perpetrators",
        "console",
        "records",
    }
