"""Writes the generated part of the Kubernetes base (deploy/k8s/base/) from the project's
own tables, so that the manifests cannot drift from what `make run` does:

- kafka-topics.yaml     a Strimzi `KafkaTopic` per topic of shared.topics.ALL_TOPICS, with
                        its settings (shared.topics.topic_config: the log topics' 30 days)
- kafka-users.yaml      a Strimzi `KafkaUser` per principal, its ACLs from
                        shared.kafka_security.bindings() (the one ACL table, contract 8);
                        SCRAM for all but the superuser `admin`, who has a certificate
- services.yaml         per service of shared.registry: Deployment, Service,
                        PodDisruptionBudget
- autoscaling.yaml      per consuming service: KEDA TriggerAuthentication + ScaledObject
                        (one Kafka trigger per topic it consumes, per the registry)
- network-policies.yaml default deny, then only the traffic the design needs (the APIs a
                        service calls, HTTPS to the internet as the registry says, and
                        every service to the identity provider's JWKS)

python deploy/k8s/generate.py          rewrite the files
python deploy/k8s/generate.py --check  exit 1 if a committed file differs (the test does this)

The hand-written rest of the base (kustomization, namespace, config, the Kafka cluster and
its node pool) and the overlays are plain YAML beside it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from shared.kafka_security import (
    ACL_TABLE,
    ADMIN,
    CLUSTER,
    DESCRIBE,
    GROUP,
    IDEMPOTENT_WRITE,
    LITERAL,
    PREFIXED,
    READ,
    TOPIC,
    WRITE,
    bindings,
)
from shared.registry import SERVICES, Service
from shared.registry import service as entry
from shared.topics import ALL_TOPICS, topic_config

BASE = Path(__file__).resolve().parent / "base"

PART_OF = "mash"
KAFKA_CLUSTER = "mash"
"""The Strimzi `Kafka` resource's name (deploy/k8s/base/kafka.yaml)."""
KAFKA_BOOTSTRAP = f"{KAFKA_CLUSTER}-kafka-bootstrap:9093"
"""Strimzi's bootstrap Service for the `tls` listener (TLS + SCRAM-SHA-512)."""
KAFKA_LISTENER_PORT = 9093
CLUSTER_CA_SECRET = f"{KAFKA_CLUSTER}-cluster-ca-cert"
"""Strimzi's secret with the cluster CA certificate (`ca.crt`) that signs the brokers."""
CA_DIR = "/etc/mash/kafka-ca"
PARTITIONS = 3
"""Partitions per topic: as deploy/kafka.sh creates them (`KAFKA_PARTITIONS`, default 3)."""
REPLICAS = 3
MIN_INSYNC_REPLICAS = 2
IMAGE = "mash:0.1.0"
LAG_THRESHOLD = 50
"""KEDA adds a replica for every this many messages of lag per replica."""
PLATFORM_SECRET = "mash-platform-secrets"  # noqa: S105 - a name, not a value
"""Created by the platform team: `pseudonym-key` (docs/kubernetes.md)."""
CONSOLE_JWKS = "console-jwks"
"""ConfigMap with the console's PUBLIC key set (`console.jwks.json`): every service checks
the console's upstream tokens with it (contract section 2). A ConfigMap mounted as a
directory follows its updates, and a service reads the file again when it changes, so a
rotation needs no restart."""
CONSOLE_JWKS_KEY = "console.jwks.json"
CONSOLE_JWKS_DIR = "/etc/mash/console-jwks"
CONSOLE_SIGNING_SECRET = "console-signing-key"  # noqa: S105 - a name, not a value
"""Secret with the console's PRIVATE key (`console.ed25519`): mounted into the console's
pods only, the one issuer of console tokens."""
CONSOLE_SIGNING_KEY = "console.ed25519"
CONSOLE_SIGNING_DIR = "/etc/mash/console-signing-key"
OWNER_READ_ONLY = 0o400
"""The private key's mode; with the pod's fsGroup the kubelet adds group read (0440, the
group being the pod's own 10001), which is how the non-root service reads it."""
KEDA_KAFKA_SECRET = "mash-keda-kafka"  # noqa: S105 - a name, not a value

# where the platform's own parts run (namespace and pod labels); an overlay may patch them
INGRESS = (
    {"kubernetes.io/metadata.name": "ingress-nginx"},
    {"app.kubernetes.io/name": "ingress-nginx"},
)
PROMETHEUS = (
    {"kubernetes.io/metadata.name": "monitoring"},
    {"app.kubernetes.io/name": "prometheus"},
)
OTEL_COLLECTOR = (
    {"kubernetes.io/metadata.name": "monitoring"},
    {"app.kubernetes.io/name": "opentelemetry-collector"},
)
OTLP_HTTP_PORT = 4318
IDENTITY_PROVIDER_POLICY = "identity-provider-https"
"""The NetworkPolicy letting every service reach the identity provider's JWKS URL."""
DNS = ({"kubernetes.io/metadata.name": "kube-system"}, {"k8s-app": "kube-dns"})
POSTGRES_PORT = 5432

# what an HTTPS webhook (or the console's identity provider) may never reach: the cluster,
# private networks, link-local (cloud metadata), loopback, shared and reserved ranges
PRIVATE_V4 = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
)
PRIVATE_V6 = ("::1/128", "::ffff:0:0/96", "fc00::/7", "fe80::/10", "ff00::/8")

_RESOURCE = {TOPIC: "topic", GROUP: "group", CLUSTER: "cluster"}
_PATTERN = {LITERAL: "literal", PREFIXED: "prefix"}
_OPERATION = {
    READ: "Read",
    WRITE: "Write",
    DESCRIBE: "Describe",
    IDEMPOTENT_WRITE: "IdempotentWrite",
}
_OPERATION_ORDER = ("Read", "Write", "Describe", "IdempotentWrite")


def services() -> list[Service]:
    """The services of the registry (shared.registry), each with its Kafka principal."""
    assert all(s.principal in ACL_TABLE for s in SERVICES), "a service without a principal"
    return list(SERVICES)


def labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF}


def _peer(namespace: dict[str, str], pods: dict[str, str]) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": namespace}, "podSelector": {"matchLabels": pods}}


# -- Strimzi ------------------------------------------------------------------------------------
def kafka_topics() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "kafka.strimzi.io/v1beta2",
            "kind": "KafkaTopic",
            "metadata": {
                "name": topic,
                "labels": {
                    "strimzi.io/cluster": KAFKA_CLUSTER,
                    "app.kubernetes.io/part-of": PART_OF,
                },
            },
            "spec": {
                "topicName": topic,
                "partitions": PARTITIONS,
                "replicas": REPLICAS,
                "config": {"min.insync.replicas": MIN_INSYNC_REPLICAS, **_settings(topic)},
            },
        }
        for topic in ALL_TOPICS
    ]


def _settings(topic: str) -> dict[str, int | str]:
    """The topic's own settings, numbers as numbers (as Strimzi writes them)."""
    return {k: int(v) if v.isdigit() else v for k, v in topic_config(topic).items()}


def acls(principal: str) -> list[dict[str, Any]]:
    """Strimzi's `simple` ACL rules for one principal: its bindings, grouped by resource."""
    grouped: dict[tuple[int, str, int], list[str]] = {}
    for b in bindings():
        if b.principal != f"User:{principal}":
            continue
        grouped.setdefault((b.resource_type, b.name, b.pattern), []).append(_OPERATION[b.operation])
    rules = []
    for (resource_type, name, pattern), operations in grouped.items():
        resource: dict[str, Any] = {"type": _RESOURCE[resource_type]}
        if resource_type != CLUSTER:
            resource |= {"name": name, "patternType": _PATTERN[pattern]}
        ordered = sorted(set(operations), key=_OPERATION_ORDER.index)
        rules.append({"resource": resource, "operations": ordered, "host": "*"})
    return rules


def kafka_users() -> list[dict[str, Any]]:
    users: list[dict[str, Any]] = []
    for principal, access in ACL_TABLE.items():
        spec: dict[str, Any] = {"authentication": {"type": "scram-sha-512"}}
        if not access.superuser:
            spec["authorization"] = {"type": "simple", "acls": acls(principal)}
        else:
            # the superuser (admin) has no ACLs: it is in the Kafka resource's `superUsers`
            # (as `CN=admin`). It has a client certificate and no password: only the
            # internal `admin` listener takes certificates (mTLS), the others SCRAM alone,
            # so admin cannot get in through the listener partners reach (issue 20).
            spec["authentication"] = {"type": "tls"}
        users.append(
            {
                "apiVersion": "kafka.strimzi.io/v1beta2",
                "kind": "KafkaUser",
                "metadata": {
                    "name": principal,
                    "labels": {
                        "strimzi.io/cluster": KAFKA_CLUSTER,
                        "app.kubernetes.io/part-of": PART_OF,
                    },
                },
                "spec": spec,
            }
        )
    assert any(u["metadata"]["name"] == ADMIN for u in users)
    return users


# -- the services -------------------------------------------------------------------------------
def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def deployment(svc: Service) -> dict[str, Any]:
    env: list[dict[str, Any]] = [
        # the service's own Kafka principal: its Strimzi KafkaUser and the secret it creates
        {"name": "MASH_KAFKA_USERNAME", "value": svc.principal},
        _secret_env("MASH_KAFKA_PASSWORD", svc.principal, "password"),
        _secret_env(f"{svc.settings_prefix}DATABASE_URL", f"{svc.name}-database", "url"),
        _secret_env("MASH_PSEUDONYM_KEY", PLATFORM_SECRET, "pseudonym-key"),
        # tokens: public keys only (people's JWKS URL is in the ConfigMap mash-platform)
        {"name": "MASH_CONSOLE_JWKS_FILE", "value": f"{CONSOLE_JWKS_DIR}/{CONSOLE_JWKS_KEY}"},
    ]
    mounts, volumes = _key_volumes(svc)
    if svc.name == "console":
        env.append(
            {
                "name": f"{svc.settings_prefix}SIGNING_KEY_FILE",
                "value": f"{CONSOLE_SIGNING_DIR}/{CONSOLE_SIGNING_KEY}",
            }
        )
    if svc.database_role:
        # its migrations run as the database's owner; the service logs in as a role in
        # `database_role`, with the rights its migrations grant (records: insert and read)
        env.append(
            _secret_env(
                f"{svc.settings_prefix}MIGRATIONS_DATABASE_URL",
                f"{svc.name}-database",
                "migrations-url",
            )
        )
    env_from: list[dict[str, Any]] = [{"configMapRef": {"name": "mash-platform"}}]
    # the APIs it calls (the console's pages read the owning services), by their Services
    env += [
        {
            "name": f"{svc.settings_prefix}{callee.upper()}_URL",
            "value": f"http://{callee}:{entry(callee).port}",
        }
        for callee in svc.calls
    ]
    if svc.settings_secret:
        # settings of its own, e.g. the console's OpenID Connect issuer, client id and secret
        # (contract section 11) and CONSOLE_PUBLIC_URL
        env_from.append({"secretRef": {"name": svc.settings_secret}})
    probe = {"port": "http", "scheme": "HTTP"}
    container = {
        "name": svc.name,
        "image": IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "args": [
            f"{svc.name}.app:create_app",
            "--factory",
            "--host",
            "0.0.0.0",  # noqa: S104 - inside its pod, behind the NetworkPolicies
            "--port",
            str(svc.port),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "20",
        ],
        "ports": [{"name": "http", "containerPort": svc.port, "protocol": "TCP"}],
        "envFrom": env_from,
        "env": env,
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # migrations and the first connection to Kafka run before the port opens
        "startupProbe": {
            "httpGet": {"path": "/healthz", **probe},
            "periodSeconds": 5,
            "failureThreshold": 60,
            "timeoutSeconds": 3,
        },
        "readinessProbe": {
            "httpGet": {"path": "/readyz", **probe},
            "periodSeconds": 10,
            "failureThreshold": 3,
            "timeoutSeconds": 3,
        },
        "livenessProbe": {
            "httpGet": {"path": "/healthz", **probe},
            "periodSeconds": 20,
            "failureThreshold": 3,
            "timeoutSeconds": 3,
        },
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir of its own
            {"name": "kafka-ca", "mountPath": CA_DIR, "readOnly": True},
            *mounts,
        ],
    }
    spec: dict[str, Any] = {
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": labels(svc.name)},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
        },
        "template": {
            "metadata": {
                "labels": labels(svc.name),
                "annotations": {
                    "prometheus.io/scrape": "true",
                    "prometheus.io/port": str(svc.port),
                    "prometheus.io/path": "/metrics",
                },
            },
            "spec": {
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "terminationGracePeriodSeconds": 30,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 10001,
                    "runAsGroup": 10001,
                    "fsGroup": 10001,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "kubernetes.io/hostname",
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {"matchLabels": labels(svc.name)},
                    }
                ],
                "containers": [container],
                "volumes": [
                    {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                    {
                        "name": "kafka-ca",
                        "secret": {
                            "secretName": CLUSTER_CA_SECRET,
                            "items": [{"key": "ca.crt", "path": "ca.crt"}],
                        },
                    },
                    *volumes,
                ],
            },
        },
    }
    if not svc.consumes:
        spec = {"replicas": 2, **spec}  # consumers' replicas belong to their ScaledObject
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": svc.name, "labels": labels(svc.name)},
        "spec": spec,
    }


def _key_volumes(svc: Service) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The token keys a service's pod mounts, read-only: the console's public key set for
    every service; the console's private key for the console alone."""
    mounts: list[dict[str, Any]] = [
        {"name": "console-jwks", "mountPath": CONSOLE_JWKS_DIR, "readOnly": True}
    ]
    volumes: list[dict[str, Any]] = [
        {
            "name": "console-jwks",
            "configMap": {
                "name": CONSOLE_JWKS,
                "items": [{"key": CONSOLE_JWKS_KEY, "path": CONSOLE_JWKS_KEY}],
            },
        }
    ]
    if svc.name == "console":
        mounts.append(
            {"name": "console-signing-key", "mountPath": CONSOLE_SIGNING_DIR, "readOnly": True}
        )
        volumes.append(
            {
                "name": "console-signing-key",
                "secret": {
                    "secretName": CONSOLE_SIGNING_SECRET,
                    "items": [{"key": CONSOLE_SIGNING_KEY, "path": CONSOLE_SIGNING_KEY}],
                    "defaultMode": OWNER_READ_ONLY,
                },
            }
        )
    return mounts, volumes


def service(svc: Service) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": svc.name, "labels": labels(svc.name)},
        "spec": {
            "type": "ClusterIP",
            "selector": labels(svc.name),
            "ports": [{"name": "http", "port": svc.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def disruption_budget(svc: Service) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": svc.name, "labels": labels(svc.name)},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels(svc.name)}},
    }


# -- autoscaling on consumer lag ----------------------------------------------------------------
def keda_kafka_settings() -> dict[str, Any]:
    """The constant half of every TriggerAuthentication (nothing secret in it)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": KEDA_KAFKA_SECRET, "labels": {"app.kubernetes.io/part-of": PART_OF}},
        "type": "Opaque",
        "stringData": {"sasl": "scram_sha512", "tls": "enable"},
    }


def trigger_authentication(svc: Service) -> dict[str, Any]:
    """KEDA reads the lag as the service itself: its principal may describe its own group."""
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": f"{svc.name}-kafka", "labels": labels(svc.name)},
        "spec": {
            "secretTargetRef": [
                {"parameter": "sasl", "name": KEDA_KAFKA_SECRET, "key": "sasl"},
                {"parameter": "tls", "name": KEDA_KAFKA_SECRET, "key": "tls"},
                {"parameter": "password", "name": svc.name, "key": "password"},
                {"parameter": "ca", "name": CLUSTER_CA_SECRET, "key": "ca.crt"},
            ],
            "env": [
                {"parameter": "username", "name": "MASH_KAFKA_USERNAME", "containerName": svc.name}
            ],
        },
    }


def scaled_object(svc: Service) -> dict[str, Any]:
    triggers = [
        {
            "type": "kafka",
            "metadata": {
                "bootstrapServers": KAFKA_BOOTSTRAP,
                "consumerGroup": svc.group_of(topic),
                "topic": topic,
                "lagThreshold": str(LAG_THRESHOLD),
                "offsetResetPolicy": "earliest",
                "allowIdleConsumers": "false",
            },
            "authenticationRef": {"name": f"{svc.name}-kafka"},
        }
        for topic in svc.consumes
    ]
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": svc.name, "labels": labels(svc.name)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": svc.name},
            "minReplicaCount": 1,
            # a replica beyond the partitions of its topics would sit idle in the group
            "maxReplicaCount": PARTITIONS,
            "pollingInterval": 15,
            "cooldownPeriod": 300,
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    # every change of replicas rebalances the group: not more than needed
                    "behavior": {
                        "scaleDown": {
                            "stabilizationWindowSeconds": 300,
                            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}],
                        }
                    }
                }
            },
            "triggers": triggers,
        },
    }


# -- network policies ---------------------------------------------------------------------------
def network_policies() -> list[dict[str, Any]]:
    every_service = {"matchLabels": {"app.kubernetes.io/part-of": PART_OF}}
    out: list[dict[str, Any]] = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny"},
            "spec": {"podSelector": every_service, "policyTypes": ["Ingress", "Egress"]},
        }
    ]
    for svc in services():
        sources = [_peer(*INGRESS), _peer(*PROMETHEUS)]
        sources += [
            {"podSelector": {"matchLabels": labels(caller.name)}}
            for caller in SERVICES
            if svc.name in caller.calls
        ]
        out.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": f"{svc.name}-ingress", "labels": labels(svc.name)},
                "spec": {
                    "podSelector": {"matchLabels": labels(svc.name)},
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {"from": sources, "ports": [{"protocol": "TCP", "port": svc.port}]}
                    ],
                },
            }
        )
        egress: list[dict[str, Any]] = [
            {
                "to": [_peer(*DNS)],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            },
            {
                "to": [
                    {
                        "podSelector": {
                            "matchLabels": {
                                "strimzi.io/cluster": KAFKA_CLUSTER,
                                "strimzi.io/kind": "Kafka",
                            }
                        }
                    }
                ],
                "ports": [{"protocol": "TCP", "port": KAFKA_LISTENER_PORT}],
            },
            {
                "to": [
                    {
                        "podSelector": {
                            "matchLabels": {
                                "app.kubernetes.io/name": "postgresql",
                                "app.kubernetes.io/instance": f"{svc.name}-db",
                            }
                        }
                    }
                ],
                "ports": [{"protocol": "TCP", "port": POSTGRES_PORT}],
            },
            {
                "to": [_peer(*OTEL_COLLECTOR)],
                "ports": [{"protocol": "TCP", "port": OTLP_HTTP_PORT}],
            },
        ]
        egress += [
            {
                "to": [{"podSelector": {"matchLabels": labels(callee)}}],
                "ports": [{"protocol": "TCP", "port": entry(callee).port}],
            }
            for callee in svc.calls
        ]
        out.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": f"{svc.name}-egress", "labels": labels(svc.name)},
                "spec": {
                    "podSelector": {"matchLabels": labels(svc.name)},
                    "policyTypes": ["Egress"],
                    "egress": egress,
                },
            }
        )
    out += [_public_https(s.name, s.public_https) for s in SERVICES if s.public_https]
    out.append(identity_provider())
    return out


def identity_provider() -> dict[str, Any]:
    """Every service fetches the identity provider's JWKS (`MASH_JWKS_URL`) itself, when a
    token names a `kid` it does not know yet: HTTPS out, for every service. The provider's
    addresses are the force's: an overlay narrows `to` to them (or, for a provider inside
    the force's network, replaces it), as docs/kubernetes.md says."""
    policy = _public_https(
        IDENTITY_PROVIDER_POLICY,
        "the identity provider's JWKS, MASH_JWKS_URL (contract section 2)",
        {"app.kubernetes.io/part-of": PART_OF},
    )
    policy["metadata"]["labels"] = {"app.kubernetes.io/part-of": PART_OF}
    return policy


def _public_https(name: str, why: str, selector: dict[str, str] | None = None) -> dict[str, Any]:
    """HTTPS to the internet only: never the cluster, private ranges or cloud metadata."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": f"{name}-public-https" if selector is None else name,
            "labels": labels(name),
            "annotations": {"mash/why": why},
        },
        "spec": {
            "podSelector": {"matchLabels": selector or labels(name)},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_V4)}},
                        {"ipBlock": {"cidr": "::/0", "except": list(PRIVATE_V6)}},
                    ],
                    "ports": [{"protocol": "TCP", "port": 443}],
                }
            ],
        },
    }


# -- writing ------------------------------------------------------------------------------------
HEADER = "# GENERATED by deploy/k8s/generate.py from {source}: do not edit, run it again.\n"


def _dump(objects: Iterable[dict[str, Any]], source: str) -> str:
    docs = [yaml.safe_dump(o, sort_keys=False, default_flow_style=False) for o in objects]
    return HEADER.format(source=source) + "---\n" + "---\n".join(docs)


def rendered() -> dict[str, str]:
    """Every generated file's name and text."""
    svcs = services()
    return {
        "kafka-topics.yaml": _dump(kafka_topics(), "shared/topics.py ALL_TOPICS"),
        "kafka-users.yaml": _dump(kafka_users(), "shared/kafka_security.py ACL_TABLE"),
        "services.yaml": _dump(
            [o for s in svcs for o in (deployment(s), service(s), disruption_budget(s))],
            "shared/registry.py SERVICES",
        ),
        "autoscaling.yaml": _dump(
            [
                keda_kafka_settings(),
                *(
                    o
                    for s in svcs
                    if s.consumes
                    for o in (trigger_authentication(s), scaled_object(s))
                ),
            ],
            "shared/registry.py SERVICES (what each service consumes)",
        ),
        "network-policies.yaml": _dump(network_policies(), "shared/registry.py SERVICES"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a file differs")
    parser.add_argument("--out", type=Path, default=BASE)
    args = parser.parse_args(argv)
    stale = []
    for name, text in rendered().items():
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"out of date (run deploy/k8s/generate.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
