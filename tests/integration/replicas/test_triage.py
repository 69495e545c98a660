"""Triage as replicas on PostgreSQL: one stream, shuffled, with serial perpetrators and
repeat victims spread over the partitions, read by three deployments at once (one
replica; two replicas; two replicas of which one is SIGKILLed mid-stream and a fresh
one started). Every deployment must end with the same decision on every incident."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from mash_tools.testing import (
    TEST_PSEUDONYM_KEY,
    TopicReader,
    create_database,
    data_of,
    eventually,
)
from shared.identity import victim_key
from shared.schemas import Person
from shared.topics import DECISIONS, INCIDENTS
from tests.integration.kit import TopicPublisher
from tests.integration.replicas.kit import (
    engine_of,
    processed,
    replicas,
    start_at_end,
)
from tests.integration.triage.kit import reported_event
from triage import repository, store

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
NOW = datetime.now(UTC)
VICTIMS, SUSPECTS, INCIDENTS_EACH = 12, 4, 3
DEPLOYMENTS = {"single": 1, "pair": 2, "killed": 2}
# what may differ between deployments: ids made when deciding, and the deployment's tag
VOLATILE = {"decision_id", "decided_at", "policy_version"}


def person(role: str, n: int, tag: str) -> dict[str, Any]:
    return {
        "person_id": f"{role[0].upper()}{tag}{n}",
        "given_name": f"{role.capitalize()}{tag}",
        "family_name": f"Replica{n}",
        "date_of_birth": f"19{70 + n}-0{1 + n % 9}-1{n % 9}",
    }


def stream() -> list[tuple[str, Any]]:
    """(key, event) for each incident: every victim reported three times, every suspect
    against three victims (so on several partitions), reported out of order."""
    tag = uuid.uuid4().hex[:8]
    rng = random.Random(tag)
    victims = [person("victim", n, tag) for n in range(VICTIMS)]
    suspects = [person("suspect", n, tag) for n in range(SUSPECTS)]
    events = []
    for k in range(VICTIMS * INCIDENTS_EACH):
        victim, suspect = victims[k % VICTIMS], suspects[k % SUSPECTS]
        reported = NOW - timedelta(days=rng.randint(1, 300), minutes=k)
        event = reported_event(reported, victim, suspect=suspect, area="southampton")
        key = victim_key(
            TEST_PSEUDONYM_KEY, Person.model_validate(victim), uuid.UUID(event.subject)
        )
        events.append((key, event))
    rng.shuffle(events)
    return events


@dataclass
class Outcome:
    incident_ids: list[str]
    decisions: dict[str, dict[str, dict[str, Any]]]
    """Per deployment, per incident: the final decision, volatile fields dropped."""
    rows: dict[str, set[str]]
    """Per deployment: the ids of every decision it stored."""
    published: dict[str, list[str]]
    """Per deployment: the decision ids that reached the decisions topic."""
    processed: dict[str, int]


@pytest.fixture(scope="module")
async def outcome(
    kafka_bootstrap: str, postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Outcome]:
    logs: Path = tmp_path_factory.mktemp("triage-replicas")
    events = stream()
    ids = [event.id for _, event in events]
    run = uuid.uuid4().hex[:8]
    urls = {name: await create_database(postgres_server) for name in DEPLOYMENTS}
    groups = {name: f"mash-triage-replicas-{name}-{run}" for name in DEPLOYMENTS}
    for group in groups.values():
        await start_at_end(kafka_bootstrap, "triage", group, [INCIDENTS])
    engines = {name: engine_of(url) for name, url in urls.items()}
    with (
        replicas(
            "triage",
            kafka_bootstrap,
            urls["single"],
            groups["single"],
            logs,
            TRIAGE_POLICY__VERSION=f"single-{run}",
        ) as single,
        replicas(
            "triage",
            kafka_bootstrap,
            urls["pair"],
            groups["pair"],
            logs,
            TRIAGE_POLICY__VERSION=f"pair-{run}",
        ) as pair,
        replicas(
            "triage",
            kafka_bootstrap,
            urls["killed"],
            groups["killed"],
            logs,
            TRIAGE_POLICY__VERSION=f"killed-{run}",
        ) as killed,
    ):
        for deployment, count in ((single, 1), (pair, 2), (killed, 2)):
            for _ in range(count):
                deployment.add()
        for deployment in (single, pair, killed):
            deployment.wait_ready()
        async with (
            TopicReader(kafka_bootstrap, DECISIONS) as topic,
            TopicPublisher(kafka_bootstrap, INCIDENTS) as intake,
        ):
            for key, event in events:
                await intake.send(key, event)

            async def some_done() -> bool:
                return await processed(engines["killed"], store.messages, ids) >= len(ids) // 4

            await eventually(some_done, timeout=120)
            killed.kill(
                0
            )  # mid-stream: whatever it had not committed, its partitions' next owner reads again
            killed.add()
            killed.wait_ready()

            async def all_done() -> bool:
                counts = [await processed(e, store.messages, ids) for e in engines.values()]
                return all(n == len(ids) for n in counts)

            await eventually(all_done, timeout=240, interval=0.5)
            rows = {name: await decision_ids(engine) for name, engine in engines.items()}
            tags = {f"{name}-{run}": name for name in DEPLOYMENTS}
            published: dict[str, list[str]] = {name: [] for name in DEPLOYMENTS}

            async def all_published() -> bool:
                await topic.poll()
                published.update({name: [] for name in DEPLOYMENTS})
                for record in topic.records:
                    data = data_of(record)
                    if (name := tags.get(data.get("policy_version", ""))) is not None:
                        published[name].append(data["decision_id"])
                return all(rows[n] <= set(published[n]) for n in DEPLOYMENTS)

            await eventually(all_published, timeout=120, interval=0.5)
        incident_ids = [event.subject for _, event in events]
        decisions = {
            name: await final_decisions(engine, incident_ids) for name, engine in engines.items()
        }
        counts = {name: await processed(e, store.messages, ids) for name, e in engines.items()}
        yield Outcome(incident_ids, decisions, rows, published, counts)
    for engine in engines.values():
        await engine.dispose()


async def decision_ids(engine: Any) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(select(store.decisions.c.decision_id))).scalars())


async def final_decisions(engine: Any, incident_ids: list[str]) -> dict[str, dict[str, Any]]:
    found = {}
    async with async_sessionmaker(engine)() as session:
        for incident_id in incident_ids:
            decision = await repository.current_decision(session, incident_id)
            assert decision is not None, f"no decision on {incident_id}"
            found[incident_id] = {
                k: v for k, v in decision.model_dump(mode="json").items() if k not in VOLATILE
            }
    return found


async def test_two_replicas_decide_as_one(outcome: Outcome) -> None:
    single, pair = outcome.decisions["single"], outcome.decisions["pair"]
    assert len(single) == len(outcome.incident_ids)
    # the stream made repeats and serial suspects: the decisions are not all alike
    assert {d["prior_incidents_12m"] for d in single.values()} != {0}
    assert any(d["marac"]["eligible"] for d in single.values())
    for incident_id in outcome.incident_ids:
        assert pair[incident_id] == single[incident_id], incident_id


async def test_a_replica_killed_mid_stream_loses_and_doubles_nothing(outcome: Outcome) -> None:
    single, killed = outcome.decisions["single"], outcome.decisions["killed"]
    for incident_id in outcome.incident_ids:
        assert killed[incident_id] == single[incident_id], incident_id
    # every event processed once (the inbox), every stored decision on the topic
    assert outcome.processed["killed"] == len(outcome.incident_ids)
    assert outcome.rows["killed"] <= set(outcome.published["killed"])
    # what reached the topic twice is the same decision again (the relay's at-least-once),
    # never a second decision from one event
    assert set(outcome.published["killed"]) == outcome.rows["killed"]
