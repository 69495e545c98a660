"""The triage policy: thresholds, windows, dip-sample share and routing, as versioned data.

Every area's MASH agrees its own protocol, so nothing here is hard-coded in the rules:
a decision records the `version` of the policy it was made under. Change any value,
change the version.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.schemas.v1 import Agency

Condition = Literal[
    "level:standard",
    "level:medium",
    "level:high",
    "marac_eligible",
    "child_with_school",
    "flag:children_in_household",
    "flag:child_present",
    "flag:pregnancy",
    "flag:repeat_victim",
    "flag:potential_escalation",
    "flag:serial_perpetrator",
    "flag:not_assessed",
    "flag:dip_sample",
]


class Route(BaseModel):
    """One row of the routing table: `agency` gets a referral for `reason` when `when` holds.

    `child_with_school` refers each listed child with a school URN (subject `child:<n>`);
    every other condition refers the victim. The first route that holds for an agency and
    subject gives the referral's reason.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    agency: Agency
    reason: str = Field(min_length=1, max_length=64)
    when: Condition


DEFAULT_ROUTES: tuple[Route, ...] = (
    Route(
        agency="childrens-social-care",
        reason="children_in_household",
        when="flag:children_in_household",
    ),
    Route(agency="school", reason="operation_encompass", when="child_with_school"),
    Route(agency="idva", reason="high_risk", when="level:high"),
    Route(agency="idva", reason="marac", when="marac_eligible"),
    Route(agency="safeguarding-team", reason="high_risk", when="level:high"),
    Route(agency="safeguarding-team", reason="medium_risk", when="level:medium"),
    Route(agency="safeguarding-team", reason="dip_sample", when="flag:dip_sample"),
    Route(agency="victim-support", reason="standard_risk", when="level:standard"),
)


class TriagePolicy(BaseModel):
    """The rules' parameters (domain.md's defaults) and the version that names them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(default="mash-default-1", min_length=1, max_length=64)
    high_score: int = Field(default=14, ge=1, le=24, description="DASH score for `high`")
    medium_score: int = Field(default=10, ge=1, le=24, description="DASH score for `medium`")
    child_age: int = Field(default=18, ge=1, description="a child is under this age")
    repeat_window_days: int = Field(default=365, ge=1)
    escalation_incidents: int = Field(default=3, ge=2, description="this one included")
    serial_window_years: int = Field(default=3, ge=1)
    serial_victims: int = Field(default=2, ge=2, description="this victim included")
    marac_window_days: int = Field(default=365, ge=1)
    dip_sample_share: float = Field(default=0.10, ge=0, le=1)
    routes: tuple[Route, ...] = DEFAULT_ROUTES

    @model_validator(mode="after")
    def _bands_in_order(self) -> TriagePolicy:
        if self.medium_score > self.high_score:
            raise ValueError("medium_score must not exceed high_score")
        return self


DEFAULT_POLICY = TriagePolicy()
