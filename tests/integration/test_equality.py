"""Equality monitoring (contract sections 3 and 6; SafeLives principle 8; issue 21): the
optional `equality` block on a victim (an incident's, intake's; a MARAC referral's,
marac's) is counted by marac only. The whole pipeline on the real broker (intake ->
triage -> notify, marac, perpetrators) runs the same stream of incidents and a MARAC
referral twice, with different equality values: every decision, score and priority is
the same, marac holds the values for its return, and no referral record (the API and the
agencies' topics, read whole) nor any message on any topic carries them, except intake's
internal `mash.intake.equality.v1`, which only marac reads: not the incidents topic, not
the decisions, not marac's own referrals for IDVA, not a log entry.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

import intake.app
import intake.config
import marac.app
import perpetrators.app
import triage.app
import triage.config
from marac import repository as marac_repository
from mash_tools.testing import bearer, eventually, kafka_options, running
from shared.topics import (
    AGENCIES,
    ALL_TOPICS,
    DECISIONS,
    EQUALITY_GIVEN,
    INCIDENTS,
    INTAKE_EQUALITY,
    MARAC_IDVA_REFERRALS,
)
from tests.builders import dash_body, incident_body, settings_for
from tests.integration.marac.kit import marac_settings, new_area, refer_scope, referral_body
from tests.integration.notify.kit import notify_app, referrals_of
from tests.integration.perpetrators.kit import perpetrator_settings
from triage.domain.policy import DEFAULT_POLICY

pytestmark = pytest.mark.kafka

CARRYING = {INCIDENTS, DECISIONS, MARAC_IDVA_REFERRALS}
"""The topics that carry a victim's other personal data, and carried the equality too until
issue 21: the check below must have read some of each."""
EQUALITY_WORDS = ('"equality"', '"ethnicity"', '"lgbt"', '"disability"', '"sex"')

RUN_A = [
    {"sex": "female", "ethnicity": "white", "disability": False, "lgbt": False},
    None,
    {"sex": "male"},
    {"sex": "not_known", "ethnicity": "mixed"},
]
RUN_B = [
    {"sex": "male", "ethnicity": "black", "disability": True, "lgbt": True},
    {"ethnicity": "asian", "disability": True, "lgbt": None},
    None,
    {"sex": "female", "lgbt": True},
]
REFERRED_A = {"sex": "female", "ethnicity": "black", "lgbt": True}
REFERRED_B = {"sex": "other", "disability": True}
"""The equality given on the MARAC referral a health visitor makes for the first victim."""


class Topics:
    """Every topic, read from their ends as `ops`."""

    def __init__(self, bootstrap: str) -> None:
        self.topics = list(ALL_TOPICS)
        self.records: list[Any] = []
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, **kafka_options("ops")
        )

    async def __aenter__(self) -> Topics:
        await self._consumer.start()
        await self._consumer._client.force_metadata_update()  # noqa: SLF001 - as TopicReader
        tps = [
            TopicPartition(t, p)
            for t in self.topics
            for p in sorted(self._consumer.partitions_for_topic(t) or ())
        ]
        self._consumer.assign(tps)
        await self._consumer.seek_to_end(*tps)
        for tp in tps:
            await self._consumer.position(tp)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def poll(self) -> list[Any]:
        batches = await self._consumer.getmany(timeout_ms=200)
        for records in batches.values():
            self.records.extend(records)
        return self.records

    def ids(self) -> set[str]:
        return {dict(r.headers or ()).get("ce_id", b"").decode() for r in self.records}


def stream(tag: str, area: str, equalities: list[dict[str, Any] | None]) -> list[dict[str, Any]]:
    """Four incidents of one suspect: a victim at high risk with a child at school, the
    same victim again at medium risk, a second victim at high risk, a third at standard
    risk."""
    suspect = {
        "person_id": f"S{tag}",
        "given_name": "Eqsuspect",
        "family_name": f"Synthetic{tag}",
        "date_of_birth": "1984-03-03",
    }
    victims = [
        {
            "person_id": f"V{tag}{n}",
            "given_name": f"Eqvictim{n}",
            "family_name": f"Synthetic{tag}",
            "date_of_birth": f"199{n}-05-05",
        }
        for n in range(3)
    ]
    child = {
        "given_name": "Eqchild",
        "family_name": f"Synthetic{tag}",
        "date_of_birth": "2017-06-06",
        "present_at_incident": True,
        "school_urn": "123456",
    }
    plan = [(0, 15, [child]), (0, 11, []), (1, 14, []), (2, 3, [])]
    start = datetime.now(UTC) - timedelta(hours=4)
    bodies = []
    for n, ((who, yes, children), equality) in enumerate(zip(plan, equalities, strict=True)):
        victim: dict[str, Any] = dict(victims[who])
        if equality is not None:
            victim["equality"] = equality
        reported = (start + timedelta(hours=n)).isoformat().replace("+00:00", "Z")
        bodies.append(
            incident_body(
                f"HC-EQ-{tag}-{n}",
                area=area,
                reported_at=reported,
                victim=victim,
                suspect=suspect,
                children=children,
                dash=dash_body(yes=yes),
            )
        )
    return bodies


Clients = dict[str, httpx.AsyncClient]


async def run(
    clients: Clients, equalities: list[dict[str, Any] | None], referred: dict[str, Any]
) -> dict[str, Any]:
    """Post the stream, one incident after the other's decision, then a MARAC referral of
    the first victim (with `referred` as its equality), and gather what the hub made of
    it: decisions, referrals (IDVA's from the MARAC referral last), MARAC cases, the
    perpetrator's score."""
    tag, area = uuid.uuid4().hex[:10], new_area()
    ids, decisions = [], []
    bodies = stream(tag, area, equalities)
    for body in bodies:
        answer = await clients["intake"].post(
            "/v1/incidents", json=body, headers=bearer("incidents:write")
        )
        assert answer.status_code == 202, answer.text
        incident_id = answer.json()["incident_id"]
        ids.append(incident_id)

        async def decided(incident_id: str = incident_id) -> dict[str, Any] | None:
            found = await clients["triage"].get(
                f"/v1/decisions/{incident_id}", headers=bearer("triage:read")
            )
            return dict(found.json()) if found.status_code == 200 else None

        decisions.append(await eventually(decided))

    referrals = []
    for decision in decisions:

        async def made(decision: dict[str, Any] = decision) -> list[dict[str, Any]] | None:
            found = []
            for agency in sorted({r["agency"] for r in decision["referrals"]}):
                found += await referrals_of(clients["notify"], agency, decision["incident_id"])
            return found if len(found) == len(decision["referrals"]) else None

        referrals.append(await eventually(made))

    first_victim = {k: v for k, v in bodies[0]["victim"].items() if k != "equality"}
    form = referral_body(area, first_victim)
    form["victim"] = {**first_victim, "equality": referred}
    answer = await clients["marac"].post(
        "/v1/marac-referrals", json=form, headers=bearer(*refer_scope("health"))
    )
    assert answer.status_code == 202, answer.text
    marac_referral_id = answer.json()["marac_referral_id"]

    async def for_idva() -> list[dict[str, Any]] | None:
        found = await referrals_of(clients["notify"], "idva", marac_referral_id)
        return found or None

    referrals.append(await eventually(for_idva))

    async def cases() -> list[dict[str, Any]] | None:
        found = await clients["marac"].get(
            "/v1/cases",
            params={"area": area, "status": "awaiting_meeting"},
            headers=bearer("marac:read"),
        )
        listed = list(found.json())
        eligible = sum(d["marac"]["eligible"] for d in decisions)
        gathered = sum(len(c["incident_ids"]) for c in listed)
        return listed if gathered == eligible else None

    async def scored() -> list[dict[str, Any]] | None:
        found = await clients["perpetrators"].get(
            "/v1/perpetrators",
            params={"area": area, "cohort": "all"},
            headers=bearer("perpetrators:read"),
        )
        scores = list(found.json())
        return scores if scores and scores[0]["incidents_24m"] == 4 else None

    return {
        "ids": ids,
        "decisions": decisions,
        "referrals": referrals,
        "cases": await eventually(cases),
        "perpetrators": await eventually(scored),
    }


def decided(decision: dict[str, Any]) -> dict[str, Any]:
    keep = ("risk_level", "risk_basis", "dash_score", "flags", "prior_incidents_12m", "marac")
    return {k: decision[k] for k in keep} | {
        "referrals": sorted(json.dumps(r, sort_keys=True) for r in decision["referrals"])
    }


def referred(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(
        (r["agency"], r["reason"], r["subject"], r.get("risk_level"), r["due_by"] is not None)
        for r in records
    )


def listed(case: dict[str, Any]) -> tuple[Any, ...]:
    keep = ("criteria", "risk_level", "dash_score", "repeat", "priority", "children_count")
    return (len(case["incident_ids"]), *(json.dumps(case[k]) for k in keep))


def scored(perpetrator: dict[str, Any]) -> dict[str, Any]:
    keep = ("score", "priority", "components", "incidents_24m", "victims_count")
    return {k: perpetrator[k] for k in keep} | {"children": perpetrator["children_involved"]}


def project(result: dict[str, Any], view: Callable[[Any], Any], key: str) -> list[Any]:
    return [view(x) for x in result[key]]


async def test_equality_changes_nothing_and_reaches_no_agency_nor_any_other_topic(
    kafka_bootstrap: str, tmp_path: Path, group: str
) -> None:
    def url(name: str) -> str:
        return f"sqlite+aiosqlite:///{tmp_path / name}.db"

    # the dip sample picks standard-risk incidents by their (random) ids: off, so that the
    # two runs can be compared decision by decision
    policy = DEFAULT_POLICY.model_copy(update={"version": "eq-test", "dip_sample_share": 0.0})
    apps = {
        "intake": intake.app.create_app(
            settings_for(intake.config.Settings, kafka_bootstrap, url("intake"), group)
        ),
        "triage": triage.app.create_app(
            settings_for(
                triage.config.Settings, kafka_bootstrap, url("triage"), group, policy=policy
            )
        ),
        "notify": notify_app(kafka_bootstrap, url("notify"), group),
        "marac": marac.app.create_app(marac_settings(kafka_bootstrap, url("marac"), group)),
        "perpetrators": perpetrators.app.create_app(
            perpetrator_settings(kafka_bootstrap, url("perpetrators"), group)
        ),
    }
    async with (
        Topics(kafka_bootstrap) as topics,
        running(apps["notify"]) as notify,
        running(apps["marac"]) as coordinators,
        running(apps["perpetrators"]) as neighbourhood,
        running(apps["triage"]) as cru,
        running(apps["intake"]) as control_room,
    ):
        clients = {
            "intake": control_room,
            "triage": cru,
            "notify": notify,
            "marac": coordinators,
            "perpetrators": neighbourhood,
        }
        a = await run(clients, RUN_A, REFERRED_A)
        b = await run(clients, RUN_B, REFERRED_B)

        # the same stream, other equality values: the same decisions, scores, priorities
        assert project(a, decided, "decisions") == project(b, decided, "decisions")
        assert a["decisions"][0]["risk_level"] == "high"  # the stream tests something
        assert a["decisions"][0]["marac"]["eligible"] is True
        assert a["decisions"][3]["risk_level"] == "standard"
        assert project(a, referred, "referrals") == project(b, referred, "referrals")
        assert sorted(project(a, listed, "cases")) == sorted(project(b, listed, "cases"))
        assert project(a, scored, "perpetrators") == project(b, scored, "perpetrators")

        # marac has the values to count (its return), as given on each incident, from
        # intake's own topic (the decisions no longer carry them)
        async def kept() -> dict[str, Any] | None:
            async with apps["marac"].state.platform.sessions() as session:
                found = await marac_repository.equality_of(session, [*a["ids"], *b["ids"]])
            return found if len(found) == 6 else None

        found = await eventually(kept)
        assert found[a["ids"][0]] == RUN_A[0]
        unknown = {"ethnicity": None, "disability": None, "lgbt": None}
        assert found[a["ids"][2]] == {"sex": "male", **unknown}
        assert a["ids"][1] not in found  # none given

        # every referral record, from the API and from each agency's topic, whole
        records = [r for made in (*a["referrals"], *b["referrals"]) for r in made]
        assert {r["agency"] for r in records} == set(AGENCIES)
        for record in records:
            text = json.dumps(record)
            assert not [w for w in EQUALITY_WORDS if w in text], record["agency"]

        ours = set(a["ids"] + b["ids"])

        async def all_on_their_topics() -> bool:
            await topics.poll()
            seen = {r.topic for r in topics.records}
            given = [r for r in topics.records if r.topic == INTAKE_EQUALITY]
            return (
                {r["referral_id"] for r in records} <= topics.ids()
                and seen >= CARRYING
                and len([r for r in given if json.loads(r.value)["incident_id"] in ours]) == 6
            )

        await eventually(all_on_their_topics)
        await topics.poll()
    on_agency_topics = [r for r in topics.records if r.topic.startswith("mash.referrals.")]
    assert len(on_agency_topics) >= len(records)
    given = [r for r in topics.records if r.topic == INTAKE_EQUALITY]
    given = [r for r in given if json.loads(r.value)["incident_id"] in ours]
    # intake's topic for marac alone carries them: once per incident given one, and only
    # the incident's id, area and time besides
    assert sorted(json.loads(r.value)["incident_id"] for r in given) == sorted(found)
    for message in given:
        assert dict(message.headers or ())["ce_type"].decode() == EQUALITY_GIVEN
        assert set(json.loads(message.value)) == {"incident_id", "area", "reported_at", "equality"}
    # every other topic's messages in the meantime: the incidents and decisions (the
    # victim without the block), the summaries, marac's (its referrals for IDVA too), the
    # agencies', perpetrators', the logs, dead letters
    others = [r for r in topics.records if r.topic != INTAKE_EQUALITY]
    assert {r.topic for r in others} >= CARRYING
    for message in others:
        text = message.value.decode() + json.dumps(
            [(k, v.decode()) for k, v in message.headers or ()]
        )
        assert not [w for w in EQUALITY_WORDS if w in text], message.topic
