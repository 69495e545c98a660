"""The records service with the real broker, on SQLite and on PostgreSQL (as its
insert-only role): log entries published on the services' topics are kept once, chained
and answerable; every answer is itself logged; a stopped service loses nothing;
retention erases, logs it, and the chains still verify."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import records.app
from mash_tools.testing import bearer, eventually, running
from shared.audit import person_keys
from tests.integration.records.kit import (
    READ,
    LogPublisher,
    as_owner,
    entry,
    kept,
    kept_ids,
    keys,
    outbox_entries,
    records_settings,
    service_database,
    someone,
    start_at_the_end,
    until_all_kept,
    until_kept,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
AUTH = bearer(*READ)


@dataclass
class Service:
    app: FastAPI
    client: httpx.AsyncClient
    settings: Any
    owner_url: str


@pytest.fixture
async def service(kafka_bootstrap: str, database_url: str, group: str) -> AsyncIterator[Service]:
    url, owner = await service_database(database_url)
    settings = records_settings(kafka_bootstrap, url, group, migrations_database_url=owner)
    app = records.app.create_app(settings)
    async with running(app) as client:
        yield Service(app, client, settings, owner or url)


@pytest.fixture
async def publisher(kafka_bootstrap: str) -> AsyncIterator[LogPublisher]:
    async with LogPublisher(kafka_bootstrap) as found:
        yield found


def ids_of(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [e["entry_id"] for e in answer.json()]


def next_of(answer: httpx.Response) -> str | None:
    link = answer.headers.get("link")
    if link is None:
        return None
    found = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert found, link
    return found.group(1)


async def test_entries_are_kept_once_whatever_the_redelivery_and_the_chain_verifies(
    service: Service, publisher: LogPublisher
) -> None:
    notify = [entry("notify") for _ in range(3)]
    intake = entry("intake", "collected")
    events = [await publisher.publish(e) for e in [notify[0], intake, notify[1], notify[2]]]
    await publisher.publish(notify[1], events[2])  # the very same message again
    await publisher.publish(notify[0], events[0])
    last = entry("notify")  # published after the redeliveries: kept once they were handled
    await publisher.publish(last)
    expected = [str(e.entry_id) for e in [*notify, last]]
    assert await until_kept(service.app, 4) == expected
    assert await kept_ids(service.app, "intake") == [str(intake.entry_id)]
    assert [r.seq for r in await kept(service.app, "notify")] == [1, 2, 3, 4]
    answer = await service.client.get("/v1/records/verify", headers=AUTH)
    assert answer.status_code == 200
    body = answer.json()
    assert body["ok"] is True
    assert body["entries"] >= 5


async def test_a_change_or_a_deletion_behind_the_service_s_back_is_named_and_alerted(
    service: Service, publisher: LogPublisher
) -> None:
    published = [entry("triage", "combined") for _ in range(4)]
    for e in published:
        await publisher.publish(e)
    await until_kept(service.app, 4, "triage")
    await as_owner(
        service.owner_url,
        "DELETE FROM record_entries WHERE entry_id = :id",
        id=str(published[1].entry_id),
    )
    answer = (await service.client.get("/v1/records/verify", headers=AUTH)).json()
    assert answer == {
        "ok": False,
        "service": "triage",
        "entry_id": str(published[2].entry_id),
        "reason": "an entry before it is missing or changed",
    }
    await service.app.state.chain_check.run_once(service.app.state.platform)
    metrics = (await service.client.get("/metrics")).text
    assert "mash_records_chain_broken 1.0" in metrics


async def test_search_by_names_and_birth_finds_what_search_by_person_id_finds(
    service: Service, publisher: LogPublisher
) -> None:
    person, other = someone(), someone()
    about = [
        entry("intake", "collected", subjects=keys(person)),
        entry("notify", "disclosed", subjects=keys(person) + keys(other)),
        entry("triage", "combined", subjects=keys(person)),
    ]
    elsewhere = entry("notify", subjects=keys(other))
    for e in [*about, elsewhere]:
        await publisher.publish(e)
    await until_kept(service.app, 2, "notify")
    await until_kept(service.app, 1, "triage")
    by_id = await service.client.post(
        "/v1/records/search", json={"person_id": person.person_id}, headers=AUTH
    )
    names = {
        "given_name": person.given_name,
        "family_name": person.family_name,
        "date_of_birth": person.date_of_birth.isoformat() if person.date_of_birth else None,
    }
    by_names = await service.client.post("/v1/records/search", json=names, headers=AUTH)
    expected = sorted(str(e.entry_id) for e in about)
    assert sorted(ids_of(by_id)) == expected
    assert sorted(ids_of(by_names)) == expected
    # each search is logged with the person's keys, and nowhere with their names
    logged = await outbox_entries(service.app)
    searches = [e for e in logged if e["route"] == "/v1/records/search"]
    assert len(searches) == 2
    assert all(set(e["subjects"]) >= {keys(person)[0]} for e in searches)
    assert all(sorted(e["ids"]) == expected for e in searches)
    for payload in map(str, await outbox_entries(service.app, via=None)):
        assert person.given_name not in payload
        assert person.family_name not in payload


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"given_name": "Alex"},
        {"given_name": "Alex", "family_name": "Example"},
        {"person_id": "N1", "date_of_birth": "1990-01-01"},
        {"person_id": "not an id!"},
        {"person_id": "N1", "nickname": "x"},
        {"given_name": "Alex", "family_name": "Example", "date_of_birth": "1990-13-01"},
    ],
)
async def test_a_bad_search_body_is_422_field_by_field(service: Service, body: Any) -> None:
    answer = await service.client.post("/v1/records/search", json=body, headers=AUTH)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    errors = answer.json()["errors"]
    assert errors
    assert all(e["loc"][0] == "body" and len(e["loc"]) >= 2 for e in errors)
    assert "Alex" not in answer.text


async def test_filters_narrow_the_list(service: Service, publisher: LogPublisher) -> None:
    incident = str(uuid.uuid4())
    person = someone()
    now = datetime.now(UTC)
    first = entry(
        "intake", "collected", ids=[incident], subjects=keys(person), at=now - timedelta(hours=2)
    )
    read = entry(
        "notify",
        "consulted",
        ids=[incident, "r1"],
        sub="idva-worker-7",
        at=now - timedelta(hours=1),
    )
    unrelated = entry("notify", "disclosed", at=now - timedelta(minutes=30))
    for e in (first, read, unrelated):
        await publisher.publish(e)
    await until_kept(service.app, 2, "notify")

    async def listed(**params: str) -> list[str]:
        answer = await service.client.get("/v1/records", params=params, headers=AUTH)
        assert answer.status_code == 200, answer.text
        # records logs each of these reads of the person too, and may keep that entry
        # before the next read: the filters are tested on the other services' entries
        return [e["entry_id"] for e in answer.json() if e["service"] != "records"]

    both = [str(first.entry_id), str(read.entry_id)]
    assert await listed(incident_id=incident) == both  # oldest first
    assert await listed(subject=keys(person)[1]) == [str(first.entry_id)]
    assert await listed(sub="idva-worker-7") == [str(read.entry_id)]
    assert await listed(incident_id=incident, operation="consulted") == [str(read.entry_id)]
    east = timezone(timedelta(hours=5, minutes=30))  # the same instants, another offset
    window = {
        "from": (now - timedelta(minutes=90)).astimezone(east).isoformat(),
        "to": (now - timedelta(minutes=45)).astimezone(east).isoformat(),
    }
    assert await listed(incident_id=incident, **window) == [str(read.entry_id)]
    for bad in ({"operation": "deleted"}, {"from": "yesterday"}, {"to": "2026-12-01T10:00:00"}):
        answer = await service.client.get("/v1/records", params=bad, headers=AUTH)
        assert answer.status_code == 422


async def test_lists_page_through_link_headers_and_refuse_bad_limits_and_forged_cursors(
    service: Service, publisher: LogPublisher
) -> None:
    person = someone()
    sub = f"worker-{uuid.uuid4().hex[:8]}"
    published = [entry("marac", "altered", subjects=keys(person), sub=sub) for _ in range(5)]
    for e in published:
        await publisher.publish(e)
    await until_kept(service.app, 5, "marac")
    expected = [str(e.entry_id) for e in published]

    async def walk(first: httpx.Response) -> list[list[str]]:
        pages, answer = [ids_of(first)], first
        while (url := next_of(answer)) is not None:
            # the same request (the same body) at the next page's URL
            answer = await service.client.request(
                first.request.method,
                url,
                headers={**AUTH, "content-type": "application/json"},
                content=first.request.content,
            )
            pages.append(ids_of(answer))
        return pages

    listed = await walk(
        await service.client.get("/v1/records", params={"sub": sub, "limit": 2}, headers=AUTH)
    )
    assert listed == [expected[:2], expected[2:4], expected[4:]]
    searched = await walk(
        await service.client.post(
            "/v1/records/search",
            params={"limit": 3},
            json={"person_id": person.person_id},
            headers=AUTH,
        )
    )
    # each page read is logged about the person, so later pages may find those entries too
    assert searched[0] == expected[:3]
    assert all(len(page) <= 3 for page in searched)
    flat = [i for page in searched for i in page]
    assert len(flat) == len(set(flat))
    assert [i for i in flat if i in expected] == expected

    first = await service.client.get("/v1/records", params={"sub": sub, "limit": 2}, headers=AUTH)
    cursor = str(httpx.URL(next_of(first) or "").params["after"])
    forged = cursor[:-1] + ("0" if cursor[-1] != "0" else "1")
    for params in ({"limit": 0}, {"limit": 501}, {"after": forged}, {"after": "not-a-cursor"}):
        for answer in (
            await service.client.get("/v1/records", params=params, headers=AUTH),
            await service.client.post(
                "/v1/records/search", params=params, json={"person_id": "N1"}, headers=AUTH
            ),
        ):
            assert answer.status_code == 422, (params, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")


async def test_every_answer_is_logged_as_consulted_and_kept_itself(
    service: Service, publisher: LogPublisher
) -> None:
    person = someone()
    published = [entry("notify", subjects=keys(person)) for _ in range(2)]
    for e in published:
        await publisher.publish(e)
    await until_kept(service.app, 2, "notify")
    key = keys(person)[0]
    client = service.client
    answers = [
        await client.get("/v1/records", params={"subject": key}, headers=AUTH),
        await client.get("/v1/records.csv", params={"subject": key}, headers=AUTH),
        await client.post("/v1/records/search", json={"person_id": person.person_id}, headers=AUTH),
        await client.get("/v1/records/verify", headers=AUTH),
    ]
    assert [a.status_code for a in answers] == [200] * 4
    rows = list(csv.DictReader(io.StringIO(answers[1].text)))
    assert [r["entry_id"] for r in rows] == [str(e.entry_id) for e in published]
    assert rows[0]["subjects"].split() == keys(person)
    logged = await outbox_entries(service.app)
    assert [(e["route"], e["operation"], e["sub"], e["resource"]) for e in logged] == [
        ("/v1/records", "consulted", "tester", "records"),
        ("/v1/records.csv", "consulted", "tester", "records"),
        ("/v1/records/search", "consulted", "tester", "records"),
        ("/v1/records/verify", "consulted", "tester", "records"),
    ]
    ids = {str(e.entry_id) for e in published}
    assert [set(e["ids"]) for e in logged[:2]] == [ids] * 2
    # the search may also find records' own log of the first two reads: they are about
    # the person too, and may have come back through its topic and been kept by then
    own = {e["entry_id"] for e in logged[:2]}
    assert ids <= set(logged[2]["ids"]) <= ids | own
    # records' own entries come back through its topic and are kept, chained, like any
    # (beside whatever its jobs log meanwhile: the suite's other partner groups' reads)
    await until_all_kept(service.app, [e["entry_id"] for e in logged])


async def test_the_csv_streams_every_entry_logged_500_at_a_time(
    service: Service, publisher: LogPublisher
) -> None:
    sub = f"bulk-{uuid.uuid4().hex[:8]}"
    published = [entry("console", "consulted", sub=sub) for _ in range(1001)]
    await publisher.publish_many(published)
    await until_kept(service.app, 1001, "console")
    answer = await service.client.get("/v1/records.csv", params={"sub": sub}, headers=AUTH)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["entry_id"] for r in rows] == [str(e.entry_id) for e in published]
    logged = await outbox_entries(service.app)
    assert [len(e["ids"]) for e in logged] == [500, 500, 1]
    assert [i for e in logged for i in e["ids"]] == [r["entry_id"] for r in rows]


@pytest.mark.parametrize("route", ["/v1/records", "/v1/records.csv", "/v1/records/verify"])
async def test_no_token_is_401_and_another_scope_is_403(service: Service, route: str) -> None:
    assert (await service.client.get(route)).status_code == 401
    other = bearer("perpetrators:read")
    assert (await service.client.get(route, headers=other)).status_code == 403
    answer = await service.client.post("/v1/records/search", json={"x": 1}, headers=other)
    assert answer.status_code == 403
    assert await outbox_entries(service.app) == []


async def test_a_records_service_stopped_for_a_while_loses_nothing(
    kafka_bootstrap: str, database_url: str, group: str, publisher: LogPublisher
) -> None:
    url, owner = await service_database(database_url)
    # as in production: a topic the group has no offset on yet is read from its start
    settings = records_settings(kafka_bootstrap, url, group, migrations_database_url=owner)
    settings = settings.model_copy(update={"consumer_offset_reset": "earliest"})
    await start_at_the_end(kafka_bootstrap, settings)
    before = entry("notify")
    app = records.app.create_app(settings)
    async with running(app):
        await publisher.publish(before)
        await until_all_kept(app, [str(before.entry_id)])
    # down: the services go on logging
    meanwhile = [entry("notify") for _ in range(3)] + [entry("marac", "combined")]
    for e in meanwhile:
        await publisher.publish(e)
    again = records.app.create_app(settings)
    async with running(again) as client:
        await until_all_kept(again, [str(e.entry_id) for e in meanwhile])
        notify = await kept_ids(again, "notify")
        ours = [str(e.entry_id) for e in [before, *meanwhile[:3]]]
        assert [i for i in notify if i in ours] == ours  # chained in the order published
        verdict = (await client.get("/v1/records/verify", headers=AUTH)).json()
        assert verdict["ok"] is True


async def test_retention_erases_old_entries_logs_the_erasure_and_verify_is_still_ok(
    service: Service, publisher: LogPublisher
) -> None:
    person = someone()
    long_ago = datetime.now(UTC) - timedelta(days=service.settings.retention_days + 10)
    old = [entry("intake", "collected", at=long_ago, subjects=keys(person)) for _ in range(3)]
    young = entry("intake", "collected", subjects=keys(person))
    for e in [*old, young]:
        await publisher.publish(e)
    await until_kept(service.app, 4, "intake")
    platform = service.app.state.platform
    assert await service.app.state.retention.run_once(platform) == 3
    assert await kept_ids(service.app, "intake") == [str(young.entry_id)]

    async def erasure_kept() -> list[Any] | None:
        found = [r for r in await kept(service.app, "records") if r.operation == "erased"]
        return found or None

    [erased] = await eventually(erasure_kept)
    assert sorted(erased.ids) == sorted(str(e.entry_id) for e in old)
    assert erased.sub == "job:records.retention"
    assert set(erased.subjects) == set(person_keys_of(person))
    answer = (await service.client.get("/v1/records/verify", headers=AUTH)).json()
    assert answer["ok"] is True
    # the person's search shows the erasure of their entries, and what is kept
    found = await service.client.post(
        "/v1/records/search", json={"person_id": person.person_id}, headers=AUTH
    )
    assert ids_of(found) == [str(young.entry_id), str(erased.entry_id)]


def person_keys_of(person: Any) -> list[str]:
    from mash_tools.testing import TEST_PSEUDONYM_KEY

    return list(person_keys(TEST_PSEUDONYM_KEY, person))


async def test_two_replicas_keep_each_entry_once_in_one_chain(
    kafka_bootstrap: str, postgres_server: str, group: str, publisher: LogPublisher
) -> None:
    """PostgreSQL, two replicas in one consumer group (partitions move between them as the
    second joins): every entry kept once, each service's chain without a fork or a gap."""
    from mash_tools.testing import create_database

    url, owner = await service_database(await create_database(postgres_server))
    settings = records_settings(kafka_bootstrap, url, group, migrations_database_url=owner)
    first, second = records.app.create_app(settings), records.app.create_app(settings)
    published = [entry(s) for s in ("notify", "triage", "intake", "marac") for _ in range(10)]
    async with running(first) as client:
        for e in published[:20]:
            await publisher.publish(e)
        async with running(second):
            for e in published[20:]:
                await publisher.publish(e)
            await until_all_kept(first, [str(e.entry_id) for e in published])
        for service in ("notify", "triage", "intake", "marac"):
            chain = await kept(first, service)
            assert [r.seq for r in chain] == list(range(1, len(chain) + 1))
        ours = {str(e.entry_id) for e in published}
        assert len([r for r in await kept(first) if r.entry_id in ours]) == len(published)
        verdict = (await client.get("/v1/records/verify", headers=AUTH)).json()
        assert verdict["ok"] is True
