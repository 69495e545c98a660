"""Marac's settings (prefix `MARAC_`): the research period, the repeat window and the
standing schedule of each area's meetings."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import SettingsConfigDict

from shared.config import ENV_FILE, ServiceSettings
from shared.schemas.v1 import Slug

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
Capacity = Annotated[int, Field(ge=1, le=200)]


class ScheduledMeetings(BaseModel):
    """One area's standing MARAC: `weekday` every `every_weeks` weeks, counted from the
    week of `anchor`, with room for `capacity` cases."""

    model_config = ConfigDict(extra="forbid")

    area: Slug
    weekday: Weekday
    every_weeks: int = Field(default=2, ge=1, le=8)
    capacity: Capacity = 16
    anchor: date = date(2026, 1, 5)


DEFAULT_SCHEDULE = [
    ScheduledMeetings(area="southampton", weekday="tuesday"),
    ScheduledMeetings(area="portsmouth", weekday="thursday"),
]


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MARAC_", env_file=ENV_FILE, extra="ignore")

    port: int = 8004
    research_days: int = Field(default=5, ge=0, le=60)
    """Days agencies need to research a case: the earliest meeting is this long after
    the decision."""
    repeat_days: int = Field(default=365, ge=1)
    """A victim listed at a MARAC within this many days before is a `repeat`."""
    schedule: list[ScheduledMeetings] = Field(default_factory=lambda: list(DEFAULT_SCHEDULE))
    """The standing meetings, as JSON in `MARAC_SCHEDULE` (`[]` for none)."""
    schedule_weeks_ahead: int = Field(default=8, ge=0, le=52)
    """How far ahead the schedule's meetings are created (at start-up, then daily)."""
    schedule_interval_seconds: float = Field(default=86400, gt=0)
    action_clock_interval_seconds: float = Field(default=300, gt=0)
    """How often overdue actions are looked for (and escalated once)."""
    timezone: str = "Europe/London"
    """Where the meetings are held: decides what 'today' and a decision's date are."""

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value
