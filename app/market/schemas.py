"""Validated inputs of the market's write path, shared by the JSON API, the pages and
the CSV imports. Rules that need the clock or the database are the services' to check."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from app.inputs import Numeric, RecordDate, Storable, limits
from app.records.schemas import MAX_ID, Input

LocalityName = Storable[Annotated[str, limits(1, 100)]]
Count = Numeric[Annotated[int, Field(ge=0, le=1_000_000)]]
Hours = Numeric[Annotated[float, Field(ge=0, le=1_000_000)]]
ProviderId = Numeric[Annotated[int, Field(ge=1, le=MAX_ID)]]


class LocalityIn(Input):
    name: LocalityName


class LeadIn(Input):
    """Make a provider the locality's lead (Locality Partner) from a date; null ends the
    current lead without a successor."""

    provider_id: ProviderId | None
    from_on: RecordDate


class CapacityIn(Input):
    """A provider's capacity return for a week or a month."""

    period_start: RecordDate
    period_end: RecordDate
    hours_commissioned: Hours
    hours_delivered: Hours
    people_supported: Count
    packages_accepted: Count = 0
    packages_declined: Count = 0
    packages_handed_back: Count = 0
    hours_handed_back: Hours = 0
    staff_vacancies: Count | None = None


class WaitingIn(Input):
    """People in a locality awaiting a package of care on a date, and the weekly hours
    of care they wait for."""

    counted_on: RecordDate
    people_waiting: Count
    hours_waiting: Hours


class KpiIn(Input):
    """A provider's call-monitoring figures for a month (any day of it names the month)."""

    month: RecordDate
    visits_planned: Count
    visits_missed: Count
    visits_late: Count
    calls_logged_in_home: Count
    time_critical_visits: Count | None = None
    time_critical_on_time: Count | None = None
