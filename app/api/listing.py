"""List routes: the query parameters each accepts (one model per list, so every filter is
documented and an unknown one is refused with 400 naming it) and their one answer, a
Page of items with its total, limit and offset."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas import Page
from app.inputs import Day, Instant, Omissible, Storable, drop_null_defaults, limits
from app.models.base import (
    CaseStatus,
    DeliveryStatus,
    MonitoringLevel,
    Rating,
    SafeguardingStatus,
)
from app.records.schemas import MAX_ID

IdFilter = Annotated[int, Field(ge=1, le=MAX_ID)]
Search = Storable[Annotated[str, limits(max_length=200)]]


class ListQuery(BaseModel):
    """Paging, which every list accepts; anything it does not name is refused (400)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=drop_null_defaults)

    limit: int = Field(default=50, ge=1, le=200, description="page size (at most 200)")
    offset: int = Field(default=0, ge=0, le=1_000_000, description="items to skip")


# A query string carries no null: each filter is given or left out (Omissible).


class ProviderFilters(ListQuery):
    officer_id: Omissible[IdFilter] = Field(default=None, description="the contract officer's id")
    locality: Omissible[Search] = Field(
        default=None, description="one of the provider's localities"
    )
    level: Omissible[MonitoringLevel] = Field(default=None, description="current monitoring level")
    rating: Omissible[Rating] = Field(
        default=None, description="worst current CQC rating of its locations"
    )
    name: Omissible[Search] = Field(default=None, description="part of the name, any case")


class RecordFilters(ListQuery):
    since: Omissible[Day] = Field(default=None, description="on or after this date")
    until: Omissible[Day] = Field(default=None, description="on or before this date")


class SafeguardingFilters(RecordFilters):
    status: Omissible[SafeguardingStatus] = None


class CaseFilters(RecordFilters):
    status: Omissible[CaseStatus] = None


class EventFilters(ListQuery):
    provider_id: Omissible[IdFilter] = None
    type: Omissible[Search] = Field(default=None, description="an event type, e.g. visit.recorded")


class DeliveryFilters(ListQuery):
    provider_id: Omissible[IdFilter] = None
    status: Omissible[DeliveryStatus] = None


class AuditFilters(ListQuery):
    user_id: Omissible[IdFilter] = None
    safeguarding_id: Omissible[IdFilter] = None
    provider_id: Omissible[IdFilter] = None
    since: Omissible[Instant] = Field(default=None, description="at or after this instant")
    until: Omissible[Instant] = Field(default=None, description="at or before this instant")


def page(items: Sequence[Any], total: int, query: ListQuery) -> Page[Any]:
    """The answer of every list route."""
    return Page[Any](items=list(items), total=total, limit=query.limit, offset=query.offset)


def page_of_all(items: Sequence[Any], query: ListQuery) -> Page[Any]:
    """A page of a list that is read whole (a provider's few locations, a user's tokens)."""
    return page(items[query.offset : query.offset + query.limit], len(items), query)
