"""The scoring policy: domain.md's default RFG tool as versioned data, with its owner.

Project Foundation has the tool managed by a partner agency, "to eliminate any police
bias": the agency's name travels with every score (`policy_owner`), as does the
`version`. Change any value, change the version.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.schemas.v1 import AbuseType, RiskLevel


class RecencyBand(BaseModel):
    """`points` when the latest incident is at most `days` old."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: int = Field(ge=0)
    points: int = Field(ge=0)


DEFAULT_BANDS = (
    RecencyBand(days=30, points=5),
    RecencyBand(days=90, points=4),
    RecencyBand(days=180, points=3),
    RecencyBand(days=365, points=2),
)
LEVEL_POINTS: dict[RiskLevel, int] = {"standard": 1, "medium": 2, "high": 3}
GRAVE_ABUSE: tuple[AbuseType, ...] = ("sexual", "honour_based", "forced_marriage", "fgm")


class Policy(BaseModel):
    """The score's parameters (domain.md's defaults), its version and its owner."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(default="rfg-default-1", min_length=1, max_length=64)
    owner: str = Field(
        default="Partner agency (default policy)",
        min_length=1,
        max_length=200,
        description="The partner agency that owns the tool (PERPETRATORS_POLICY__OWNER).",
    )
    window_months: int = Field(default=24, ge=1, le=120)
    recency_bands: tuple[RecencyBand, ...] = DEFAULT_BANDS
    recency_otherwise: int = Field(default=1, ge=0, description="older than every band")
    frequency_cap: int = Field(default=5, ge=1)
    level_points: dict[RiskLevel, int] = Field(default_factory=lambda: dict(LEVEL_POINTS))
    child_present_points: int = Field(default=1, ge=0)
    grave_abuse_types: tuple[AbuseType, ...] = GRAVE_ABUSE
    grave_abuse_points: int = Field(default=1, ge=0)
    gravity_cap: int = Field(default=15, ge=1)
    victims_cap: int = Field(default=3, ge=1)
    victim_weight: int = Field(default=2, ge=0, description="points per victim after the first")
    priority_score: int = Field(default=60, ge=1)
    serial_victims: int = Field(default=2, ge=2, description="a serial perpetrator has this many")

    @model_validator(mode="after")
    def _bands_in_order(self) -> Policy:
        days = [band.days for band in self.recency_bands]
        if days != sorted(set(days)):
            raise ValueError("recency_bands must be in increasing order of days")
        if set(self.level_points) != {"standard", "medium", "high"}:
            raise ValueError("level_points must give points for standard, medium and high")
        return self
