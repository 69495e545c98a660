"""Property: no malformed or hostile body ever gets a 5xx, or leaves a row or event behind."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

import intake.app
import intake.config
from intake import store
from mash_tools import testing
from tests.builders import dash_body, incident_body, settings_for

pytestmark = pytest.mark.kafka
WRITE = testing.bearer("incidents:write")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
# never None: null is a valid value for the optional fields
not_a_string = st.booleans() | st.integers() | st.lists(st.integers(), max_size=2)
hostile_text = st.sampled_from(
    [
        "\x00",
        "a\x00b",
        "\ud800",
        "x" * 5000,
        "' OR 1=1 --",
        "<script>",
        "%00",
        "../../etc",
        "\u202e",
        "9" * 400,
    ]
)
# hostile text that a name may still legitimately hold (e.g. "' OR 1=1 --") is not here
bad_names = st.sampled_from(["\x00", "a\x00b", "\ud800", "x" * 101, "", "   "])
NAMES = [
    ("victim", "given_name"),
    ("suspect", "family_name"),
    ("children", 0, "given_name"),
    ("dash", "completed_by"),
]
REQUIRED = [
    ("control_room_ref",),
    ("force",),
    ("area",),
    ("reported_at",),
    ("relationship",),
    ("victim",),
    ("victim", "given_name"),
    ("victim", "family_name"),
]
PATTERNED = [
    ("control_room_ref",),
    ("force",),
    ("area",),
    ("reported_at",),
    ("relationship",),
    ("victim", "date_of_birth"),
    ("victim", "person_id"),
    ("children", 0, "school_urn"),
    ("dash", "checklist"),
    ("dash", "professional_judgement"),
    ("abuse_types", 0),
]
STRINGS = [
    *PATTERNED,
    ("victim", "given_name"),
    ("suspect", "family_name"),
    ("notes",),
    ("dash", "completed_by"),
]


def valid() -> dict[str, Any]:
    body = incident_body("HC-PROP-1")
    body["children"] = [{"given_name": "Jo", "family_name": "Kid", "school_urn": "123456"}]
    body["dash"] = dash_body(3, "medium")
    body["notes"] = "notes"
    return body


def put(body: dict[str, Any], path: tuple[Any, ...], value: Any, delete: bool = False) -> None:
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value


@st.composite
def broken_bodies(draw: st.DrawFn) -> Any:
    """A valid body broken in at least one way that can never be valid."""
    kind = draw(
        st.sampled_from(["missing", "wrong_type", "bad_text", "bad_name", "unknown", "garbage"])
    )
    if kind == "garbage":
        return draw(json_values.filter(lambda v: not isinstance(v, dict) or "victim" not in v))
    body = copy.deepcopy(valid())
    if kind == "missing":
        put(body, draw(st.sampled_from(REQUIRED)), None, delete=True)
    elif kind == "wrong_type":
        put(body, draw(st.sampled_from(STRINGS)), draw(not_a_string))
    elif kind == "bad_text":
        put(body, draw(st.sampled_from(PATTERNED)), draw(hostile_text))
    elif kind == "bad_name":
        put(body, draw(st.sampled_from(NAMES)), draw(bad_names))
    else:
        where = draw(st.sampled_from([(), ("victim",), ("dash",), ("victim", "contact")]))
        target: Any = body
        for key in where:
            target = target.setdefault(key, {})
        target[draw(st.sampled_from(["extra", "is_admin", "__proto__", "q25"]))] = 1
    return body


@pytest.fixture(scope="module")
def client(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('hostile') / 'intake.db'}"
    app = intake.app.create_app(settings_for(intake.config.Settings, kafka_bootstrap, url, "prop"))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def leftovers(test_client: TestClient) -> int:
    async def count() -> int:
        async with test_client.app.state.platform.sessions() as session:  # type: ignore[attr-defined]
            rows = 0
            for table in (store.incidents, store.messages.outbox, store.risk_assessments):
                rows += (
                    await session.execute(select(func.count()).select_from(table))
                ).scalar_one()
            return int(rows)

    assert test_client.portal is not None
    return test_client.portal.call(count)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=broken_bodies())
def test_no_broken_incident_gets_a_5xx_or_leaves_anything_behind(
    client: TestClient, body: Any
) -> None:
    before = leftovers(client)
    answer = client.post(
        "/v1/incidents",
        content=json.dumps(body).encode(),
        headers={**WRITE, "content-type": "application/json"},
    )
    assert answer.status_code in (400, 413, 422), answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert leftovers(client) == before


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=300), dash=json_values)
def test_no_random_bytes_or_dash_gets_a_5xx_or_leaves_anything_behind(
    client: TestClient, raw: bytes, dash: Any
) -> None:
    before = leftovers(client)
    answer = client.post(
        "/v1/incidents", content=raw, headers={**WRITE, "content-type": "application/json"}
    )
    assert answer.status_code in (400, 422), answer.text
    answer = client.post(
        f"/v1/incidents/{'0' * 8}-0000-0000-0000-{'0' * 12}/risk-assessments",
        json=dash,
        headers=WRITE,
    )
    assert answer.status_code in (404, 422), answer.text
    assert leftovers(client) == before


def test_the_valid_body_the_properties_break_is_itself_accepted(client: TestClient) -> None:
    before = leftovers(client)
    answer = client.post("/v1/incidents", json=valid(), headers=WRITE)
    assert answer.status_code == 202, answer.text
    # its incident, its event and its log entry (collected): the counter counts
    assert leftovers(client) == before + 3
