"""Waits for the broker to answer, creates the contract's topics (the log topics keeping 30
days, contract section 12) and the ACLs of section 8 (idempotent), connecting as `admin`.

python -m mash_tools.admin --bootstrap 127.0.0.1:9092 --partitions 3 --wait 120
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code
from aiokafka.protocol.admin import CreateAclsRequest

from shared.config import HubSettings
from shared.kafka_security import ADMIN, ALLOW, Binding, bindings, client_options
from shared.topics import ALL_TOPICS, topic_config


def admin_client(bootstrap: str, platform: HubSettings | None = None) -> AIOKafkaAdminClient:
    """An admin client connected as the `admin` principal."""
    platform = platform or HubSettings()
    return AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=5000, **client_options(ADMIN, platform)
    )


async def create_acls(admin: AIOKafkaAdminClient, wanted: list[Binding]) -> None:
    """Create each ACL (Kafka ignores one that already exists: idempotent)."""
    for b in wanted:
        request = CreateAclsRequest(
            b.resource_type, b.name, b.pattern, b.principal, "*", b.operation, ALLOW
        )
        response = await admin._send_request(request)  # noqa: SLF001 - aiokafka has no ACL API
        for error_code, message in response.creation_responses:
            if error_code:
                raise for_code(error_code)(message)


async def ensure_topic_configs(admin: AIOKafkaAdminClient) -> None:
    """Give every topic its settings of `shared.topics.topic_config` (the log topics' 30
    days), existing ones too: a topic created before a setting keeps the broker's default
    otherwise. A topic has no settings of its own but these, so setting them is idempotent."""
    wanted = [
        ConfigResource(ConfigResourceType.TOPIC, t, topic_config(t))
        for t in ALL_TOPICS
        if topic_config(t)
    ]
    for response in await admin.alter_configs(wanted):
        for error_code, message, *_ in response.resources:
            if error_code:
                raise for_code(error_code)(message)


async def ensure_topics(
    bootstrap: str, partitions: int, wait_seconds: float, acls: bool = True, replication: int = 1
) -> None:
    """Create every topic of contract section 7 that does not exist yet, and the ACLs."""
    deadline = time.monotonic() + wait_seconds
    while True:
        admin = admin_client(bootstrap)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in ALL_TOPICS if t not in existing]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(
                        [
                            NewTopic(
                                t,
                                num_partitions=partitions,
                                replication_factor=replication,
                                topic_configs=topic_config(t),
                            )
                            for t in missing
                        ]
                    )
            if set(ALL_TOPICS) <= set(await admin.list_topics()):
                await ensure_topic_configs(admin)
                if acls:
                    await create_acls(admin, bindings())
                return
        except (KafkaError, OSError):
            if time.monotonic() > deadline:
                raise
        finally:
            await admin.close()
        await asyncio.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--wait", type=float, default=60)
    parser.add_argument("--replication", type=int, default=1, help="each topic's replicas")
    args = parser.parse_args()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # "unable to connect" while waiting
    try:
        asyncio.run(
            ensure_topics(args.bootstrap, args.partitions, args.wait, replication=args.replication)
        )
    except (KafkaError, OSError) as exc:
        print(f"kafka not reachable: {type(exc).__name__}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
