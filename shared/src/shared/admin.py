"""Waits for the broker to answer and creates the contract's topics (idempotent).

python -m shared.admin --bootstrap 127.0.0.1:9092 --partitions 3 --wait 120
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from shared.topics import ALL_TOPICS


async def ensure_topics(bootstrap: str, partitions: int, wait_seconds: float) -> None:
    """Create every topic of contract section 7 that does not exist yet."""
    deadline = time.monotonic() + wait_seconds
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in ALL_TOPICS if t not in existing]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(
                        [
                            NewTopic(t, num_partitions=partitions, replication_factor=1)
                            for t in missing
                        ]
                    )
            if set(ALL_TOPICS) <= set(await admin.list_topics()):
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
    args = parser.parse_args()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # "unable to connect" while waiting
    try:
        asyncio.run(ensure_topics(args.bootstrap, args.partitions, args.wait))
    except (KafkaError, OSError) as exc:
        print(f"kafka not reachable: {type(exc).__name__}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
