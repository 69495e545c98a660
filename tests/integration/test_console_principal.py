"""The console's principal holds no one's personal data from the bus (issue 20, contract
sections 7 and 8): it reads triage's summaries, marac's events and notify's outcomes,
and the broker refuses it the incidents, the decisions, the escalations, the perpetrators
and every referral topic; and after a whole pipeline run of an incident full of personal
data, every message it may read, read whole (value, key, headers), holds none of it,
while its dashboard counts the incident from triage's summaries and its overdue referral
from notify's outcomes (acknowledged after its `due_by`)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import console.app
import intake.app
import intake.config
import marac.app
import triage.app
import triage.config
from mash_tools.testing import (
    TopicReader,
    bearer,
    data_of,
    eventually,
    headers_of,
    kafka_options,
    running,
)
from shared.kafka_security import ACL_TABLE
from shared.topics import (
    AGENCIES,
    DECISIONS,
    ESCALATIONS,
    INCIDENTS,
    INTAKE_EQUALITY,
    MARAC,
    MARAC_IDVA_REFERRALS,
    PERPETRATORS,
    REFERRAL_OUTCOMES,
    SUMMARIES,
    referrals_topic,
)
from tests.builders import settings_for
from tests.integration.console.kit import console_settings, page_figures, signed_in
from tests.integration.marac.kit import ADMIN, day, marac_settings, new_area
from tests.integration.notify.kit import Clock, Receiver, notify_app, referrals_of, subscribe
from tests.integration.test_kafka_security import FOUND_WAIT, put_marker, reads
from tests.personal import personal_data_in, rich_incident_body

pytestmark = pytest.mark.kafka

CONSOLE = "console"
CONSOLE_READS = (SUMMARIES, MARAC, REFERRAL_OUTCOMES)
REFUSED = (
    INCIDENTS,
    DECISIONS,
    ESCALATIONS,
    PERPETRATORS,
    MARAC_IDVA_REFERRALS,
    INTAKE_EQUALITY,
    *(referrals_topic(a) for a in AGENCIES),
)


def test_the_acl_table_gives_the_console_only_topics_without_personal_data() -> None:
    assert set(ACL_TABLE[CONSOLE].reads) == set(CONSOLE_READS)
    assert not set(ACL_TABLE[CONSOLE].reads) & set(REFUSED)


async def test_the_broker_refuses_the_console_every_topic_with_personal_data(
    kafka_bootstrap: str,
) -> None:
    # every refusal waits for the reader's whole time: all of them wait at once
    markers = [await put_marker(kafka_bootstrap, topic) for topic in REFUSED]
    # the same reader, as ops (who reads every topic), receives each marker
    ops = await asyncio.gather(
        *(reads(kafka_bootstrap, m, kafka_options("ops"), wait=FOUND_WAIT) for m in markers)
    )
    assert dict(zip(REFUSED, ops, strict=True)) == dict.fromkeys(REFUSED, True)
    console = kafka_options(CONSOLE)
    alone, grouped = await asyncio.gather(
        asyncio.gather(*(reads(kafka_bootstrap, m, console) for m in markers)),
        asyncio.gather(
            *(reads(kafka_bootstrap, m, console, group="mash-console.t") for m in markers)
        ),
    )
    assert dict(zip(REFUSED, alone, strict=True)) == dict.fromkeys(REFUSED, False)
    assert dict(zip(REFUSED, grouped, strict=True)) == dict.fromkeys(REFUSED, False)


@pytest.mark.parametrize("topic", CONSOLE_READS)
async def test_the_console_reads_its_topics_with_its_group(
    kafka_bootstrap: str, topic: str
) -> None:
    marker = await put_marker(kafka_bootstrap, topic)
    group = f"mash-console-{uuid.uuid4().hex[:8]}"
    assert await reads(kafka_bootstrap, marker, kafka_options(CONSOLE), group, wait=FOUND_WAIT)


async def test_nothing_the_console_reads_after_a_whole_run_holds_personal_data(
    kafka_bootstrap: str, tmp_path: Path, group: str
) -> None:
    def url(name: str) -> str:
        return f"sqlite+aiosqlite:///{tmp_path / name}.db"

    area = new_area()
    clock = Clock()
    apps = {
        "intake": intake.app.create_app(
            settings_for(intake.config.Settings, kafka_bootstrap, url("intake"), group)
        ),
        "triage": triage.app.create_app(
            settings_for(triage.config.Settings, kafka_bootstrap, url("triage"), group)
        ),
        "marac": marac.app.create_app(marac_settings(kafka_bootstrap, url("marac"), group)),
        "notify": notify_app(kafka_bootstrap, url("notify"), group, clock=clock),
        "console": console.app.create_app(console_settings(kafka_bootstrap, url("console"), group)),
    }
    readers = [TopicReader(kafka_bootstrap, t, CONSOLE) for t in CONSOLE_READS]
    decisions = TopicReader(kafka_bootstrap, DECISIONS)
    async with (
        Receiver() as idva_hook,
        running(apps["console"]) as console_client,
        running(apps["notify"]) as notify_client,
        running(apps["marac"]) as coordinators,
        running(apps["triage"]),
        running(apps["intake"]) as control_room,
        decisions,
        readers[0] as summaries,
        readers[1] as marac_events,
        readers[2] as outcomes,
    ):
        await signed_in(console_client, "manager", "dashboard:read")
        await subscribe(notify_client, "idva", idva_hook.url)
        meeting = await coordinators.post(
            "/v1/meetings",
            json={"area": area, "date": day(7), "capacity": 16},
            headers=bearer(*ADMIN),
        )
        assert meeting.status_code in (200, 201), meeting.text
        answer = await control_room.post(
            "/v1/incidents",
            json=rich_incident_body(area=area),
            headers=bearer("incidents:write"),
        )
        assert answer.status_code == 202, answer.text
        incident_id = str(answer.json()["incident_id"])

        def about(record: Any) -> bool:
            return incident_id in (headers_of(record).get("ce_subject"), *_ids(record))

        # the run: decided (and summarised), listed at the MARAC, delivered to the IDVA's
        # webhook, acknowledged by children's social care, the IDVA's referral acknowledged
        # after its due time (overdue)
        decision = await decisions.wait_for(about)
        await summaries.wait_for(about)
        await marac_events.wait_for(about)
        (csc,) = await eventually(
            lambda: referrals_of(notify_client, "childrens-social-care", incident_id)
        )
        acked = await notify_client.post(
            f"/v1/referrals/{csc['referral_id']}/ack",
            headers=bearer("referrals:ack:childrens-social-care"),
        )
        assert acked.status_code == 204, acked.text
        await outcomes.wait_for(lambda r: about(r) and "acknowledged" in _type(r))
        await outcomes.wait_for(lambda r: about(r) and "delivered" in _type(r))
        (idva,) = await eventually(lambda: referrals_of(notify_client, "idva", incident_id))
        clock.advance(hours=49)
        late = await notify_client.post(
            f"/v1/referrals/{idva['referral_id']}/ack", headers=bearer("referrals:ack:idva")
        )
        assert late.status_code == 204, late.text
        await outcomes.wait_for(
            lambda r: about(r) and "acknowledged" in _type(r) and data_of(r)["agency"] == "idva"
        )

        today = datetime.now(UTC).date()
        query = (
            f"/dashboard?area={area}&from={today - timedelta(days=40)}"
            f"&to={today + timedelta(days=40)}"
        )

        async def counted() -> dict[str, dict[str, str]] | None:
            figures = page_figures((await console_client.get(query)).text)
            wanted = ("incidents", "marac_cases_listed", "referrals_acknowledged_in_time")
            done = all(figures.get(k, {}).get("total") == "1" for k in wanted)
            overdue = figures.get("referrals_overdue", {}).get("total") not in (None, "0")
            return figures if done and overdue else None

        figures = await eventually(counted)
        for reader in (summaries, marac_events, outcomes):
            await reader.poll()

    # the decision names the victim, the children and the suspect: the check would see it
    assert "Zephyrine" in personal_data_in(decision.value)
    assert figures["risk_high"]["total"] == "1"
    assert figures["referrals_idva"]["total"] == "1"
    assert figures["incidents_with_children"]["total"] == "1"
    assert int(figures["referrals_delivered"]["total"]) >= 1
    assert figures["referrals_overdue"]["total"] == "1"
    read = [r for reader in (summaries, marac_events, outcomes) for r in reader.records]
    assert {r.topic for r in read if about(r)} == set(CONSOLE_READS)
    for record in read:
        found = personal_data_in(record.value) + personal_data_in(record.key)
        for name, value in record.headers:
            found += personal_data_in(name) + personal_data_in(value)
        assert found == [], (record.topic, _type(record), found)


def _type(record: Any) -> str:
    return str(headers_of(record).get("ce_type", ""))


def _ids(record: Any) -> tuple[str, ...]:
    """The incident ids a record's data names (a MARAC case may list several)."""
    try:
        data = data_of(record)
    except ValueError:
        return ()
    if not isinstance(data, dict):
        return ()
    listed = data.get("incident_ids") or []
    return (str(data.get("incident_id", "")), *(str(i) for i in listed))
