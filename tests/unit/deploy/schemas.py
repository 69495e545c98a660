"""The fields of the Strimzi and KEDA resources the project relies on, as JSON schemas.

Neither operator's CRDs ship in a Python package, so these spell out the part of each
custom resource the manifests use (names and enums as Strimzi's `kafka.strimzi.io/v1beta2`
and KEDA's `keda.sh/v1alpha1` define them). `additionalProperties: false` wherever the
project writes a field, so that a misspelt or invented field fails the suite.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def _obj(properties: Schema, required: tuple[str, ...] = (), closed: bool = True) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, "required": list(required)}
    if closed:
        schema["additionalProperties"] = False
    return schema


_STR = {"type": "string"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_LABELS = {"type": "object", "additionalProperties": _STR}
_QUANTITY = {"anyOf": [_STR, _INT]}
_RESOURCES = _obj(
    {
        "requests": {"type": "object", "additionalProperties": _QUANTITY},
        "limits": {"type": "object", "additionalProperties": _QUANTITY},
    }
)
_SELECTOR = _obj({"matchLabels": _LABELS})


def _metadata(namespaced: bool = True) -> Schema:
    return _obj(
        {
            "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"},
            "namespace": _STR,
            "labels": _LABELS,
            "annotations": _LABELS,
        },
        ("name", "namespace") if namespaced else ("name",),
    )


def _resource(api_version: str, kind: str, spec: Schema, extra: Schema | None = None) -> Schema:
    return _obj(
        {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": _metadata(),
            "spec": spec,
            **(extra or {}),
        },
        ("apiVersion", "kind", "metadata", "spec"),
    )


STRIMZI = "kafka.strimzi.io/v1beta2"
KEDA = "keda.sh/v1alpha1"

_SCRAM = _obj({"type": {"enum": ["scram-sha-512", "tls", "tls-external", "custom"]}}, ("type",))
_PEER = _obj(
    {
        "podSelector": _SELECTOR,
        "namespaceSelector": _SELECTOR,
        "ipBlock": _obj({"cidr": _STR, "except": {"type": "array", "items": _STR}}, ("cidr",)),
    }
)
_LISTENER = _obj(
    {
        "name": {"type": "string", "pattern": r"^[a-z0-9]{1,11}$"},
        "port": {"type": "integer", "minimum": 9092, "not": {"enum": [9404, 9999]}},
        "type": {
            "enum": ["internal", "route", "loadbalancer", "nodeport", "ingress", "cluster-ip"]
        },
        "tls": _BOOL,
        "authentication": _SCRAM,
        "networkPolicyPeers": {"type": "array", "items": _PEER},
        "configuration": _obj(
            {
                "loadBalancerSourceRanges": {"type": "array", "items": _STR},
                "externalTrafficPolicy": {"enum": ["Local", "Cluster"]},
            }
        ),
    },
    ("name", "port", "type", "tls"),
)

KAFKA = _resource(
    STRIMZI,
    "Kafka",
    _obj(
        {
            "kafka": _obj(
                {
                    "version": {"type": "string", "pattern": r"^3\.9\.\d+$"},
                    "metadataVersion": _STR,
                    "listeners": {"type": "array", "items": _LISTENER, "minItems": 1},
                    "authorization": _obj(
                        {
                            "type": {"enum": ["simple", "opa", "keycloak", "custom"]},
                            "superUsers": {"type": "array", "items": _STR},
                        },
                        ("type",),
                    ),
                    "config": {
                        "type": "object",
                        "additionalProperties": {"type": ["string", "integer", "boolean"]},
                    },
                },
                ("listeners",),
            ),
            "entityOperator": _obj(
                {"topicOperator": {"type": "object"}, "userOperator": {"type": "object"}}
            ),
        },
        ("kafka",),
    ),
)

KAFKA_NODE_POOL = _resource(
    STRIMZI,
    "KafkaNodePool",
    _obj(
        {
            "replicas": {"type": "integer", "minimum": 0},
            "roles": {
                "type": "array",
                "items": {"enum": ["controller", "broker"]},
                "minItems": 1,
                "uniqueItems": True,
            },
            "storage": _obj(
                {
                    "type": {"enum": ["jbod", "persistent-claim", "ephemeral"]},
                    "volumes": {
                        "type": "array",
                        "items": _obj(
                            {
                                "id": _INT,
                                "type": {"enum": ["persistent-claim", "ephemeral"]},
                                "size": _STR,
                                "deleteClaim": _BOOL,
                                "kraftMetadata": {"enum": ["shared"]},
                            },
                            ("type",),
                        ),
                    },
                },
                ("type",),
            ),
            "resources": _RESOURCES,
        },
        ("replicas", "roles", "storage"),
    ),
)

KAFKA_TOPIC = _resource(
    STRIMZI,
    "KafkaTopic",
    _obj(
        {
            "topicName": _STR,
            "partitions": {"type": "integer", "minimum": 1},
            "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
            "config": {"type": "object", "additionalProperties": {"type": ["string", "integer"]}},
        },
        ("partitions", "replicas"),
    ),
)

_ACL = _obj(
    {
        "resource": {
            "oneOf": [
                _obj(
                    {
                        "type": {"enum": ["topic", "group", "transactionalId"]},
                        "name": _STR,
                        "patternType": {"enum": ["literal", "prefix"]},
                    },
                    ("type", "name", "patternType"),
                ),
                _obj({"type": {"const": "cluster"}}, ("type",)),
            ]
        },
        "type": {"enum": ["allow", "deny"]},
        "operations": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {
                "enum": [
                    "Read",
                    "Write",
                    "Create",
                    "Delete",
                    "Alter",
                    "Describe",
                    "ClusterAction",
                    "AlterConfigs",
                    "DescribeConfigs",
                    "IdempotentWrite",
                    "All",
                ]
            },
        },
        "host": _STR,
    },
    ("resource", "operations"),
)

KAFKA_USER = _resource(
    STRIMZI,
    "KafkaUser",
    _obj(
        {
            "authentication": _obj({"type": {"enum": ["scram-sha-512", "tls", "tls-external"]}}),
            "authorization": _obj(
                {"type": {"const": "simple"}, "acls": {"type": "array", "items": _ACL}},
                ("type", "acls"),
            ),
        },
        ("authentication",),
    ),
)

_KAFKA_TRIGGER = _obj(
    {
        "type": {"const": "kafka"},
        "metadata": _obj(
            {
                "bootstrapServers": _STR,
                "consumerGroup": _STR,
                "topic": _STR,
                "lagThreshold": {"type": "string", "pattern": r"^[1-9][0-9]*$"},
                "offsetResetPolicy": {"enum": ["earliest", "latest"]},
                "allowIdleConsumers": {"enum": ["true", "false"]},
            },
            ("bootstrapServers", "consumerGroup", "topic", "lagThreshold"),
        ),
        "authenticationRef": _obj(
            {"name": _STR, "kind": {"enum": ["TriggerAuthentication"]}}, ("name",)
        ),
    },
    ("type", "metadata", "authenticationRef"),
)

SCALED_OBJECT = _resource(
    KEDA,
    "ScaledObject",
    _obj(
        {
            "scaleTargetRef": _obj({"apiVersion": _STR, "kind": _STR, "name": _STR}, ("name",)),
            "minReplicaCount": {"type": "integer", "minimum": 0},
            "maxReplicaCount": {"type": "integer", "minimum": 1},
            "pollingInterval": {"type": "integer", "minimum": 1},
            "cooldownPeriod": {"type": "integer", "minimum": 0},
            "advanced": _obj(
                {
                    "horizontalPodAutoscalerConfig": _obj(
                        {"behavior": {"type": "object"}, "name": _STR}
                    )
                }
            ),
            "triggers": {"type": "array", "items": _KAFKA_TRIGGER, "minItems": 1},
        },
        ("scaleTargetRef", "triggers"),
    ),
)

# the parameters KEDA's Kafka scaler takes from a TriggerAuthentication
KAFKA_AUTH_PARAMETERS = ["sasl", "username", "password", "tls", "ca", "cert", "key", "keyPassword"]
TRIGGER_AUTHENTICATION = _resource(
    KEDA,
    "TriggerAuthentication",
    _obj(
        {
            "secretTargetRef": {
                "type": "array",
                "items": _obj(
                    {"parameter": {"enum": KAFKA_AUTH_PARAMETERS}, "name": _STR, "key": _STR},
                    ("parameter", "name", "key"),
                ),
            },
            "env": {
                "type": "array",
                "items": _obj(
                    {
                        "parameter": {"enum": KAFKA_AUTH_PARAMETERS},
                        "name": _STR,
                        "containerName": _STR,
                    },
                    ("parameter", "name"),
                ),
            },
        }
    ),
)

CUSTOM = {
    (STRIMZI, "Kafka"): KAFKA,
    (STRIMZI, "KafkaNodePool"): KAFKA_NODE_POOL,
    (STRIMZI, "KafkaTopic"): KAFKA_TOPIC,
    (STRIMZI, "KafkaUser"): KAFKA_USER,
    (KEDA, "ScaledObject"): SCALED_OBJECT,
    (KEDA, "TriggerAuthentication"): TRIGGER_AUTHENTICATION,
}
