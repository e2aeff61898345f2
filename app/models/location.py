"""Contracted CQC locations with their current ratings, and every rating they have had."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Field, SQLModel

from app.models.base import Rating, choice, instant, json_field


class Location(SQLModel, table=True):
    __tablename__ = "locations"

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="providers.id", index=True)
    cqc_location_id: str = Field(max_length=20, unique=True)
    name: str | None = Field(default=None, max_length=200)
    postcode: str | None = Field(default=None, max_length=12)
    registration_status: str | None = Field(default=None, max_length=40)
    predecessor_cqc_location_id: str | None = Field(default=None, max_length=20)
    overall_rating: Rating | None = choice(Rating, None, nullable=True)
    overall_rated_on: date | None = None
    safe_rating: Rating | None = choice(Rating, None, nullable=True)
    effective_rating: Rating | None = choice(Rating, None, nullable=True)
    caring_rating: Rating | None = choice(Rating, None, nullable=True)
    responsive_rating: Rating | None = choice(Rating, None, nullable=True)
    well_led_rating: Rating | None = choice(Rating, None, nullable=True)
    # {"safe": {"rating", "rated_on", "report_url"}, ...} as CQC last published it
    key_questions: dict[str, Any] = json_field()
    report_url: str | None = Field(default=None, max_length=300)
    last_checked_at: datetime | None = instant(nullable=True)
    created_at: datetime = instant()
    # Taken off the contract: kept, with its ratings, so that its history stays readable;
    # no rating of a removed location counts and the sync stops following it.
    removed_at: datetime | None = instant(nullable=True)
    removed_by: int | None = Field(default=None, foreign_key="users.id")


class LocationRating(SQLModel, table=True):
    """One observed rating of a location: from CQC or keyed in by hand."""

    __tablename__ = "location_ratings"

    id: int | None = Field(default=None, primary_key=True)
    location_id: int = Field(foreign_key="locations.id", index=True)
    provider_id: int = Field(foreign_key="providers.id", index=True)
    source: str = Field(max_length=16)
    overall_rating: Rating = choice(Rating)
    overall_rated_on: date | None = None
    previous_overall_rating: Rating | None = choice(Rating, None, nullable=True)
    direction: str = Field(max_length=16)  # first | inherited | up | down | same
    key_questions: dict[str, Any] = json_field()
    recorded_at: datetime = instant(index=True)
