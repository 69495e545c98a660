"""The development broker has no back door (issue 20): its controller listener admits the
broker alone (mutual TLS with the stack's CA), no anonymous client is a superuser, and no
password is ever on a process's command line."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from mash_tools import kafka_material
from shared import kafka_security
from shared.config import ROOT

pytestmark = pytest.mark.kafka

LIBS = Path(os.environ.get("KAFKA_LIBS", ROOT / ".data" / "kafka-libs"))


def _controller_port(workdir: Path) -> str:
    """The session broker's controller port, from the server.properties it runs with."""
    properties = (workdir / "kafka" / "server.properties").read_text()
    found = re.search(r"CONTROLLER://127\.0\.0\.1:(\d+)", properties)
    assert found, "the suite's broker names its controller listener"
    return found.group(1)


def _config_command(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "java",
            "-Xmx128m",
            f"-Dlog4j.configuration=file:{ROOT / 'deploy' / 'log4j-tools.properties'}",
            "-cp",
            f"{LIBS}/*",
            "kafka.admin.ConfigCommand",
            "--command-config",
            str(config),
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )


SET_RETENTION = (
    "--alter",
    "--entity-type",
    "brokers",
    "--entity-default",
    "--add-config",
    "log.retention.ms=1000",
)
DESCRIBE = ("--describe", "--entity-type", "brokers", "--entity-default")
QUICK = "request.timeout.ms=5000\ndefault.api.timeout.ms=15000\n"


def test_no_client_but_the_broker_gets_through_the_controller_listener(
    kafka_bootstrap: str, workdir: Path, tmp_path: Path
) -> None:
    controller = f"127.0.0.1:{_controller_port(workdir)}"
    security = kafka_security.security_dir()
    ca, broker = security / kafka_security.CA_FILE, security / kafka_material.BROKER_FILE
    plain = tmp_path / "plain.properties"
    plain.write_text(QUICK)
    tls_only = tmp_path / "tls.properties"  # trusts the broker, proves nothing of itself
    tls_only.write_text(
        f"{QUICK}security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location={ca}\n"
    )
    for config in (plain, tls_only):
        refused = _config_command(
            "--bootstrap-controller", controller, *SET_RETENTION, config=config
        )
        assert refused.returncode != 0, refused.stdout
    # what makes those refusals mean something: the broker's own certificate gets in
    own = tmp_path / "broker.properties"
    own.write_text(f"{tls_only.read_text()}ssl.keystore.type=PEM\nssl.keystore.location={broker}\n")
    described = _config_command("--bootstrap-controller", controller, *DESCRIBE, config=own)
    assert described.returncode == 0, described.stderr
    assert "log.retention.ms" not in described.stdout  # nothing was altered
    assert "ANONYMOUS" not in (workdir / "kafka" / "server.properties").read_text()


def test_a_rotation_passes_no_password_on_a_command_line(tmp_path: Path) -> None:
    """`kafka.sh rotate` with a stand-in `java` that records what it was run with: the new
    password reaches the tool only through its owner-only argument file."""
    security = tmp_path / "security"
    kafka_material.ensure_material(security)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    seen = tmp_path / "seen.json"
    fake = bin_dir / "java"
    fake.write_text(
        "#!/usr/bin/env python3\n"
        "import json, os, stat, sys\n"
        "argfiles = {a: open(a[1:]).read() for a in sys.argv[1:] if a.startswith('@')}\n"
        "modes = {a: stat.S_IMODE(os.stat(a[1:]).st_mode) for a in argfiles}\n"
        "record = {'argv': sys.argv, 'files': argfiles, 'modes': modes}\n"
        f"json.dump(record, open({str(seen)!r}, 'w'))\n"
    )
    fake.chmod(0o755)
    done = subprocess.run(
        ["bash", str(ROOT / "deploy" / "kafka.sh"), "rotate", "idva"],
        env={
            **os.environ,
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "MASH_KAFKA_SECURITY_DIR": str(security),
            "KAFKA_PORT": "1",
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    password = json.loads((security / kafka_security.PASSWORDS_FILE).read_text())["idva"]
    recorded = json.loads(seen.read_text())
    assert password not in " ".join(recorded["argv"])
    (content,) = recorded["files"].values()
    assert password in content  # it went to the tool, by file
    assert set(recorded["modes"].values()) == {0o600}
    assert not [p for p in recorded["files"] if Path(p[1:]).exists()]  # and is gone
