"""Triage's API models: the CRU's re-grade and its answer (decisions are
`shared.schemas.TriageDecided`)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.schemas.v1 import RiskLevel
from shared.text import checked

Text = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=2000),
    checked(multiline=True, visible=True),
]

Author = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=200),
    checked(visible=True),
]


class RegradeRequest(BaseModel):
    """The central referral unit's re-grade. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    risk_level: RiskLevel = Field(examples=["high"])
    reason: Text = Field(examples=["Escalating threats reported by the IDVA."])
    by: Author = Field(examples=["DS 4321, CRU"])


class RegradeAccepted(BaseModel):
    incident_id: UUID
    regrade_id: UUID
    decision_id: UUID = Field(description="The decision the re-grade made")
    status: Literal["accepted"] = "accepted"
