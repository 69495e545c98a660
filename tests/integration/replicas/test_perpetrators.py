"""Perpetrators as replicas on PostgreSQL: a shuffled stream of decisions in which four
suspects offend against twelve victims (so one perpetrator's incidents arrive on several
partitions, scored by two replicas at once), read by one replica and by two replicas of
which one is SIGKILLed mid-stream and another started. Both end with the same scores."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from mash_tools.testing import bearer, create_database, eventually
from perpetrators import store
from shared.topics import DECISIONS
from tests.integration.kit import TopicPublisher
from tests.integration.marac.kit import victim_key
from tests.integration.perpetrators.kit import decision, event_of, new_area, person
from tests.integration.replicas.kit import engine_of, processed, replicas, start_at_end

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
NOW = datetime.now(UTC)
READ = bearer("perpetrators:read")


async def test_two_replicas_score_as_one(
    kafka_bootstrap: str, postgres_server: str, tmp_path: Path
) -> None:
    area = new_area()
    rng = random.Random(area)
    suspects = [person("suspect", n) for n in range(4)]
    victims = [person("victim", n) for n in range(12)]
    decisions = [
        decision(
            area,
            suspects[k % 4],
            victims[k % 12],
            reported_at=NOW - timedelta(days=rng.randint(1, 200), minutes=k),
            risk_level=rng.choice(["standard", "medium", "high"]),
        )
        for k in range(36)
    ]
    rng.shuffle(decisions)
    events = [event_of(d) for d in decisions]
    run = uuid.uuid4().hex[:8]
    urls = {name: await create_database(postgres_server) for name in ("single", "pair")}
    groups = {name: f"mash-perpetrators-replicas-{name}-{run}" for name in urls}
    for group in groups.values():
        await start_at_end(kafka_bootstrap, "perpetrators", group, [DECISIONS])
    engines = {name: engine_of(url) for name, url in urls.items()}
    ids = [e.id for e in events]
    try:
        with (
            replicas(
                "perpetrators", kafka_bootstrap, urls["single"], groups["single"], tmp_path
            ) as single,
            replicas(
                "perpetrators", kafka_bootstrap, urls["pair"], groups["pair"], tmp_path
            ) as pair,
        ):
            single.add()
            pair.add()
            pair.add()
            single.wait_ready()
            pair.wait_ready()
            async with TopicPublisher(kafka_bootstrap, DECISIONS) as triage:
                for data, event in zip(decisions, events, strict=True):
                    victim = data.incident.victim.model_dump(mode="json")
                    await triage.send(victim_key(victim, data.incident_id), event)

            async def some_done() -> bool:
                return await processed(engines["pair"], store.messages, ids) >= len(ids) // 4

            await eventually(some_done, timeout=120)
            pair.kill(0)
            pair.add()
            pair.wait_ready()

            async def all_done() -> bool:
                counts = [await processed(e, store.messages, ids) for e in engines.values()]
                return counts == [len(ids)] * len(counts)

            await eventually(all_done, timeout=180, interval=0.5)
            async with httpx.AsyncClient(timeout=10) as http:
                one = await scores(http, single.url(0), area)
                two = await scores(http, pair.url(1), area)
    finally:
        for engine in engines.values():
            await engine.dispose()

    assert len(one) == 4  # every suspect scored, each once
    assert any(p["priority"] for p in one.values())
    assert two == one


async def scores(http: httpx.AsyncClient, url: str, area: str) -> dict[str, dict[str, Any]]:
    answer = await http.get(
        f"{url}/v1/perpetrators", params={"area": area, "cohort": "all"}, headers=READ
    )
    assert answer.status_code == 200, answer.text
    return {
        p["perpetrator_id"]: {k: v for k, v in p.items() if k != "scored_at"} for p in answer.json()
    }
