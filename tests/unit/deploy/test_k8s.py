"""deploy/k8s/: what `kubectl apply -k` would send is valid, hardened, and agrees with the
project's own tables (the service registry, topics, the ACL table of contract section 8,
partitions)."""

from __future__ import annotations

import copy
import ipaddress
import os
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]
import pydantic
import pytest
import yaml

from console.config import Settings as ConsoleSettings
from shared.config import HubSettings
from shared.kafka_security import (
    ACL_TABLE,
    ADMIN,
    CLUSTER,
    DESCRIBE,
    GROUP,
    IDEMPOTENT_WRITE,
    LITERAL,
    NEIGHBOURHOOD_TEAM,
    OPS,
    PREFIXED,
    PRINCIPALS,
    READ,
    TOPIC,
    WRITE,
    bindings,
)
from shared.registry import SERVICES as REGISTRY
from shared.registry import service as entry
from shared.topics import (
    AGENCIES,
    ALL_TOPICS,
    AUDIT_PREFIX,
    AUDIT_TOPICS,
    DEADLETTER,
    PERPETRATORS,
    TOPIC_PREFIX,
    audit_topic,
    referrals_topic,
)
from tests.unit.deploy import schemas
from tests.unit.deploy.conftest import K8S, ROOT

# the first test builds kustomize with Go on a fresh machine: minutes on two busy cores
pytestmark = pytest.mark.timeout(1500)

KUBERNETES_VERSION = "1.33.0"
"""The Kubernetes release whose API the core objects are validated against."""

PORTS = {s.name: s.port for s in REGISTRY}
"""Every service of the registry and its port (contract section 1)."""
SERVICES = tuple(PORTS)
CALLERS = {s.name: {c.name for c in REGISTRY if s.name in c.calls} for s in REGISTRY}
"""Who calls each service's API (the console calls notify, marac, perpetrators, records)."""
THIRTY_DAYS_MS = 30 * 24 * 60 * 60 * 1000
Objects = list[dict[str, Any]]


def of_kind(objects: Objects, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


def kafka_sh_partitions() -> int:
    """The partitions `make run`'s broker gives each topic (deploy/kafka.sh)."""
    match = re.search(
        r"PARTITIONS=\$\{KAFKA_PARTITIONS:-(\d+)\}", (ROOT / "deploy/kafka.sh").read_text()
    )
    assert match, "deploy/kafka.sh no longer says how many partitions"
    return int(match.group(1))


# -- generated files -----------------------------------------------------------------------------
def test_the_committed_generated_files_are_what_the_generator_writes_now(generator):
    for name, text in generator.rendered().items():
        committed = (K8S / "base" / name).read_text()
        assert committed == text, f"deploy/k8s/base/{name} is stale: run deploy/k8s/generate.py"


def test_the_generator_check_mode_notices_a_hand_edit(generator, tmp_path):
    for name, text in generator.rendered().items():
        (tmp_path / name).write_text(text)
    assert generator.main(["--check", "--out", str(tmp_path)]) == 0
    users = tmp_path / "kafka-users.yaml"
    users.write_text(users.read_text().replace("- Read\n", "- Alter\n", 1))
    assert generator.main(["--check", "--out", str(tmp_path)]) == 1


# -- core objects against the Kubernetes API -----------------------------------------------------
def test_every_core_object_is_valid_for_the_pinned_kubernetes_release(rendered):
    core = [o for o in rendered if (o["apiVersion"], o["kind"]) not in schemas.CUSTOM]
    kinds = {o["kind"] for o in core}
    assert {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "NetworkPolicy",
    } <= kinds
    for obj in core:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_the_validator_rejects_a_misspelt_field(base):
    deployment = copy.deepcopy(of_kind(base, "Deployment")["triage"])
    container(deployment)["readinesProbe"] = container(deployment).pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_every_custom_resource_has_the_fields_the_operators_define(rendered):
    custom = [
        o for o in rendered if o["apiVersion"].endswith(("strimzi.io/v1beta2", "keda.sh/v1alpha1"))
    ]
    assert {o["kind"] for o in custom} == {k for _, k in schemas.CUSTOM}
    for obj in custom:
        jsonschema.validate(obj, schemas.CUSTOM[(obj["apiVersion"], obj["kind"])])


def test_the_custom_schemas_reject_an_invented_field(base):
    user = copy.deepcopy(of_kind(base, "KafkaUser")["idva"])
    user["spec"]["authorization"]["acls"][0]["operation"] = "Read"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(user, schemas.KAFKA_USER)
    scaled = copy.deepcopy(of_kind(base, "ScaledObject")["triage"])
    scaled["spec"]["triggers"][0]["metadata"]["lagTreshold"] = "5"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scaled, schemas.SCALED_OBJECT)


def test_everything_lives_in_the_hub_namespace(rendered):
    for obj in rendered:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "mash", obj["metadata"]["name"]


# -- the Kafka cluster ---------------------------------------------------------------------------
def test_the_cluster_is_kraft_with_three_dual_role_nodes_and_secure_listeners(rendered):
    (kafka,) = of_kind(rendered, "Kafka").values()
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    assert kafka["metadata"]["annotations"]["strimzi.io/node-pools"] == "enabled"
    assert "zookeeper" not in kafka["spec"]
    pools = [p for p in of_kind(rendered, "KafkaNodePool").values()]
    assert all(
        p["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"] for p in pools
    )
    assert sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"]) == 3
    assert sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"]) == 3
    spec = kafka["spec"]["kafka"]
    for listener in spec["listeners"]:  # no client gets in without TLS, SCRAM or a certificate
        assert listener["tls"] is True
        expected = "tls" if listener["name"] == "admin" else "scram-sha-512"
        assert listener["authentication"]["type"] == expected
    assert spec["authorization"] == {"type": "simple", "superUsers": [f"CN={ADMIN}"]}
    assert spec["config"]["default.replication.factor"] == 3
    assert spec["config"]["min.insync.replicas"] == 2
    assert spec["config"]["auto.create.topics.enable"] is False


def test_a_topic_per_contract_topic_replicated_three_times_with_min_isr_two(rendered):
    topics = of_kind(rendered, "KafkaTopic")
    assert sorted(t["spec"]["topicName"] for t in topics.values()) == sorted(ALL_TOPICS)
    for topic in topics.values():
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "mash"
        assert topic["spec"]["replicas"] == 3
        assert topic["spec"]["config"]["min.insync.replicas"] == 2
        assert topic["spec"]["partitions"] == kafka_sh_partitions()


def test_section_12_every_log_topic_keeps_its_entries_at_least_30_days(rendered):
    topics = {t["spec"]["topicName"]: t for t in of_kind(rendered, "KafkaTopic").values()}
    assert set(AUDIT_TOPICS) <= set(topics)
    for name, topic in topics.items():
        kept = topic["spec"]["config"].get("retention.ms")
        if name.startswith(AUDIT_PREFIX):
            assert int(kept) >= THIRTY_DAYS_MS, name
        else:
            assert kept is None, name  # the others keep the broker's default


# -- principals and ACLs (contract section 8) ----------------------------------------------------
_TYPES = {"topic": TOPIC, "group": GROUP, "cluster": CLUSTER}
_PATTERNS = {"literal": LITERAL, "prefix": PREFIXED}
_OPERATIONS = {
    "Read": READ,
    "Write": WRITE,
    "Describe": DESCRIBE,
    "IdempotentWrite": IDEMPOTENT_WRITE,
}


def granted(objects: Objects) -> set[tuple[int, str, int, str, int]]:
    """Every (resource type, name, pattern, principal, operation) the KafkaUsers allow."""
    out = set()
    for user in of_kind(objects, "KafkaUser").values():
        principal = f"User:{user['metadata']['name']}"
        for acl in user["spec"].get("authorization", {}).get("acls", []):
            assert acl.get("type", "allow") == "allow"
            resource = acl["resource"]
            name = resource.get("name", "kafka-cluster")
            pattern = _PATTERNS[resource.get("patternType", "literal")]
            for operation in acl["operations"]:
                assert operation in _OPERATIONS, f"{principal} may {operation}"
                out.add(
                    (_TYPES[resource["type"]], name, pattern, principal, _OPERATIONS[operation])
                )
    return out


def test_a_kafka_user_per_principal_of_the_acl_table(rendered):
    users = of_kind(rendered, "KafkaUser")
    assert sorted(users) == sorted(PRINCIPALS)
    for name, user in users.items():  # the superuser has a certificate, no password
        expected = "tls" if ACL_TABLE[name].superuser else "scram-sha-512"
        assert user["spec"]["authentication"]["type"] == expected
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == "mash"


def test_the_users_acls_are_exactly_the_acl_tables_bindings(rendered):
    table = {(b.resource_type, b.name, b.pattern, b.principal, b.operation) for b in bindings()}
    assert granted(rendered) == table
    (kafka,) = of_kind(rendered, "Kafka").values()
    supers = set(kafka["spec"]["kafka"]["authorization"]["superUsers"])
    # a `tls` KafkaUser's principal is its certificate's subject, `CN=<name>`
    assert supers == {f"CN={p}" for p, a in ACL_TABLE.items() if a.superuser}


def _may(objects: Objects, principal: str) -> dict[str, set[tuple[str, str, str]]]:
    """operation -> {(resource type, name, pattern)} for one principal, from the manifests."""
    out: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    for user in of_kind(objects, "KafkaUser").values():
        if user["metadata"]["name"] != principal:
            continue
        for acl in user["spec"].get("authorization", {}).get("acls", []):
            r = acl["resource"]
            for op in acl["operations"]:
                out[op].add((r["type"], r.get("name", ""), r.get("patternType", "literal")))
    return out


def test_section_8_agencies_read_only_their_own_topic_with_their_own_groups(rendered):
    for agency in AGENCIES:
        may = _may(rendered, agency)
        assert may["Read"] == {
            ("topic", referrals_topic(agency), "literal"),
            ("group", f"{agency}.", "prefix"),
        }
        assert set(may) == {"Read", "Describe"}


def test_section_8_the_neighbourhood_team_reads_only_perpetrators(rendered):
    may = _may(rendered, NEIGHBOURHOOD_TEAM)
    assert {r for r in may["Read"] if r[0] == "topic"} == {("topic", PERPETRATORS, "literal")}
    assert {r for r in may["Read"] if r[0] == "group"} == {
        ("group", f"{NEIGHBOURHOOD_TEAM}.", "prefix")
    }
    assert set(may) == {"Read", "Describe"}


def test_section_8_ops_reads_every_mash_topic_and_writes_nothing(rendered):
    may = _may(rendered, OPS)
    assert ("topic", TOPIC_PREFIX, "prefix") in may["Read"]
    assert ("group", "ops.", "prefix") in may["Read"]
    assert not may["Write"]
    assert not may["IdempotentWrite"]


def test_section_8_no_principal_but_admin_creates_deletes_or_alters(rendered):
    for user in of_kind(rendered, "KafkaUser").values():
        name = user["metadata"]["name"]
        may = _may(rendered, name)
        forbidden = {"Create", "Delete", "Alter", "AlterConfigs", "ClusterAction", "All"}
        assert not forbidden & set(may), name
        if name == ADMIN:
            assert "authorization" not in user["spec"]  # a superuser, by the Kafka resource


def test_section_8_services_read_with_their_own_group_and_write_their_outputs(rendered):
    for svc in SERVICES:
        may = _may(rendered, svc)
        groups = {r for r in may["Read"] if r[0] == "group"}
        assert groups == {("group", entry(svc).consumer_group, "prefix")}
        topics_read = {(r[1], r[2]) for r in may["Read"] if r[0] == "topic"}
        assert topics_read == {  # `mash.audit.*` in the table is the prefix `mash.audit.`
            (t.removesuffix("*"), "prefix" if t.endswith("*") else "literal")
            for t in ACL_TABLE[svc].reads
        }
        written = {r[1] for r in may["Write"]}
        assert written == {DEADLETTER, entry(svc).log_topic, *entry(svc).produces}
        # its own log topic, and no other's (contract section 12)
        assert {t for t in written if t.startswith(AUDIT_PREFIX)} == {audit_topic(svc)}


def test_section_12_a_log_topic_is_written_by_its_service_alone(rendered):
    for topic in AUDIT_TOPICS:
        writers = {
            user["metadata"]["name"]
            for user in of_kind(rendered, "KafkaUser").values()
            if any(
                r[1] == topic or (r[2] == "prefix" and topic.startswith(r[1]))
                for r in _may(rendered, user["metadata"]["name"])["Write"]
            )
        }
        assert writers == {topic.removeprefix(AUDIT_PREFIX).removesuffix(".v1")}, topic


def test_section_12_records_reads_every_log_topic_and_describes_the_partners_groups(rendered):
    may = _may(rendered, "records")
    assert ("topic", AUDIT_PREFIX, "prefix") in may["Read"]
    described = {r[1] for r in may["Describe"] if r[0] == "group" and r[2] == "prefix"}
    assert {f"{a}." for a in AGENCIES} | {f"{NEIGHBOURHOOD_TEAM}.", f"{OPS}."} <= described
    assert {r[1] for r in may["Write"]} == {DEADLETTER, audit_topic("records")}


# -- the services --------------------------------------------------------------------------------
def test_each_service_has_a_hardened_deployment_with_both_probes(rendered):
    deployments = of_kind(rendered, "Deployment")
    assert sorted(deployments) == sorted(PORTS)
    assert "records" in deployments  # contract section 12
    config = of_kind(rendered, "ConfigMap")["mash-platform"]["data"]
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        c = container(deployment)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod["automountServiceAccountToken"] is False
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] is True
        assert sc["runAsUser"] != 0
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert sc["seccompProfile"]["type"] == "RuntimeDefault"
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert c["ports"] == [{"name": "http", "containerPort": PORTS[name], "protocol": "TCP"}]
        assert c["args"][:2] == [f"{name}.app:create_app", "--factory"]
        assert c["args"][c["args"].index("--port") + 1] == str(PORTS[name])
        assert {"requests", "limits"} <= set(c["resources"])
        # the only writable path is its own /tmp
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
        assert all(m.get("readOnly") for p, m in mounts.items() if p != "/tmp")
        # Kafka: its own principal, the Strimzi user's password and the cluster's CA
        env = {e["name"]: e for e in c["env"]}
        assert env["MASH_KAFKA_USERNAME"]["value"] == name
        assert env["MASH_KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": name,
            "key": "password",
        }
        ca_file = config["MASH_KAFKA_CA_FILE"]
        ca_mount = next(m for p, m in mounts.items() if ca_file.startswith(p + "/"))
        assert volumes[ca_mount["name"]]["secret"]["secretName"] == "mash-cluster-ca-cert"
        assert volumes[ca_mount["name"]]["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
        # its own PostgreSQL and the platform secrets, never in the ConfigMap
        assert "secretKeyRef" in env[f"{name.upper()}_DATABASE_URL"]["valueFrom"]
        migrations = env.get(f"{name.upper()}_MIGRATIONS_DATABASE_URL")
        if name == "records":  # the owner migrates; records logs in insert-only (contract 12)
            assert migrations is not None
            assert migrations["valueFrom"]["secretKeyRef"] == {
                "name": "records-database",
                "key": "migrations-url",
            }
        else:
            assert migrations is None
        assert "secretKeyRef" in env["MASH_PSEUDONYM_KEY"]["valueFrom"]
        assert "MASH_JWT_SECRET" not in env  # no shared secret signs tokens any more
        assert {"configMapRef": {"name": "mash-platform"}} in c["envFrom"]
        if name == "console":  # the APIs its pages read, by their Services
            for callee in ("notify", "marac", "perpetrators", "records"):
                url = f"http://{callee}:{PORTS[callee]}"
                assert env[f"CONSOLE_{callee.upper()}_URL"]["value"] == url
            assert {"secretRef": {"name": "console-oidc"}} in c["envFrom"]
        else:
            assert not [e for e in env if e.endswith("_URL") and "DATABASE" not in e]
            assert len(c["envFrom"]) == 1
        # the pod's group reads the mounted keys (a 0400 secret file becomes 0440, group
        # fsGroup): it must be the group the service runs as
        assert pod["securityContext"]["fsGroup"] == sc["runAsGroup"]
    assert config["MASH_ENV"] == "production"
    assert config["MASH_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert not {k for k in config if "SECRET" in k or "PASSWORD" in k or "KEY" in k}


def _mounted(deployment: dict[str, Any], path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The mount a file path lies under, and its volume."""
    pod = deployment["spec"]["template"]["spec"]
    mount = next(
        m for m in container(deployment)["volumeMounts"] if path.startswith(m["mountPath"] + "/")
    )
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    return mount, volume


def _env_values(deployment: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(deployment)["env"] if "value" in e}


def test_every_service_checks_tokens_with_the_public_key_sets_only(rendered):
    config = of_kind(rendered, "ConfigMap")["mash-platform"]["data"]
    assert "MASH_JWKS_URL" in config  # the identity provider's key set, set by the overlay
    for deployment in of_kind(rendered, "Deployment").values():
        env = _env_values(deployment)
        assert "MASH_JWKS_URL" not in {e["name"] for e in container(deployment)["env"]}
        path = env["MASH_CONSOLE_JWKS_FILE"]
        mount, volume = _mounted(deployment, path)
        assert mount["readOnly"] is True
        assert "secret" not in volume  # public keys: a ConfigMap
        assert volume["configMap"]["name"] == "console-jwks"
        assert volume["configMap"]["items"] == [
            {"key": "console.jwks.json", "path": path.removeprefix(mount["mountPath"] + "/")}
        ]
        assert "subPath" not in mount  # a subPath mount would never see a rotation


def test_no_deployment_but_the_consoles_mounts_its_private_key(rendered):
    for name, deployment in of_kind(rendered, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        holding = [
            v
            for v in pod["volumes"]
            if v.get("secret", {}).get("secretName") == "console-signing-key"
            or any(
                s.get("secret", {}).get("name") == "console-signing-key"
                for s in v.get("projected", {}).get("sources", [])
            )
        ]
        env = _env_values(deployment)
        if name != "console":
            assert holding == [], name
            assert not [e for e in env if "SIGNING_KEY" in e], name
            continue
        (volume,) = holding
        mount, mounted = _mounted(deployment, env["CONSOLE_SIGNING_KEY_FILE"])
        assert mounted == volume
        assert mount["readOnly"] is True
        assert volume["secret"]["defaultMode"] == 0o400
        assert volume["secret"]["items"] == [{"key": "console.ed25519", "path": "console.ed25519"}]
        assert not volume["secret"].get("optional")  # no key: the pod waits, never starts


def test_no_shared_token_secret_is_left_anywhere(rendered):
    text = yaml.safe_dump_all(rendered)
    assert "MASH_JWT_SECRET" not in text
    assert "jwt-secret" not in text
    for path in [*K8S.rglob("*.yaml"), K8S / "generate.py", ROOT / "docs" / "kubernetes.md"]:
        assert "MASH_JWT_SECRET" not in path.read_text(), path
        assert "jwt-secret" not in path.read_text(), path


def _platform_environment(rendered: Objects, name: str) -> dict[str, str]:
    """What a service's container sees of the platform's settings: the ConfigMap, then its
    own literal env (the secrets stand in as placeholders)."""
    deployment = of_kind(rendered, "Deployment")[name]
    config = of_kind(rendered, "ConfigMap")["mash-platform"]["data"]
    return {**config, **_env_values(deployment), "MASH_PSEUDONYM_KEY": "a-test-pseudonym-key"}


def _settings_from(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]) -> HubSettings:
    for key in list(os.environ):
        if key.startswith(("MASH_", "CONSOLE_")):
            monkeypatch.delenv(key)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    return HubSettings(_env_file=None)


@pytest.mark.parametrize("name", SERVICES)
def test_a_service_refuses_to_start_until_the_overlay_sets_the_jwks_url(
    rendered, monkeypatch, name
):
    environment = _platform_environment(rendered, name)
    assert environment["MASH_ENV"] == "production"
    assert environment["MASH_JWKS_URL"] == ""  # the base, and the overlay as shipped
    with pytest.raises(pydantic.ValidationError, match="MASH_JWKS_URL"):
        _settings_from(monkeypatch, environment)
    configured = {**environment, "MASH_JWKS_URL": "https://login.example.org/keys"}
    settings = _settings_from(monkeypatch, configured)
    assert settings.jwks_url == "https://login.example.org/keys"
    assert settings.jwks_file is None  # no development key set in production
    mount, _ = _mounted(
        of_kind(rendered, "Deployment")[name], environment["MASH_CONSOLE_JWKS_FILE"]
    )
    assert settings.console_jwks_file == Path(environment["MASH_CONSOLE_JWKS_FILE"])
    assert str(settings.console_jwks_file).startswith(mount["mountPath"] + "/")


def test_the_console_signs_with_the_mounted_key(rendered, monkeypatch):
    environment = {
        **_platform_environment(rendered, "console"),
        "MASH_JWKS_URL": "https://login.example.org/keys",
        "CONSOLE_PUBLIC_URL": "https://mash.example.org",
    }
    platform = _settings_from(monkeypatch, environment)
    settings = ConsoleSettings(_env_file=None, hub=platform)
    key = _env_values(of_kind(rendered, "Deployment")["console"])["CONSOLE_SIGNING_KEY_FILE"]
    assert settings.signing_key_path == Path(key)


def test_each_service_has_a_service_and_a_disruption_budget(rendered):
    services = of_kind(rendered, "Service")
    budgets = of_kind(rendered, "PodDisruptionBudget")
    for name, deployment in of_kind(rendered, "Deployment").items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert services[name]["spec"]["selector"] == selector
        assert services[name]["spec"]["ports"][0]["port"] == PORTS[name]
        assert budgets[name]["spec"]["selector"]["matchLabels"] == selector


def test_the_kafka_settings_point_at_the_tls_listener_of_the_cluster(rendered):
    config = of_kind(rendered, "ConfigMap")["mash-platform"]["data"]
    (kafka,) = of_kind(rendered, "Kafka").values()
    host, port = config["MASH_KAFKA_BOOTSTRAP"].split(":")
    assert host == f"{kafka['metadata']['name']}-kafka-bootstrap"
    listener = next(li for li in kafka["spec"]["kafka"]["listeners"] if li["port"] == int(port))
    assert listener["type"] == "internal"


# -- autoscaling on consumer lag -----------------------------------------------------------------
def test_every_consuming_service_scales_on_the_lag_of_what_it_reads(rendered):
    scaled = of_kind(rendered, "ScaledObject")
    auths = of_kind(rendered, "TriggerAuthentication")
    topics = {t["spec"]["topicName"]: t for t in of_kind(rendered, "KafkaTopic").values()}
    deployments = of_kind(rendered, "Deployment")
    consumers = {s for s in SERVICES if entry(s).consumes}
    assert consumers == {"triage", "notify", "marac", "perpetrators", "console", "records"}
    assert set(scaled) == consumers
    for name, obj in scaled.items():
        spec = obj["spec"]
        assert spec["scaleTargetRef"]["name"] == name
        assert name in deployments
        assert "replicas" not in deployments[name]["spec"]  # the ScaledObject owns them
        triggers = spec["triggers"]
        assert {t["metadata"]["topic"] for t in triggers} == set(entry(name).consumes)
        assert all(t["metadata"]["topic"] in topics for t in triggers)  # topics, not patterns
        for trigger in triggers:
            meta = trigger["metadata"]
            assert trigger["type"] == "kafka"
            assert meta["consumerGroup"] == entry(name).group_of(meta["topic"])
            assert meta["consumerGroup"].startswith(entry(name).consumer_group)
            assert int(meta["lagThreshold"]) > 0
            assert (
                meta["bootstrapServers"]
                == of_kind(rendered, "ConfigMap")["mash-platform"]["data"]["MASH_KAFKA_BOOTSTRAP"]
            )
            # no more replicas than the partitions of the topic
            assert spec["maxReplicaCount"] <= topics[meta["topic"]]["spec"]["partitions"]
            assert 1 <= spec.get("minReplicaCount", 0) <= spec["maxReplicaCount"]
            auth = auths[trigger["authenticationRef"]["name"]]["spec"]
            refs = {r["parameter"]: r for r in auth["secretTargetRef"]}
            assert refs["password"]["name"] == name  # KEDA reads the lag as the service itself
            assert refs["ca"] == {
                "parameter": "ca",
                "name": "mash-cluster-ca-cert",
                "key": "ca.crt",
            }
            env = {e["parameter"]: e for e in auth["env"]}
            assert env["username"]["containerName"] == name
    settings = of_kind(rendered, "Secret")["mash-keda-kafka"]["stringData"]
    assert settings == {"sasl": "scram_sha512", "tls": "enable"}
    assert "intake" not in scaled
    assert deployments["intake"]["spec"]["replicas"] >= 2


# -- network policies ----------------------------------------------------------------------------
def _policies_for(objects: Objects, name: str) -> list[dict[str, Any]]:
    labels = of_kind(objects, "Deployment")[name]["spec"]["template"]["metadata"]["labels"]
    out = []
    for policy in of_kind(objects, "NetworkPolicy").values():
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        if all(labels.get(k) == v for k, v in selector.items()):
            out.append(policy)
    return out


def _egress(objects: Objects, name: str) -> list[dict[str, Any]]:
    return [r for p in _policies_for(objects, name) for r in p["spec"].get("egress", [])]


def _ingress(objects: Objects, name: str) -> list[dict[str, Any]]:
    return [r for p in _policies_for(objects, name) for r in p["spec"].get("ingress", [])]


def test_every_service_pod_is_under_a_default_deny_both_ways(rendered):
    for name in PORTS:
        deny = [
            p
            for p in _policies_for(rendered, name)
            if not p["spec"].get("ingress") and not p["spec"].get("egress")
        ]
        assert any(set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"} for p in deny), name


def test_ingress_only_to_the_service_port_from_the_ingress_controller_prometheus_and_console(
    rendered,
):
    for name, port in PORTS.items():
        rules = _ingress(rendered, name)
        assert rules, name
        for rule in rules:
            assert rule["ports"] == [{"protocol": "TCP", "port": port}]
            for peer in rule["from"]:
                assert "ipBlock" not in peer
        peers = [peer for rule in rules for peer in rule["from"]]
        namespaces = {
            peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for peer in peers
            if "namespaceSelector" in peer
        }
        assert namespaces == {"ingress-nginx", "monitoring"}
        same_namespace = [
            p["podSelector"]["matchLabels"] for p in peers if "namespaceSelector" not in p
        ]
        if name in ("notify", "marac", "perpetrators", "records", "triage"):
            assert same_namespace == [
                {"app.kubernetes.io/name": "console", "app.kubernetes.io/part-of": "mash"}
            ]
        else:
            assert same_namespace == []
        assert {p["app.kubernetes.io/name"] for p in same_namespace} == CALLERS[name]


def test_egress_dns_kafka_own_postgres_and_the_collector_only(rendered):
    (kafka,) = of_kind(rendered, "Kafka").values()
    tls_port = next(
        li["port"] for li in kafka["spec"]["kafka"]["listeners"] if li["type"] == "internal"
    )
    for name in PORTS:
        rules = _egress(rendered, name)
        by_port: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for rule in rules:
            for port in rule["ports"]:
                by_port[port["port"]] += rule["to"]
        kafka_peers = by_port[tls_port]
        assert kafka_peers == [
            {
                "podSelector": {
                    "matchLabels": {"strimzi.io/cluster": "mash", "strimzi.io/kind": "Kafka"}
                }
            }
        ]
        (postgres,) = by_port[5432]
        assert postgres["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == f"{name}-db"
        assert by_port[53][0]["namespaceSelector"]["matchLabels"] == {
            "kubernetes.io/metadata.name": "kube-system"
        }
        allowed = {53, tls_port, 5432, 4318, 443}  # 443: the identity provider's JWKS
        if name == "console":
            allowed |= {PORTS[c] for c in ("notify", "marac", "perpetrators", "records", "triage")}
        assert set(by_port) == allowed, name


@pytest.mark.parametrize("name", SERVICES)
def test_a_service_reaches_https_on_the_internet_but_never_private_or_cluster_ranges(
    rendered, name
):
    blocks = [
        peer["ipBlock"]
        for rule in _egress(rendered, name)
        for peer in rule["to"]
        if "ipBlock" in peer
    ]
    assert blocks
    for rule in _egress(rendered, name):
        if any("ipBlock" in peer for peer in rule["to"]):
            assert rule["ports"] == [{"protocol": "TCP", "port": 443}]

    def allowed(address: str) -> bool:
        ip = ipaddress.ip_address(address)
        for block in blocks:
            network = ipaddress.ip_network(block["cidr"])
            excepted = any(ip in ipaddress.ip_network(e) for e in block.get("except", []))
            if ip.version == network.version and ip in network and not excepted:
                return True
        return False

    for private in (
        "10.96.0.1",
        "172.20.1.1",
        "192.168.1.10",
        "169.254.169.254",
        "127.0.0.1",
        "100.64.0.1",
        "fd00::1",
        "fe80::1",
        "::1",
    ):
        assert not allowed(private), private
    for public in ("81.2.69.160", "2a00:1450:4009:81f::200e"):
        assert allowed(public), public


def test_services_leave_the_cluster_for_the_identity_provider_and_what_the_registry_says(
    rendered,
):
    """Every service fetches the identity provider's JWKS (MASH_JWKS_URL) itself; beyond
    that only notify (partners' webhooks) and console (the OpenID Connect issuer) go out."""
    for name in PORTS:
        leaving = {
            p["metadata"]["name"]
            for p in _policies_for(rendered, name)
            if any("ipBlock" in peer for r in p["spec"].get("egress", []) for peer in r["to"])
        }
        expected = {"identity-provider-https"}
        if name in ("notify", "console"):
            expected.add(f"{name}-public-https")
        assert leaving == expected, name
    policy = of_kind(rendered, "NetworkPolicy")["identity-provider-https"]
    assert "MASH_JWKS_URL" in policy["metadata"]["annotations"]["mash/why"]


def test_kafka_lets_in_the_services_and_keda_on_its_internal_listener(rendered):
    (kafka,) = of_kind(rendered, "Kafka").values()
    internal = next(li for li in kafka["spec"]["kafka"]["listeners"] if li["type"] == "internal")
    peers = internal["networkPolicyPeers"]
    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "mash"}}} in peers
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}} in peers


def _listeners(objects: Objects) -> list[dict[str, Any]]:
    (kafka,) = of_kind(objects, "Kafka").values()
    listeners: list[dict[str, Any]] = kafka["spec"]["kafka"]["listeners"]
    return listeners


def test_admin_gets_in_only_on_an_internal_listener_from_labelled_pods(rendered):
    """Kafka's ACLs can't be per listener, so the superuser's way in is: a certificate
    (`tls` KafkaUser, no SCRAM password) that only one listener takes, an internal one
    reachable from the pods labelled for it alone."""
    users = of_kind(rendered, "KafkaUser")
    assert users[ADMIN]["spec"]["authentication"] == {"type": "tls"}
    superusers = {p for p, a in ACL_TABLE.items() if a.superuser}
    assert superusers == {ADMIN}
    for name, user in users.items():  # nobody else has a certificate the brokers take
        if name != ADMIN:
            assert user["spec"]["authentication"]["type"] == "scram-sha-512", name
    by_certificate = [li for li in _listeners(rendered) if li["authentication"]["type"] == "tls"]
    assert [li["name"] for li in by_certificate] == ["admin"]
    (admin,) = by_certificate
    assert admin["type"] == "internal"
    assert admin["networkPolicyPeers"] == [
        {"podSelector": {"matchLabels": {"mash/kafka-admin": "true"}}}
    ]
    for listener in _listeners(rendered):  # every other listener: a password, never a cert
        if listener is not admin:
            assert listener["authentication"]["type"] == "scram-sha-512"


def test_the_base_has_no_listener_outside_the_cluster(base):
    assert {li["type"] for li in _listeners(base)} == {"internal"}
    assert "external" not in {li["name"] for li in _listeners(base)}


def test_production_opens_the_external_listener_to_the_partners_ranges_only(production):
    outside = [li for li in _listeners(production) if li["type"] != "internal"]
    assert [li["name"] for li in outside] == ["external"]
    (external,) = outside
    assert external["type"] == "loadbalancer"
    assert external["tls"] is True
    assert external["authentication"] == {"type": "scram-sha-512"}  # admin has no password
    ranges = external["configuration"]["loadBalancerSourceRanges"]
    assert ranges, "an external listener without source ranges is open to the internet"
    networks = [ipaddress.ip_network(r) for r in ranges]  # each a valid CIDR
    for network in networks:
        assert network.prefixlen >= 8, f"{network} is not a partner's range"
    # the brokers' NetworkPolicy checks the same sources again (the client's address is
    # kept by externalTrafficPolicy: Local)
    assert external["configuration"]["externalTrafficPolicy"] == "Local"
    assert external["networkPolicyPeers"] == [{"ipBlock": {"cidr": r}} for r in ranges]


def test_the_shipped_source_ranges_are_placeholders_that_reach_no_one(production):
    """Until a force sets its partners' ranges, the overlay admits only the RFC 5737
    documentation networks: nothing on the internet comes from them."""
    documentation = [
        ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
    ]
    (external,) = [li for li in _listeners(production) if li["name"] == "external"]
    for cidr in external["configuration"]["loadBalancerSourceRanges"]:
        network = ipaddress.ip_network(cidr)
        assert any(network.subnet_of(d) for d in documentation), cidr  # type: ignore[arg-type]
    docs = (ROOT / "docs" / "kubernetes.md").read_text()
    assert "kafka-external-listener.yaml" in docs
    assert "loadBalancerSourceRanges" in docs


# -- the production overlay and the image --------------------------------------------------------
def test_production_runs_more_and_from_the_forces_registry(base, production):
    assert (
        of_kind(production, "Deployment")["intake"]["spec"]["replicas"]
        > of_kind(base, "Deployment")["intake"]["spec"]["replicas"]
    )
    for scaled in of_kind(production, "ScaledObject").values():
        assert scaled["spec"]["minReplicaCount"] >= 2
    for name, deployment in of_kind(production, "Deployment").items():
        image = container(deployment)["image"]
        assert image != container(of_kind(base, "Deployment")[name])["image"]
        assert image.endswith(":0.1.0")
        assert "/" in image
        limits = container(deployment)["resources"]["limits"]
        assert limits["memory"] == "1Gi"


def test_the_container_image_is_the_locked_workspace_run_unprivileged(base):
    text = (ROOT / "deploy" / "Containerfile").read_text()
    froms = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert froms[-1] == "${PYTHON_IMAGE}"  # what runs: python:3.11-slim
    assert re.search(r"^RUN npm ci --omit=dev", text, re.MULTILINE)  # the console's assets
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert re.search(r"^RUN uv sync --frozen --no-dev --all-packages", text, re.MULTILINE)
    user = re.findall(r"^USER (\d+):(\d+)$", text, re.MULTILINE)
    assert user
    assert user[-1][0] != "0"
    assert re.search(r'^ENTRYPOINT \["uvicorn"\]$', text, re.MULTILINE)
    for deployment in of_kind(base, "Deployment").values():
        assert str(container(deployment)["securityContext"]["runAsUser"]) == user[-1][0]


def test_the_default_deny_does_not_catch_the_brokers(rendered):
    """Strimzi copies the Kafka resources' labels to the broker pods: if the hub's default
    deny selected them, the brokers could not reach each other."""
    deny = of_kind(rendered, "NetworkPolicy")["default-deny"]["spec"]["podSelector"]["matchLabels"]
    for kind in ("Kafka", "KafkaNodePool"):
        for obj in of_kind(rendered, kind).values():
            labels = obj["metadata"].get("labels", {})
            assert not all(labels.get(k) == v for k, v in deny.items()), obj["metadata"]["name"]
