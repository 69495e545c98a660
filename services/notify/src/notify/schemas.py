"""Notify's API models: subscriptions (referral records are `shared.schemas.ReferralCreated`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StringConstraints

from shared.text import checked


class Subscription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    webhook_url: HttpUrl = Field(
        max_length=2048,
        description="Where each new referral is POSTed (http or https).",
        examples=["https://csc.example.org/mash/referrals"],
    )
    secret: Annotated[
        str, StringConstraints(strict=True, min_length=1, max_length=256), checked()
    ] = Field(description="The key of the HMAC-SHA256 in `X-Mash-Signature`. Never shown again.")


class Subscribed(BaseModel):
    agency: str
    webhook_url: str
