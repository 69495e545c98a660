"""Notify logs what it does with referrals (contract section 12), in the transaction that
does it: each referral `disclosed` on its agency's topic and again when a webhook answers
2xx (naming the host alone), and `altered` by an acknowledgement, a subscription set or
removed, and a redelivery (naming the host it goes to now, and the one before). Each names
the person the referral is about by their keys, never a record or a webhook's URL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from mash_tools.testing import TEST_PSEUDONYM_KEY, eventually, running, token
from shared.topics import referrals_topic
from tests.integration.kit import keys_of, logged
from tests.integration.notify.kit import Names, Receiver, notify_app, publish, referrals_of
from tests.unit.notify import builders

pytestmark = pytest.mark.kafka
_, _, YOUNGER_CHILD, IDVA, _, VICTIM_SUPPORT = builders.ALL_REFERRALS


def _as(sub: str, *scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(*scopes, subject=sub)}"}


async def _status(client: Any, agency: str, incident_id: str) -> str | None:
    found = await referrals_of(client, agency, incident_id)
    return found[0]["delivery"]["status"] if found else None


async def test_every_disclosure_and_alteration_of_a_referral_is_logged_without_its_data(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    data = builders.decision_data(referrals=[IDVA, VICTIM_SUPPORT, YOUNGER_CHILD])
    incident_id = data["incident_id"]
    # development allows only the literal 127.0.0.1 (contract 5): hosts differ by path here
    names = Names({})
    app = notify_app(kafka_bootstrap, database_url, group, resolver=names)
    admin = f"ops-{uuid.uuid4().hex[:6]}"
    write = _as(admin, "subscriptions:write:idva subscriptions:write:victim-support")
    async with (
        Receiver(incident_id=incident_id) as idva,
        # victim support's end refuses the first POST for good, then takes the redelivery
        Receiver(answer=lambda _id, n: 410 if n == 1 else 200, incident_id=incident_id) as vs,
        running(app) as client,
    ):

        def hook(host: str, receiver: Receiver) -> dict[str, str]:
            port = receiver.url.split(":")[2].split("/")[0]
            url = f"http://127.0.0.1:{port}/{host}?api_key=K3Y"
            return {"webhook_url": url, "secret": "s3cret"}

        for agency, body in (
            ("idva", hook("idva.test", idva)),
            ("victim-support", hook("vs.test", vs)),
        ):
            put = await client.put(f"/v1/subscriptions/{agency}", json=body, headers=write)
            assert put.status_code == 200, put.text
        await publish(kafka_bootstrap, data)
        await eventually(lambda: _is(client, "idva", incident_id, "delivered"))
        await eventually(lambda: _is(client, "victim-support", incident_id, "dead"))
        moved = hook("vs-new.test", vs)
        put = await client.put("/v1/subscriptions/victim-support", json=moved, headers=write)
        assert put.status_code == 200
        (vs_record,) = await referrals_of(client, "victim-support", incident_id)
        path = f"/v1/referrals/{vs_record['referral_id']}/redeliver"
        # to the subscription now in force, not the one it was made under (contract 5)
        again = await client.post(path, json={"to": "current"}, headers=write)
        assert again.status_code == 202, again.text
        await eventually(lambda: _is(client, "victim-support", incident_id, "delivered"))

        (idva_record,) = await referrals_of(client, "idva", incident_id)
        idva_id = idva_record["referral_id"]
        worker = f"idva-worker-{uuid.uuid4().hex[:6]}"
        ack = await client.post(
            f"/v1/referrals/{idva_id}/ack", headers=_as(worker, "referrals:ack:idva")
        )
        assert ack.status_code == 204
        reader = f"idva-reader-{uuid.uuid4().hex[:6]}"
        read = await client.get(
            "/v1/referrals",
            params={"agency": "idva", "incident_id": incident_id},
            headers=_as(reader, "referrals:read:idva"),
        )
        assert read.status_code == 200
        gone = await client.delete("/v1/subscriptions/idva", headers=write)
        assert gone.status_code == 204
        (school,) = await referrals_of(client, "school", incident_id)
        log = await logged(app)

    victim = data["incident"]["victim"]
    child = data["incident"]["children"][1]
    victim_keys = keys_of(TEST_PSEUDONYM_KEY, victim)
    vs_id = vs_record["referral_id"]

    def about(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in entries if incident_id in e["ids"]]

    on_topics = {e["recipient"]: e for e in about(log.of("disclosed", via="topic"))}
    assert set(on_topics) == {"idva", "victim-support", "school"}
    for agency, referral_id in (("idva", idva_id), ("victim-support", vs_id)):
        entry = on_topics[agency]
        assert (entry["sub"], entry["route"]) == ("notify", referrals_topic(agency))
        assert (entry["resource"], entry["ids"]) == ("referral", [referral_id, incident_id])
        assert set(entry["subjects"]) == victim_keys
    # a school's referral is about the child, not the victim
    assert on_topics["school"]["ids"] == [school["referral_id"], incident_id]
    assert set(on_topics["school"]["subjects"]) == keys_of(TEST_PSEUDONYM_KEY, child)

    by_webhook = {e["recipient"]: e for e in about(log.of("disclosed", via="webhook"))}
    assert set(by_webhook) == {"idva", "victim-support"}  # the 410 disclosed nothing
    assert (by_webhook["idva"]["route"], by_webhook["idva"]["sub"]) == ("127.0.0.1", "notify")
    assert by_webhook["idva"]["ids"] == [idva_id, incident_id]
    assert set(by_webhook["idva"]["subjects"]) == victim_keys
    assert by_webhook["victim-support"]["route"] == "127.0.0.1"

    [redelivered] = about(log.of("altered", sub=admin))
    assert redelivered["route"] == "127.0.0.1"  # another host shows as "new (was old)"
    assert (redelivered["via"], redelivered["ids"]) == ("api", [vs_id, incident_id])
    assert set(redelivered["subjects"]) == victim_keys
    [acked] = log.of("altered", sub=worker)
    assert acked["route"] == "/v1/referrals/{referral_id}/ack"
    assert (acked["resource"], acked["ids"]) == ("referral", [idva_id, incident_id])
    assert set(acked["subjects"]) == victim_keys
    subscriptions = log.of("altered", sub=admin, resource="subscription")
    assert [e["ids"] for e in subscriptions] == [
        ["idva"],
        ["victim-support"],
        ["victim-support"],
        ["idva"],
    ]
    assert {e["route"] for e in subscriptions} == {"/v1/subscriptions/{agency}"}
    [consulted] = log.of("consulted", sub=reader)
    assert consulted["ids"] == [idva_id]
    assert set(consulted["subjects"]) == victim_keys

    log.assert_nothing_personal_of(
        victim, data["incident"]["suspect"], *data["incident"]["children"]
    )
    for secret in ("K3Y", "api_key", "/hook", "s3cret", builders.NOTES):
        assert secret not in log.text


async def _is(client: Any, agency: str, incident_id: str, status: str) -> bool:
    return await _status(client, agency, incident_id) == status


async def test_redelivering_an_agencys_dead_deliveries_is_logged_with_the_host_they_go_to(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    first, second = (builders.decision_data(referrals=[IDVA]) for _ in range(2))
    names = Names({})
    app = notify_app(kafka_bootstrap, sqlite_url, group, resolver=names)
    admin = f"ops-{uuid.uuid4().hex[:6]}"
    write = _as(admin, "subscriptions:write:idva")
    mine = {first["incident_id"], second["incident_id"]}
    async with (
        Receiver(answer=lambda _id, _n: 404) as broken,
        Receiver() as fixed,
        running(app) as client,
    ):

        async def subscribe(host: str, receiver: Receiver) -> None:
            port = receiver.url.split(":")[2].split("/")[0]
            body = {"webhook_url": f"http://127.0.0.1:{port}/{host}", "secret": "s3cret"}
            put = await client.put("/v1/subscriptions/idva", json=body, headers=write)
            assert put.status_code == 200, put.text

        await subscribe("old.idva.test", broken)
        for data in (first, second):
            await publish(kafka_bootstrap, data)
        for incident_id in mine:
            await eventually(lambda: _is(client, "idva", incident_id, "dead"))  # noqa: B023
        made = [(await referrals_of(client, "idva", i))[0] for i in sorted(mine)]
        await subscribe("new.idva.test", fixed)
        since = min(r["created_at"] for r in made)
        answer = await client.post(
            "/v1/subscriptions/idva/redeliver",
            json={"since": since, "to": "current"},
            headers=write,
        )
        assert answer.status_code == 202
        for incident_id in mine:
            await eventually(lambda: _is(client, "idva", incident_id, "delivered"))  # noqa: B023
        log = await logged(app)

    ids = {r["referral_id"] for r in made}
    [requeued] = [e for e in log.of("altered", sub=admin) if ids & set(e["ids"])]
    assert requeued["route"] == "127.0.0.1"
    assert ids <= set(requeued["ids"])  # with any other dead ones of idva since then
    assert (requeued["via"], requeued["resource"]) == ("api", "referral")
    victim_keys = keys_of(TEST_PSEUDONYM_KEY, first["incident"]["victim"])
    assert victim_keys <= set(requeued["subjects"])
    delivered = [e for e in log.of("disclosed", via="webhook") if ids & set(e["ids"])]
    assert sorted(e["route"] for e in delivered) == ["127.0.0.1"] * 2
