"""The short fault campaign: `mash chaos` starts the cluster (three Kafka nodes,
PostgreSQL, two replicas of every service), posts a bounded stream while it SIGKILLs
replicas, a Kafka node and takes the webhook receiver down, and must find nothing lost,
nothing duplicated, no MARAC violation; and it leaves no process behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from mash_tools.testing import free_port, free_ports_in_a_row
from shared import registry
from shared.config import ROOT

pytestmark = pytest.mark.e2e
ROWS = (
    "incidents accepted",
    "incidents lost",
    "incidents undecided",
    "referrals missing",
    "referrals duplicated in the ledger",
    "referrals missing from their topic",
    "webhook deliveries repeated after a 2xx",  # with no notify crash between
    "MARAC meetings over capacity",
    "MARAC victims listed twice on a meeting",
)


def leftovers(marker: str) -> list[str]:
    """Command lines of live processes that mention `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if marker in cmdline:
                found.append(cmdline)
    return found


@pytest.mark.timeout(900)  # the cluster's start and settling take minutes on two cores
def test_short_chaos_run_loses_nothing() -> None:
    # the cluster's data where a fresh checkout has it: in `.data/`, owner-only as `make
    # setup` leaves it, in an owner-only home (PostgreSQL, run as `postgres` when we are
    # root, finds a directory of its own: issue 24)
    home = Path(tempfile.mkdtemp(prefix="mash-chaos-"))
    data = home / ".data"
    data.mkdir(mode=0o700)
    try:
        campaign(data / "cluster")
    finally:
        location = data / "cluster" / "postgres" / "location"
        if location.exists():
            shutil.rmtree(location.read_text().strip(), ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


def campaign(data: Path) -> None:
    env = {
        **os.environ,
        "MASH_HOME": str(ROOT),
        "CLUSTER_DATA_DIR": str(data),
        # each node's port follows the one before: three free in a row
        "CLUSTER_KAFKA_PORT": str(free_ports_in_a_row(3)),
        "CLUSTER_CONTROLLER_PORT": str(free_ports_in_a_row(3)),
        "CLUSTER_POSTGRES_PORT": str(free_port()),
        "ZIPKIN_PORT": str(free_port()),
        **{f"{s.settings_prefix}PORT": str(free_port()) for s in registry.SERVICES},
    }
    argv = [
        str(Path(sys.executable).parent / "mash"),
        "chaos",
        "--incidents",
        "24",
        "--kills",
        "4",
        "--pause",
        "0.1",
        "--timeout",
        "150",
    ]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "PASS: nothing lost" in output
    table = {
        line.rsplit(maxsplit=1)[0].strip(): int(line.rsplit(maxsplit=1)[1])
        for line in done.stdout.splitlines()
        if line.startswith("  ") and line.rsplit(maxsplit=1)[-1].isdigit()
    }
    assert table["incidents accepted"] == 24
    for row in ROWS[1:]:
        assert table[row] == 0, row
    assert "SIGKILL kafka-" in output
    assert "receiver down" in output
    assert leftovers(str(data)) == []
    location = data / "postgres" / "location"  # PostgreSQL's own directory, as root
    if location.exists():
        assert leftovers(location.read_text().strip()) == []
