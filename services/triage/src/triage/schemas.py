"""Triage's API models: the CRU's re-grade, policy trials and the policy in force, with
their answers (decisions are `shared.schemas.TriageDecided`)."""

from __future__ import annotations

from copy import copy
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    create_model,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError, PydanticUndefined

from shared.schemas.v1 import RiskLevel, Slug
from shared.text import checked
from triage.domain.policy import TriagePolicy

TrialStatus = Literal["running", "done", "failed"]


def _required(info: FieldInfo) -> FieldInfo:
    """The field as the policy declares it (its constraints), without its default."""
    needed = copy(info)
    needed.default = PydanticUndefined
    needed.default_factory = None
    return needed


# A trial names every value of its policy (contract section 4: "a whole policy"): the
# same fields and checks as `TriagePolicy`, none of them defaulted.
WholePolicy: type[TriagePolicy] = create_model(
    "WholePolicy",
    __base__=TriagePolicy,
    **{
        name: (info.annotation, _required(info)) for name, info in TriagePolicy.model_fields.items()
    },  # type: ignore[call-overload]
)

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


class TrialRequest(BaseModel):
    """A policy trial: a whole policy (with a new version), the period, maybe an area."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    policy: WholePolicy
    date_from: date = Field(alias="from", examples=["2025-12-01"])
    date_to: date = Field(alias="to", examples=["2026-11-30"])
    area: Slug | None = Field(default=None, examples=["southampton"])

    @field_validator("date_to")
    @classmethod
    def _period_in_order(cls, date_to: date, info: ValidationInfo) -> date:
        date_from = info.data.get("date_from")
        if date_from is not None and date_from > date_to:
            raise PydanticCustomError("period", "`to` must not be before `from`")
        return date_to


class TrialAccepted(BaseModel):
    trial_id: UUID


class TrialView(BaseModel):
    """A trial's progress and, so far, its summary (contract section 4)."""

    trial_id: UUID
    status: TrialStatus
    policy_version: str
    done: int
    total: int
    summary: dict[str, Any]


class PolicyChange(BaseModel):
    version: str
    applied_at: datetime
    applied_by: str


class PolicyView(BaseModel):
    """The policy in force and every policy applied before it, oldest first."""

    current: TriagePolicy
    history: list[PolicyChange]


class ApplyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    redecide_since: date = Field(examples=["2026-11-01"])


class ApplyAccepted(BaseModel):
    trial_id: UUID
    policy_version: str
    status: Literal["accepted"] = "accepted"
