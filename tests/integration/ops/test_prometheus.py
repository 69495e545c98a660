"""deploy/prometheus/: the scrape configuration and the alerting rules, checked and
unit-tested by promtool (Prometheus from Debian's packages, installed when missing)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from mash_tools import stack
from notify.metrics import ReferralMetrics
from shared import registry
from shared.config import ROOT
from shared.metrics import Metrics

HERE = ROOT / "deploy" / "prometheus"


@pytest.fixture(scope="module")
def promtool() -> str:
    subprocess.run(["bash", str(ROOT / "deploy" / "prometheus.sh"), "install"], check=True)
    return "promtool"


def run(*argv: str, cwd: Path = HERE) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_the_configuration_is_valid(promtool: str) -> None:
    assert "SUCCESS" in run(promtool, "check", "config", "prometheus.yml")


def test_the_rules_are_valid(promtool: str) -> None:
    assert "SUCCESS" in run(promtool, "check", "rules", "rules.yml")


def test_the_rule_unit_tests_pass(promtool: str) -> None:
    # a dead letter fires, lag growing fires, a healthy stack fires nothing, ...
    assert "SUCCESS" in run(promtool, "test", "rules", "rules.test.yml")


def test_a_broken_rule_test_fails(promtool: str, tmp_path: Path) -> None:
    """The rule tests can fail: a healthy-stack expectation against a dead letter does."""
    (tmp_path / "rules.yml").write_text((HERE / "rules.yml").read_text())
    tests = yaml.safe_load((HERE / "rules.test.yml").read_text())
    healthy = tests["tests"][0]
    for series in healthy["input_series"]:
        if series["series"].startswith("mash_events_deadlettered_total"):
            series["values"] = "0x230 1x10"  # one, two minutes before
    (tmp_path / "rules.test.yml").write_text(yaml.safe_dump(tests))
    done = subprocess.run(
        [promtool, "test", "rules", "rules.test.yml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "MashDeadLetter" in done.stdout + done.stderr


def test_the_contract_alerts_exist() -> None:
    rules = yaml.safe_load((HERE / "rules.yml").read_text())
    names = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert {
        "MashServiceDown",
        "MashConsumerLagGrowing",
        "MashOutboxBacklogOld",
        "MashDeadLetter",
        "MashWebhookDeliveryDead",
        "MashReferralOverdue",
        "MashRecordsChainBroken",  # contract section 12 and issue 19
        "MashRecordsLogLagging",
    } <= names


def declared_by_services() -> set[str]:
    """Metric names a service declares in its own source (records' chain gauge, ...), as
    exported: a counter also with `_total`."""
    names = set()
    for path in (ROOT / "services").glob("*/src/**/*.py"):
        names |= set(re.findall(r"[\"'](mash_[a-z_]+)[\"']", path.read_text()))
    return names | {f"{name}_total" for name in names}


def test_every_metric_a_rule_watches_is_exported() -> None:
    collectors = CollectorRegistry()
    metrics = Metrics("any")
    ReferralMetrics(collectors)
    exported = {
        f"{family.name}_total" if family.type == "counter" else family.name
        for source in (metrics.registry, collectors)
        for family in source.collect()
    } | {"up"}
    # the records service's own (mash_records_chain_broken): on the `records` branch
    exported |= declared_by_services()
    rules = (HERE / "rules.yml").read_text()
    watched = set(re.findall(r"\b(mash_[a-z_]+)", rules))
    assert watched
    assert watched <= exported, watched - exported


def test_every_service_is_scraped() -> None:
    config = yaml.safe_load((HERE / "prometheus.yml").read_text())
    targets = {
        static["labels"]["service"]: static["targets"]
        for job in config["scrape_configs"]
        for static in job["static_configs"]
    }
    assert targets == {s.name: [f"127.0.0.1:{s.port}"] for s in registry.SERVICES}
    assert targets["records"] == ["127.0.0.1:8007"]


def test_mash_run_scrapes_its_own_ports(
    promtool: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTAKE_PORT", "28001")
    path = stack.prometheus_config(tmp_path)
    config = yaml.safe_load(path.read_text())
    targets = [
        t for static in config["scrape_configs"][0]["static_configs"] for t in static["targets"]
    ]
    assert "127.0.0.1:28001" in targets
    assert len(targets) == len(stack.SERVICES)
    assert "SUCCESS" in run(promtool, "check", "config", str(path), cwd=tmp_path)
