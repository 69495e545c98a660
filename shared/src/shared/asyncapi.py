"""The AsyncAPI 3 document of the hub's topics, generated from the event schemas.

`shared.schemas` is the one source of truth: each message's payload is its pydantic
model's JSON Schema, so the document cannot drift from what the services publish.
Every service serves it at `/asyncapi.json`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel

from shared import topics
from shared.schemas import (
    AuditEntry,
    EqualityGiven,
    IncidentReported,
    MaracCaseListed,
    PerpetratorRecord,
    ReferralCreated,
    ReferralOutcome,
    ReferralOverdue,
    RiskAssessmentSubmitted,
    TriageDecided,
    TriageSummarised,
)
from shared.schemas.marac import (
    ActionOverdue,
    MaracActionEvent,
    MaracCaseClosed,
    MaracReferralForIdva,
    MaracReferralReceived,
)


@dataclass(frozen=True)
class Message:
    ce_type: str
    model: type[BaseModel] | None
    """The data's schema; None when the data is another message's (the dead-letter topic)."""
    summary: str
    key: str = ""
    """Its component's key when another channel's message has the same `ce_type` with
    other data (marac's referral, with and without personal data): else the type."""


@dataclass(frozen=True)
class Channel:
    topic: str
    producer: str
    description: str
    messages: tuple[Message, ...]


_REFERRAL = Message(
    topics.REFERRAL_CREATED,
    ReferralCreated,
    "A referral record, minimised for the agency (domain rules: information sharing).",
)

CHANNELS: tuple[Channel, ...] = (
    Channel(
        topics.INCIDENTS,
        "intake",
        "Incidents accepted from the control room, and DASH assessments completed later.",
        (
            Message(
                topics.INCIDENT_REPORTED,
                IncidentReported,
                "The accepted incident, its victim without equality monitoring.",
            ),
            Message(
                topics.RISK_ASSESSMENT_SUBMITTED,
                RiskAssessmentSubmitted,
                "A DASH completed after the first report, with its incident_id.",
            ),
        ),
    ),
    Channel(
        topics.INTAKE_EQUALITY,
        "intake",
        "Internal (marac's alone; not a partner topic): the equality monitoring given on an "
        "incident's victim, with the incident's id, area and time only, for the MARAC "
        "national dataset return; never on the incidents topic, so triage, notify and "
        "perpetrators never receive it.",
        (
            Message(
                topics.EQUALITY_GIVEN,
                EqualityGiven,
                "The equality monitoring given on an incident's victim.",
            ),
        ),
    ),
    Channel(
        topics.DECISIONS,
        "triage",
        "Triage's decisions: risk level, flags, MARAC eligibility, referrals; with the incident.",
        (Message(topics.TRIAGE_DECIDED, TriageDecided, "A triage decision."),),
    ),
    Channel(
        topics.SUMMARIES,
        "triage",
        "Triage's decisions without personal data (ids, area, dates, risk, flags, counts, "
        "MARAC criteria, referrals): for the console and other read models.",
        (Message(topics.TRIAGE_SUMMARISED, TriageSummarised, "A triage decision, summarised."),),
    ),
    *(
        Channel(
            topics.referrals_topic(agency),
            "notify",
            f"Referrals for {agency}, holding only what this agency may see.",
            (_REFERRAL,),
        )
        for agency in topics.AGENCIES
    ),
    Channel(
        topics.MARAC,
        "marac",
        "Cases listed on a MARAC meeting, as on the meeting list, with the meeting's date; "
        "referrals from agencies, actions agreed and completed, cases closed (ids and facts "
        "only, never a name or free text).",
        (
            Message(topics.MARAC_CASE_LISTED, MaracCaseListed, "A case listed on a meeting."),
            Message(
                topics.MARAC_REFERRAL_RECEIVED,
                MaracReferralReceived,
                "A MARAC referral from an agency (the IDVA service is referred too).",
            ),
            Message(topics.MARAC_ACTION_AGREED, MaracActionEvent, "An action agreed."),
            Message(topics.MARAC_ACTION_COMPLETED, MaracActionEvent, "An action completed."),
            Message(topics.MARAC_CASE_CLOSED, MaracCaseClosed, "A case discussed and closed."),
        ),
    ),
    Channel(
        topics.DEADLETTER,
        "any service",
        "Messages that could not be processed, unchanged, with `mash_dlq_error`, "
        "`mash_dlq_origin_topic`, `mash_dlq_origin_partition` and `mash_dlq_origin_offset` "
        "headers. The `ce_type` is the original message's.",
        (Message("mash.deadletter", None, "The original message, as it was."),),
    ),
    Channel(
        topics.ESCALATIONS,
        "notify, marac",
        "Referrals not acknowledged by their due time and MARAC actions not done by theirs, "
        "each escalated once.",
        (
            Message(topics.REFERRAL_OVERDUE, ReferralOverdue, "A referral is overdue."),
            Message(topics.MARAC_ACTION_OVERDUE, ActionOverdue, "A MARAC action is overdue."),
        ),
    ),
    Channel(
        topics.PERPETRATORS,
        "perpetrators",
        "Priority perpetrators for neighbourhood high-harm teams.",
        (
            Message(
                topics.PERPETRATOR_PRIORITISED,
                PerpetratorRecord,
                "A perpetrator entered the priority cohort (or its score changed).",
            ),
            Message(
                topics.PERPETRATOR_RELEASED,
                PerpetratorRecord,
                "A perpetrator left the priority cohort.",
            ),
        ),
    ),
    Channel(
        topics.REFERRAL_OUTCOMES,
        "notify",
        "The console's facts (contract section 7): acknowledgements, webhook delivery "
        "outcomes and clocks run out, ids and times only.",
        (
            Message(topics.REFERRAL_ACKNOWLEDGED, ReferralOutcome, "An agency acknowledged."),
            Message(topics.REFERRAL_DELIVERED, ReferralOutcome, "A webhook delivery got a 2xx."),
            Message(topics.REFERRAL_DEAD, ReferralOutcome, "A webhook delivery was given up."),
            Message(
                topics.REFERRAL_OVERDUE,
                ReferralOutcome,
                "Not acknowledged by due_by (the escalation's fact, ids and times only).",
            ),
        ),
    ),
    Channel(
        topics.MARAC_IDVA_REFERRALS,
        "marac",
        "Internal (notify's alone; not a partner topic): each MARAC referral not made by the "
        "IDVA service, with the personal data IDVA's referral record is made from (never the "
        "equality monitoring); notify refers the IDVA service.",
        (
            Message(
                topics.MARAC_REFERRAL_RECEIVED,
                MaracReferralForIdva,
                "A MARAC referral the IDVA service is to be referred too.",
                key="mash.marac.referral_received.for_idva",
            ),
        ),
    ),
    *(
        Channel(
            topics.audit_topic(service),
            service,
            f"{service}'s records of processing (section 12): who did what to which records, "
            "when, and to whom they went; ids and pseudonymous keys, never the records. "
            f"Written only by {service}; read by records.",
            tuple(
                Message(topics.audit_type(op), AuditEntry, f"Personal data {op}.")
                for op in topics.AUDIT_OPERATIONS
            ),
        )
        for service in topics.AUDITED_SERVICES
    ),
)


def _ident(text: str) -> str:
    """A component key (AsyncAPI allows letters, digits, `.`, `_` and `-`)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def _headers(ce_type: str | None) -> dict[str, Any]:
    text: dict[str, Any] = {"type": "string"}
    type_header: dict[str, Any] = {"type": "string", "const": ce_type} if ce_type else dict(text)
    return {
        "type": "object",
        "description": "CloudEvents 1.0, Kafka protocol binding, binary mode; W3C trace context.",
        "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "content-type"],
        "properties": {
            "ce_specversion": {"type": "string", "const": "1.0"},
            "ce_id": {**text, "description": "The event's unique id (consumers dedupe on it)"},
            "ce_source": {**text, "description": "The producing service, e.g. /mash/intake"},
            "ce_type": {**type_header, "description": "The event type"},
            "ce_time": {**text, "format": "date-time"},
            "ce_subject": {**text, "description": "The incident id"},
            "content-type": {"type": "string", "const": "application/json"},
            "traceparent": {**text, "description": "W3C trace context of the incident's trace"},
            "tracestate": text,
        },
    }


def _payload_schema(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        schemas.setdefault(name, sub)
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


@cache
def document(bootstrap: str = "127.0.0.1:9092") -> dict[str, Any]:
    """The AsyncAPI 3.0 document for every topic of contract section 7."""
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for channel in CHANNELS:
        channel_id = _ident(channel.topic)
        refs: dict[str, Any] = {}
        for message in channel.messages:
            message_id = _ident(message.key or message.ce_type)
            if message_id not in messages:
                payload = (
                    _payload_schema(message.model, schemas)
                    if message.model is not None
                    else {"description": "The original message's data, unchanged"}
                )
                messages[message_id] = {
                    "name": message.ce_type,
                    "title": message.ce_type,
                    "summary": message.summary,
                    "contentType": "application/json",
                    "headers": _headers(message.ce_type if message.model else None),
                    "payload": payload,
                }
            refs[message_id] = {"$ref": f"#/components/messages/{message_id}"}
        channels[channel_id] = {
            "address": channel.topic,
            "title": channel.topic,
            "description": f"{channel.description} Produced by {channel.producer}. "
            "The Kafka key is the victim's pseudonymous key (one victim's events keep "
            "their order).",
            "servers": [{"$ref": "#/servers/hub"}],
            "messages": refs,
        }
        operations[f"publish.{channel_id}"] = {
            "action": "send",
            "title": f"{channel.producer} publishes on {channel.topic}",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{m}"} for m in refs],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "MASH topics",
            "version": "1.0.0",
            "description": "The Kafka topics of the Multi-Agency Safeguarding Hub. Partners "
            "read their own topic only, with their own credentials (SASL_SSL, SCRAM-SHA-512; "
            "`mash kafka-credentials PRINCIPAL`).",
        },
        "defaultContentType": "application/json",
        "servers": {
            "hub": {
                "host": bootstrap,
                "protocol": "kafka-secure",
                "description": "The hub's Kafka broker (SASL_SSL with the stack's own CA).",
                "security": [{"$ref": "#/components/securitySchemes/scram"}],
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "securitySchemes": {
                "scram": {
                    "type": "scramSha512",
                    "description": "One principal per service and partner agency.",
                }
            },
        },
    }
