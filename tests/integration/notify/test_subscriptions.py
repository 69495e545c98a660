"""Issue 10, items 4, 5 and 11: a delivery keeps the subscription it was made under and
DELETE cancels what waits; no webhook can be aimed at the hub's own network (checked at
PUT and again at each delivery, after resolving, on the checked address); no raw URL in
what is recorded. Names are resolved by the test's own resolver: nothing leaves the
machine, and nothing is sent to a refused address."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mash_tools.testing import bearer, eventually, running
from tests.integration.notify.kit import (
    Names,
    Receiver,
    attempt_rows,
    loops_passed,
    notify_app,
    publish,
    referrals_of,
    subscribe,
)
from tests.unit.notify import builders

pytestmark = pytest.mark.kafka

CSC, _, _, IDVA, SAFEGUARDING, VICTIM_SUPPORT = builders.ALL_REFERRALS
PUBLIC = "93.184.215.14"  # a public address: allowed, and never dialled by these tests


async def _record(client: Any, agency: str, incident_id: str) -> dict[str, Any] | None:
    found = await referrals_of(client, agency, incident_id)
    return found[0] if found else None


async def _in_state(client: Any, agency: str, incident_id: str, status: str) -> bool:
    found = await _record(client, agency, incident_id)
    return bool(found and found["delivery"]["status"] == status)


async def test_a_later_put_does_not_redirect_a_waiting_delivery(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    data = builders.decision_data(referrals=[IDVA])
    incident_id = data["incident_id"]
    slow: dict[str, Any] = {"delivery_retry_schedule": (0.5, 1.0, 1.0, 1.0)}
    app = notify_app(kafka_bootstrap, database_url, group, **slow)
    async with (
        Receiver(answer=lambda _id, n: 503 if n == 1 else 200, incident_id=incident_id) as a,
        Receiver() as b,
        running(app) as client,
    ):
        await subscribe(client, "idva", a.url, secret="secret-a")
        await publish(kafka_bootstrap, data)
        await eventually(lambda: _in_state(client, "idva", incident_id, "failed"))
        await subscribe(client, "idva", b.url, secret="secret-b")  # a new PUT meanwhile
        await eventually(lambda: _in_state(client, "idva", incident_id, "delivered"))

    assert [r.status for r in a.of(incident_id)] == [503, 200]
    assert b.of(incident_id) == []


async def test_delete_cancels_the_pending_deliveries(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    data = builders.decision_data(referrals=[SAFEGUARDING])
    incident_id = data["incident_id"]
    slow: dict[str, Any] = {"delivery_retry_schedule": (0.5, 1.0, 1.0, 1.0)}
    app = notify_app(kafka_bootstrap, database_url, group, **slow)
    async with (
        Receiver(answer=lambda _id, _n: 503, incident_id=incident_id) as down,
        running(app) as client,
    ):
        await subscribe(client, "safeguarding-team", down.url)
        await publish(kafka_bootstrap, data)
        await eventually(lambda: _in_state(client, "safeguarding-team", incident_id, "failed"))
        gone = await client.delete(
            "/v1/subscriptions/safeguarding-team",
            headers=bearer("subscriptions:write:safeguarding-team"),
        )
        tried = len(down.of(incident_id))
        await loops_passed(app, "safeguarding-team")
        record = await _record(client, "safeguarding-team", incident_id)

    assert gone.status_code == 204
    assert record is not None
    assert record["delivery"]["status"] == "cancelled"
    assert len(down.of(incident_id)) == tried  # nothing more was sent


REFUSED_URLS = [
    "http://127.0.0.1:8001/v1/incidents",
    "https://127.0.0.1/",
    "https://2130706433/",
    "https://0x7f000001/",
    "https://127.1/",
    "https://0177.0.0.1/",
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://localhost/",
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1/",
    "https://192.168.0.1/",
    "https://172.16.0.1/",
    "https://[fe80::1]/",
    "https://224.0.0.1/",
    "https://0.0.0.0/",
    "https://internal.partner.test/hook",  # resolves (below) to a private address
    "https://mixed.partner.test/hook",  # one public, one metadata address
    "http://partner.test/hook",  # public, but not https
    "ftp://partner.test/hook",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
async def test_put_refuses_urls_aimed_at_the_hubs_own_network(
    kafka_bootstrap: str, sqlite_url: str, group: str, url: str
) -> None:
    names = Names(
        {
            "localhost": ["127.0.0.1"],
            "internal.partner.test": ["10.20.30.40"],
            "mixed.partner.test": [PUBLIC, "169.254.169.254"],
            "partner.test": [PUBLIC],
        }
    )
    # production rules: no loopback allowance
    app = notify_app(
        kafka_bootstrap, sqlite_url, group, resolver=names, webhook_allow_loopback=False
    )
    async with running(app) as client:
        answer = await client.put(
            "/v1/subscriptions/idva",
            json={"webhook_url": url, "secret": "s"},
            headers=bearer("subscriptions:write:idva"),
        )
        listed = await client.delete(
            "/v1/subscriptions/idva", headers=bearer("subscriptions:write:idva")
        )
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert answer.headers["content-type"] == "application/problem+json"
    assert problem["status"] == 422
    assert any(e["loc"][-1] == "webhook_url" for e in problem["errors"])
    assert listed.status_code == 404  # nothing was stored


async def test_put_accepts_a_public_https_url_and_loopback_only_when_allowed(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    names = Names({"partner.test": [PUBLIC]})
    strict = notify_app(
        kafka_bootstrap, sqlite_url, group, resolver=names, webhook_allow_loopback=False
    )
    async with running(strict) as client:
        await subscribe(client, "idva", "https://partner.test/hook?token=abc")
        await subscribe(client, "school", "https://unresolvable.test/hook")  # checked later
    assert "partner.test" in names.asked


async def test_a_name_that_resolves_elsewhere_at_delivery_is_refused_before_connecting(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    """DNS rebinding: public when subscribing, private when delivering: refused by policy,
    dead at once (no connection is attempted, so nothing says whether a port is open)."""
    names = Names({"rebind.partner.test": [PUBLIC]})
    data = builders.decision_data(referrals=[IDVA])
    incident_id = data["incident_id"]
    app = notify_app(
        kafka_bootstrap, database_url, group, resolver=names, webhook_allow_loopback=False
    )
    async with running(app) as client:
        await subscribe(client, "idva", "https://rebind.partner.test/hook")
        names.table["rebind.partner.test"] = ["10.0.0.9"]  # the name now points inside
        await publish(kafka_bootstrap, data)
        await eventually(lambda: _in_state(client, "idva", incident_id, "dead"))
        record = await _record(client, "idva", incident_id)
        assert record is not None
        rows = await attempt_rows(app, record["referral_id"])
    assert [(r.verdict, r.http_status) for r in rows] == [("dead", None)]
    assert rows[0].error.startswith("refused by policy")


DISGUISED_LOOPBACK = [
    "http://2130706433:8001/x",
    "http://0x7f000001:8001/x",
    "http://127.1:8001/x",
    "http://[::ffff:127.0.0.1]:8001/x",
    "http://0177.0.0.1:8001/x",
    "http://localhost:8001/x",
    "http://hook.partner.test:8001/x",  # a name, resolving (below) to 127.0.0.1
    "http://127.0.0.1.:8001/x",
    "https://localhost/x",
]


@pytest.mark.parametrize("url", DISGUISED_LOOPBACK)
async def test_development_allows_only_the_literal_127_0_0_1(
    kafka_bootstrap: str, sqlite_url: str, group: str, url: str
) -> None:
    """Contract section 5: where loopback receivers are allowed (`make run`), only as the
    literal `127.0.0.1`; every other spelling, and any name, is 422. The test's resolver
    answers each as getaddrinfo would (127.0.0.1), so the spelling alone refuses it."""
    spellings = ("2130706433", "0x7f000001", "127.1", "0177.0.0.1", "localhost")
    names = Names(
        {
            **{name: ["127.0.0.1"] for name in spellings},
            "hook.partner.test": ["127.0.0.1"],
            "127.0.0.1.": ["127.0.0.1"],
        }
    )
    app = notify_app(
        kafka_bootstrap, sqlite_url, group, resolver=names, webhook_allow_loopback=True
    )
    write = bearer("subscriptions:write:idva")
    async with running(app) as client:
        answer = await client.put(
            "/v1/subscriptions/idva", json={"webhook_url": url, "secret": "s"}, headers=write
        )
        literal = await client.put(
            "/v1/subscriptions/idva",
            json={"webhook_url": "http://127.0.0.1:8001/x", "secret": "s"},
            headers=write,
        )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"] == ["body", "webhook_url"]
    assert literal.status_code == 200  # the one spelling allowed, on the same app


async def test_no_raw_webhook_url_is_recorded_in_spans(
    kafka_bootstrap: str, sqlite_url: str, group: str
) -> None:
    data = builders.decision_data(referrals=[VICTIM_SUPPORT])
    incident_id = data["incident_id"]
    spans = InMemorySpanExporter()
    app = notify_app(kafka_bootstrap, sqlite_url, group, exporters=[spans])
    async with Receiver() as receiver, running(app) as client:
        secret_url = receiver.url.replace("http://", "http://zqxuser:pa55word@") + "?api_key=K3Y"
        await subscribe(client, "victim-support", secret_url)
        await publish(kafka_bootstrap, data)
        await eventually(lambda: _in_state(client, "victim-support", incident_id, "delivered"))
    recorded = " ".join(
        f"{span.name} {dict(span.attributes or {})}" for span in spans.get_finished_spans()
    )
    assert "/hook" in recorded  # the client span is there, redacted
    for secret in ("K3Y", "api_key", "pa55word", "zqxuser"):
        assert secret not in recorded
