"""The service registry (shared.registry) is the one list of services (issue 24): the
contract's ports, the ACL table's topics, and every tool, manifest and test that names
the services either reads it or agrees with it. A new service is one entry."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path
from types import ModuleType

import httpx
import yaml

from mash_tools import chaos, cluster, demo, stack
from shared import kafka_security, registry, topics
from shared.kafka_security import ACL_TABLE
from shared.topics import DEADLETTER
from tests.unit.deploy.conftest import ROOT
from tests.unit.deploy.test_progress import _bench

CONTRACT_PORTS = {
    "intake": 8001,
    "triage": 8002,
    "notify": 8003,
    "marac": 8004,
    "console": 8005,
    "perpetrators": 8006,
    "records": 8007,
}
"""Contract sections 1, 10, 11 and 12."""

HAND_WRITTEN = {
    "shared/src/shared/registry.py": "the registry itself",
    "shared/src/shared/topics.py": "AUDITED_SERVICES (the registry imports topics, so "
    "topics cannot import it): checked equal below",
    "pyproject.toml": "the workspace's packages and tool settings: checked below",
    "tests/unit/deploy/test_registry.py": "the contract's ports, to check the registry",
    "tests/unit/deploy/test_k8s.py": "expectations about the manifests, on purpose apart",
    "tests/unit/test_migrations.py": "a lower bound on the services it finds on disk",
    "tests/e2e/test_console_browser.py": "the services the console's pages need, not all",
}
"""Files that may write out five or more service names, and why."""
A_LIST = re.compile(
    r"([\"'](?:"
    + "|".join(registry.NAMES)
    + r")[\"']\s*,\s*){4,}[\"'](?:"
    + "|".join(registry.NAMES)
    + r")[\"']"
)


def test_the_registry_has_every_service_of_the_contract_once() -> None:
    assert {s.name: s.port for s in registry.SERVICES} == CONTRACT_PORTS
    assert len(set(registry.NAMES)) == len(registry.NAMES)
    records = registry.service("records")
    assert (records.port, records.settings_prefix, records.principal) == (
        8007,
        "RECORDS_",
        "records",
    )
    assert records.app == "records.app:create_app"
    assert records.database == "mash_records"


def test_the_shared_lists_of_services_are_the_registrys() -> None:
    assert topics.AUDITED_SERVICES == registry.NAMES
    assert kafka_security.SERVICES == registry.NAMES
    assert tuple(s.log_topic for s in registry.SERVICES) == topics.AUDIT_TOPICS


def _covered(topic: str, patterns: tuple[str, ...]) -> bool:
    return any(topic == p or (p.endswith("*") and topic.startswith(p[:-1])) for p in patterns)


def test_each_entrys_topics_agree_with_the_acl_table() -> None:
    """What the registry says a service reads and writes is what its principal may do."""
    for svc in registry.SERVICES:
        access = ACL_TABLE[svc.principal]
        read = (*svc.consumes, *svc.observes)
        assert all(_covered(t, access.reads) for t in read), svc.name
        for pattern in access.reads:  # nothing the principal may read goes unused
            assert any(_covered(t, (pattern,)) for t in read), (svc.name, pattern)
        assert set(access.writes) == {*svc.produces, DEADLETTER, svc.log_topic}, svc.name
        assert access.group_prefixes == (svc.consumer_group,)
        assert set(read) <= set(topics.ALL_TOPICS)
        assert set(svc.produces) <= set(topics.ALL_TOPICS)
        assert set(svc.calls) <= set(registry.NAMES)


def test_the_tools_read_the_registry() -> None:
    assert stack.SERVICES is registry.SERVICES
    assert vars(cluster)["SERVICES"] is registry.SERVICES  # imported from stack
    assert chaos.VICTIMS == registry.NAMES
    bench: ModuleType = _bench()
    assert tuple(n for n in registry.NAMES if n != "console") == bench.SERVICES
    assert "records" in bench.SERVICES  # its memory is in the bench's table
    assert tuple(demo.Hub(httpx.Client()).urls) == registry.NAMES


def test_mash_run_starts_records_as_it_starts_the_others() -> None:
    """`<module>.app:create_app --factory` with uvicorn, on its port from the registry."""
    argv = stack.uvicorn_argv("records", stack.service_port("records"))
    assert argv[1:3] == ["records.app:create_app", "--factory"]
    assert argv[argv.index("--port") + 1] == "8007"


def test_the_prometheus_configuration_scrapes_every_service_of_the_registry() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = {
        static["labels"]["service"]: static["targets"]
        for job in config["scrape_configs"]
        for static in job["static_configs"]
    }
    assert targets == {s.name: [f"127.0.0.1:{s.port}"] for s in registry.SERVICES}


def test_the_kubernetes_services_are_the_registrys(generator: ModuleType) -> None:
    rendered = yaml.safe_load_all(generator.rendered()["services.yaml"])
    deployments = {d["metadata"]["name"]: d for d in rendered if d and d["kind"] == "Deployment"}
    assert tuple(deployments) == registry.NAMES
    for svc in registry.SERVICES:
        (container,) = deployments[svc.name]["spec"]["template"]["spec"]["containers"]
        assert container["args"][0] == svc.app
        assert container["ports"][0]["containerPort"] == svc.port


def test_no_file_writes_out_its_own_list_of_services() -> None:
    """A list of five or more service names anywhere else is a list that will drift."""
    tracked = subprocess.run(
        ["git", "ls-files", "*.py", "*.yml", "*.yaml", "*.sh", "*.toml", "Makefile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "shared/src/shared/registry.py" in tracked
    found = {
        path
        for path in tracked
        if (ROOT / path).is_file() and A_LIST.search((ROOT / path).read_text(errors="replace"))
    }
    assert found <= set(HAND_WRITTEN), found - set(HAND_WRITTEN)
    assert A_LIST.search('SERVICES = ("intake", "triage", "notify", "marac", "console")')


# -- after the merge of the `records` branch: the service's package is in the workspace --
def test_every_service_of_the_registry_is_a_package_with_a_composition_root() -> None:
    for svc in registry.SERVICES:
        app = ROOT / "services" / svc.name / "src" / svc.module / "app.py"
        assert app.is_file(), f"{svc.name}: no {app.relative_to(ROOT)}"
        assert re.search(r"^def create_app\(", app.read_text(), re.MULTILINE), svc.name


def test_the_workspace_lists_every_service_of_the_registry() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    dependencies = set(project["project"]["dependencies"])
    mypy = project["tool"]["mypy"]
    first_party = set(project["tool"]["ruff"]["lint"]["isort"]["known-first-party"])
    for svc in registry.SERVICES:
        assert f"mash-{svc.name}" in dependencies, svc.name
        assert f"services/{svc.name}/src" in mypy["files"], svc.name
        assert f"services/{svc.name}/src" in mypy["mypy_path"], svc.name
        assert svc.module in first_party, svc.name
        assert Path(ROOT / "services" / svc.name / "pyproject.toml").is_file(), svc.name
