"""The topics' AsyncAPI 3 document: valid against the official JSON Schema (from the
`@asyncapi/specs` npm package), generated from the event schemas, naming contract
section 7's every topic and event type, and served by every service."""

from __future__ import annotations

import importlib
import json
import subprocess
import tarfile
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from shared import registry
from shared.asyncapi import document
from shared.config import ROOT
from shared.schemas import TriageDecided

SPECS_VERSION = "6.11.1"  # @asyncapi/specs: the AsyncAPI Initiative's own schemas
SECTION_7 = {
    "mash.incidents.v1": {"mash.incident.reported", "mash.risk_assessment.submitted"},
    "mash.triage.decisions.v1": {"mash.triage.decided"},
    "mash.triage.summaries.v1": {"mash.triage.summarised"},
    **{
        f"mash.referrals.{agency}.v1": {"mash.referral.created"}
        for agency in ("childrens-social-care", "idva", "victim-support", "safeguarding-team")
    },
    "mash.referrals.school.v1": {"mash.referral.created"},
    "mash.marac.v1": {
        "mash.marac.case_listed",
        "mash.marac.referral_received",
        "mash.marac.action_agreed",
        "mash.marac.action_completed",
        "mash.marac.case_closed",
    },
    "mash.deadletter.v1": set(),  # carries the original message's type
    "mash.escalations.v1": {"mash.referral.overdue", "mash.marac.action_overdue"},
    "mash.perpetrators.v1": {"mash.perpetrator.prioritised", "mash.perpetrator.released"},
    **{
        f"mash.audit.{service}.v1": {
            f"mash.audit.{op}"
            for op in ("collected", "altered", "consulted", "disclosed", "combined", "erased")
        }
        for service in registry.NAMES
    },
}


@pytest.fixture(scope="module")
def asyncapi_schema() -> dict[str, Any]:
    """schemas/3.0.0.json of the npm package, fetched once into .data/ with npm."""
    folder = ROOT / ".data" / "asyncapi-specs"
    schema = folder / "package" / "schemas" / "3.0.0.json"
    if not schema.exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "pack", f"@asyncapi/specs@{SPECS_VERSION}", "--silent"],
            cwd=folder,
            check=True,
            capture_output=True,
        )
        (tarball,) = folder.glob("asyncapi-specs-*.tgz")
        with tarfile.open(tarball) as archive:
            archive.extract("package/schemas/3.0.0.json", folder, filter="data")
    loaded: dict[str, Any] = json.loads(schema.read_text())
    return loaded


def validator(schema: dict[str, Any]) -> Draft7Validator:
    resources = [(schema["$id"], schema)] + [
        (d["$id"], d) for d in schema["definitions"].values() if isinstance(d, dict) and "$id" in d
    ]
    registry: Registry[Any] = Registry().with_resources(
        (uri, Resource.from_contents(contents, default_specification=DRAFT7))
        for uri, contents in resources
    )
    return Draft7Validator(schema, registry=registry)


def test_the_document_is_valid_asyncapi_3(asyncapi_schema: dict[str, Any]) -> None:
    errors = [e.message[:200] for e in validator(asyncapi_schema).iter_errors(document())]
    assert errors == []
    assert document()["asyncapi"] == "3.0.0"


def test_the_validator_rejects_a_broken_document(asyncapi_schema: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(document()))
    broken["operations"]["publish.mash.marac.v1"]["action"] = "publish"  # AsyncAPI 2 wording
    assert list(validator(asyncapi_schema).iter_errors(broken))


def test_it_names_every_topic_and_event_type_of_the_contract() -> None:
    doc = document()
    messages = doc["components"]["messages"]
    found: dict[str, set[str]] = {}
    for channel in doc["channels"].values():
        types = {
            messages[ref["$ref"].rsplit("/", 1)[1]]["name"] for ref in channel["messages"].values()
        }
        found[channel["address"]] = types - {"mash.deadletter"}
    # besides the contract's topics, only notify's internal outcomes topic (the console's
    # facts), marac's internal referrals for IDVA (notify's alone) and intake's equality
    # monitoring (marac's alone)
    assert found.pop("mash.referral-outcomes.v1") == {
        "mash.referral.acknowledged",
        "mash.referral.delivered",
        "mash.referral.dead",
        "mash.referral.overdue",  # the escalation's fact, for read models (the console)
    }
    assert found.pop("mash.marac.idva-referrals.v1") == {"mash.marac.referral_received"}
    assert found.pop("mash.intake.equality.v1") == {"mash.incident.equality_given"}
    assert found == SECTION_7


def test_marac_referrals_with_and_without_personal_data_keep_their_own_schemas() -> None:
    doc = document()
    messages = doc["components"]["messages"]
    payloads = {
        address: {
            messages[ref["$ref"].rsplit("/", 1)[1]]["payload"]["$ref"]
            for ref in channel["messages"].values()
        }
        for channel in doc["channels"].values()
        if (address := channel["address"]) in ("mash.marac.v1", "mash.marac.idva-referrals.v1")
    }
    assert "#/components/schemas/MaracReferralReceived" in payloads["mash.marac.v1"]
    assert payloads["mash.marac.idva-referrals.v1"] == {"#/components/schemas/MaracReferralForIdva"}


def test_payloads_are_the_event_schemas_themselves() -> None:
    doc = document()
    decided = doc["components"]["messages"]["mash.triage.decided"]
    assert decided["payload"] == {"$ref": "#/components/schemas/TriageDecided"}
    schema = doc["components"]["schemas"]["TriageDecided"]
    assert set(schema["properties"]) == set(TriageDecided.model_fields)
    assert decided["headers"]["properties"]["ce_type"]["const"] == "mash.triage.decided"


@pytest.mark.parametrize("service", ["intake", "triage", "notify", "marac"])
def test_every_service_serves_it(service: str) -> None:
    module = importlib.import_module(f"{service}.app")
    client = TestClient(module.create_app())  # no lifespan: no Kafka or database needed
    answer = client.get("/asyncapi.json")
    assert answer.status_code == 200
    assert answer.json()["channels"].keys() == document()["channels"].keys()


def test_equality_monitoring_travels_on_intake_s_internal_topic_alone() -> None:
    """Issue 21: the incident on `mash.incidents.v1` (and so the decision) has a victim
    without the equality block; only `mash.intake.equality.v1` carries it."""
    schemas = document()["components"]["schemas"]
    carrying = {
        name for name, schema in schemas.items() if "equality" in schema.get("properties", {})
    }
    assert carrying == {"EqualityGiven"}
    assert "Victim" not in schemas  # intake's request body only, never an event's
