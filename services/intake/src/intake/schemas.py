"""Intake's API models: what its endpoints answer (the incident and DASH bodies are the
event schemas of `shared.schemas`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field


class IncidentAccepted(BaseModel):
    incident_id: UUID
    control_room_ref: str = Field(examples=["HC-20261121-0042"])
    status: Literal["accepted"] = "accepted"


class AssessmentAccepted(BaseModel):
    incident_id: UUID
    assessment_id: UUID
    status: Literal["accepted"] = "accepted"


class IncidentStatus(BaseModel):
    incident_id: UUID
    control_room_ref: str
    force: str
    area: str
    status: Literal["accepted", "published"] = Field(
        description="accepted: committed, not yet on Kafka; published: on mash.incidents.v1"
    )
    received_at: datetime
