"""The records page (contract sections 11 and 12) against a stand-in of the records
service shaped as the contract says (records is being built on another branch; see
records_stand_in.py): a person searched by id, or by names and date of birth, in a POST
with the CSRF token; the entries in time order, a page at a time; the form's mistakes
shown before anything is asked of records."""

from __future__ import annotations

import re
from typing import Any

import pytest

import console.app
from mash_tools.testing import free_port, running
from tests.e2e.console_kit import served
from tests.integration.console.kit import console_settings, signed_in
from tests.integration.console.records_stand_in import records_stand_in

pytestmark = pytest.mark.kafka


def csrf(html: str) -> str:
    return html.split('name="csrf_token" value="')[1].split('"')[0]


def entries(html: str) -> list[str]:
    return [n[-1] for n in re.findall(r'data-entry-id="([^"]+)"', html)]


@pytest.fixture
async def setup(kafka_bootstrap: str, sqlite_url: str, group: str) -> Any:
    bodies: list[dict[str, Any]] = []
    port = free_port()
    settings = console_settings(
        kafka_bootstrap, sqlite_url, group, records_url=f"http://127.0.0.1:{port}", page_size=3
    )
    app = console.app.create_app(settings)
    async with served(records_stand_in(bodies), port), running(app) as client:
        yield client, bodies


async def test_a_person_by_id_in_time_order_a_page_at_a_time(setup: Any) -> None:
    client, bodies = setup
    await signed_in(client, "dpo", "records:read")
    form = await client.get("/records")
    assert form.status_code == 200
    token = csrf(form.text)
    first = await client.post("/records", data={"csrf_token": token, "person_id": " N1 "})
    assert first.status_code == 200, first.text
    assert entries(first.text) == ["0", "1", "2"]
    assert "Collected" in first.text
    assert "3 entries on this page, oldest first" in first.text
    after = re.findall(r'name="after" value="([^"]+)"', first.text)
    assert len(after) == 1
    second = await client.post(
        "/records", data={"csrf_token": token, "person_id": "N1", "after": after[0]}
    )
    assert entries(second.text) == ["3", "4"]
    assert 'id="next-page"' not in second.text
    assert "First page" in second.text
    assert "The IDVA service" in second.text  # the disclosure's recipient
    assert bodies == [{"person_id": "N1"}, {"person_id": "N1"}]


async def test_a_person_by_names_and_date_of_birth(setup: Any) -> None:
    client, bodies = setup
    await signed_in(client, "dpo", "records:read")
    token = csrf((await client.get("/records")).text)
    fields = {"given_name": "Alex", "family_name": "Example"}
    birth = {"date_of_birth-day": "27", "date_of_birth-month": "3", "date_of_birth-year": "1990"}
    found = await client.post("/records", data={"csrf_token": token, **fields, **birth})
    assert found.status_code == 200
    assert entries(found.text) == ["0", "1", "2"]
    assert bodies == [{**fields, "date_of_birth": "1990-03-27"}]
    # the names go to records in the body, never into an address of the console's
    assert not re.search(r'href="[^"]*(Alex|Example)', found.text)
    none = await client.post("/records", data={"csrf_token": token, "person_id": "N404"})
    assert entries(none.text) == []
    assert "No service has recorded processing this person" in none.text


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({}, "Enter a person id, or names and a date of birth."),
        ({"given_name": "Alex"}, "Enter the family name."),
        ({"given_name": "A", "family_name": "B"}, "Enter a real date of birth"),
        (
            {
                "given_name": "A",
                "family_name": "B",
                "date_of_birth-day": "31",
                "date_of_birth-month": "2",
                "date_of_birth-year": "1990",
            },
            "Enter a real date of birth",
        ),
        ({"person_id": "N1\x1b[31m"}, "without control characters"),
    ],
)
async def test_mistakes_are_shown_before_records_is_asked(
    setup: Any, form: dict[str, str], message: str
) -> None:
    client, bodies = setup
    await signed_in(client, "dpo", "records:read")
    token = csrf((await client.get("/records")).text)
    answer = await client.post("/records", data={"csrf_token": token, **form})
    assert answer.status_code == 400
    assert "There is a problem" in answer.text
    assert message in answer.text
    assert bodies == []


async def test_the_page_needs_records_read_and_the_forms_token(setup: Any) -> None:
    client, bodies = setup
    await signed_in(client, "coordinator", "marac:read")
    assert (await client.get("/records")).status_code == 403
    token = csrf((await client.get("/")).text)
    refused = await client.post("/records", data={"csrf_token": token, "person_id": "N1"})
    assert refused.status_code == 403
    client.cookies.clear()
    await signed_in(client, "dpo", "records:read")
    forged = await client.post("/records", data={"csrf_token": "x" * 43, "person_id": "N1"})
    assert forged.status_code == 403
    assert bodies == []
