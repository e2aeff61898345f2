"""CQC polling state: each sync run (window, counts, errors), the locations whose CQC
answer could not be read, and the market benchmark."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from app.models.base import instant, json_field


class CqcSyncRun(SQLModel, table=True):
    """One run of the changes-driven sync (or a single location fetch)."""

    __tablename__ = "cqc_sync_runs"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20, default="changes")  # changes | location
    status: str = Field(max_length=20, default="running", index=True)  # running|success|failed
    started_at: datetime = instant(index=True)
    finished_at: datetime | None = instant(nullable=True)
    window_start: datetime | None = instant(nullable=True)
    window_end: datetime | None = instant(nullable=True)
    requests: int = 0
    change_pages: int = 0
    changes_seen: int = 0
    locations_fetched: int = 0
    locations_updated: int = 0
    not_found: list[str] = json_field(list)
    unreadable: list[str] = json_field(list)  # CQC ids whose answer could not be read
    error: str | None = Field(default=None, max_length=1000)


class CqcUnreadableLocation(SQLModel, table=True):
    """A tracked location whose latest CQC answer could not be read, or contradicted what
    we hold: nothing of it was stored. Every sync fetches it again until one answer reads;
    then the row goes."""

    __tablename__ = "cqc_unreadable_locations"

    location_id: int = Field(foreign_key="locations.id", primary_key=True)
    cqc_location_id: str = Field(max_length=20)
    failures: int = 1
    first_failed_at: datetime = instant()
    last_failed_at: datetime = instant()
    last_error: str = Field(max_length=300)


class CqcBenchmark(SQLModel, table=True):
    """The national and regional distribution of current homecare ratings, built page by
    page so an interrupted run resumes where it stopped."""

    __tablename__ = "cqc_benchmarks"

    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(max_length=20, default="running", index=True)  # running|complete|failed
    started_at: datetime = instant()
    finished_at: datetime | None = instant(nullable=True)
    next_page: int = 1
    total_pages: int | None = None
    locations_seen: int = 0
    requests: int = 0
    # {"national": {rating: count}, "regions": {region: {rating: count}}}
    distribution: dict[str, Any] = json_field()
    error: str | None = Field(default=None, max_length=1000)
