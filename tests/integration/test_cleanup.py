"""Servers started for tests never outlive what started them.

A test session that dies without running its teardown (killed outright) must still leave
no broker JVM and no PostgreSQL server behind: watchdogs stop them once their starter is
gone. (`deploy/test.sh` also checks, after every run, that nothing it started is left.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mash_tools.testing import eventually, free_port
from shared.config import ROOT

pytestmark = pytest.mark.kafka


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline and "starter.py" not in cmdline:
            found.append(int(entry.name))
    return found


def starter(code: str, tmp_path: Path) -> subprocess.Popen[str]:
    script = tmp_path / "starter.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


async def test_a_broker_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    child = starter(
        """
        import sys, time
        from pathlib import Path
        from mash_tools.testing import kafka_broker
        with kafka_broker(Path(sys.argv[1])) as bootstrap:
            print(bootstrap, flush=True)
            time.sleep(3600)
        """,
        tmp_path,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().startswith("127.0.0.1:")
        marker = str(tmp_path / "kafka" / "server.properties")
        assert processes_mentioning(marker)  # the JVM runs
    finally:
        child.kill()  # SIGKILL: no teardown runs in the starter
        child.wait()
    assert await eventually(lambda: not processes_mentioning(marker), timeout=90)


async def test_a_postgres_server_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    child = starter(
        """
        import sys, time
        from mash_tools.testing import postgres_server
        with postgres_server() as url:
            print(url, flush=True)
            time.sleep(3600)
        """,
        tmp_path,
    )
    try:
        assert child.stdout is not None
        url = child.stdout.readline()
        assert url.startswith("postgresql+asyncpg://")
        port = url.strip().rsplit(":", 1)[1]
        assert processes_mentioning(f"-p {port}")
    finally:
        child.kill()  # SIGKILL: no teardown runs in the starter
        child.wait()
    assert await eventually(lambda: not processes_mentioning(f"-p {port}"), timeout=90)


@pytest.mark.parametrize("server", ["zipkin", "prometheus"])
async def test_zipkin_and_prometheus_die_with_the_process_that_started_them(
    server: str, tmp_path: Path
) -> None:
    port = free_port()
    if server == "zipkin":
        argv = ["bash", "deploy/zipkin.sh", "up"]
        marker = f"--armeria.ports[0].port={port}"
    else:
        config = tmp_path / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 60s\n")
        argv = ["bash", "deploy/prometheus.sh", "up", str(config)]
        marker = f"--web.listen-address=127.0.0.1:{port}"
    child = starter(
        f"""
        import os, subprocess, sys, time
        env = {{**os.environ, "ZIPKIN_PORT": "{port}", "PROMETHEUS_PORT": "{port}",
               "PROMETHEUS_DATA_DIR": sys.argv[1] + "/prometheus"}}
        subprocess.Popen({argv!r}, env=env, stdout=subprocess.DEVNULL)
        print("started", flush=True)
        time.sleep(3600)
        """,
        tmp_path,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "started"
        assert await eventually(lambda: processes_mentioning(marker), timeout=60)
    finally:
        child.kill()  # SIGKILL: its child, the script, is left without its parent
        child.wait()
    assert await eventually(lambda: not processes_mentioning(marker), timeout=60)
