"""The market a council keeps: its localities and who leads each, providers' capacity
returns, localities' waiting lists and providers' monthly call-monitoring KPIs."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.models.base import choice, instant


class KpiBand(StrEnum):
    green = "green"
    amber = "amber"
    red = "red"


class Locality(SQLModel, table=True):
    """One of the council's localities (districts), by a unique name that providers'
    locality lists refer to."""

    __tablename__ = "localities"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    created_at: datetime = instant()


class LocalityLead(SQLModel, table=True):
    """Who was a locality's lead provider (its Locality Partner), from when until when.
    At most one row per locality is open (no end date): the lead now."""

    __tablename__ = "locality_leads"
    __table_args__ = (
        Index(
            "uq_locality_leads_one_open",
            "locality_id",
            unique=True,
            sqlite_where=text("ended_on IS NULL"),
            postgresql_where=text("ended_on IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    locality_id: int = Field(foreign_key="localities.id", index=True)
    provider_id: int = Field(foreign_key="providers.id", index=True)
    started_on: date
    ended_on: date | None = None
    created_at: datetime = instant()


class CapacityReturn(SQLModel, table=True):
    """A provider's weekly or monthly capacity return for the period it covers."""

    __tablename__ = "capacity_returns"
    __table_args__ = (UniqueConstraint("provider_id", "period_start"),)

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="providers.id", index=True)
    period_start: date
    period_end: date = Field(index=True)
    hours_commissioned: float
    hours_delivered: float
    people_supported: int
    packages_accepted: int = 0
    packages_declined: int = 0
    packages_handed_back: int = 0
    hours_handed_back: float = 0  # the weekly hours of care the packages handed back held
    staff_vacancies: int | None = None
    recorded_at: datetime = instant()


class WaitingList(SQLModel, table=True):
    """How many people in a locality await a package of care on a date, and the hours a
    week of care they wait for."""

    __tablename__ = "waiting_lists"
    __table_args__ = (UniqueConstraint("locality_id", "counted_on"),)

    id: int | None = Field(default=None, primary_key=True)
    locality_id: int = Field(foreign_key="localities.id", index=True)
    counted_on: date
    people_waiting: int
    hours_waiting: float
    recorded_at: datetime = instant()


class KpiReturn(SQLModel, table=True):
    """A provider's call-monitoring figures for one month, with each measure's share
    and its band under the thresholds in force when it was stored (alerts/kpis.yaml)."""

    __tablename__ = "kpi_returns"
    __table_args__ = (UniqueConstraint("provider_id", "month"),)

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="providers.id", index=True)
    month: date  # the first day of the month the figures cover
    visits_planned: int
    visits_missed: int
    visits_late: int
    time_critical_visits: int | None = None
    time_critical_on_time: int | None = None
    calls_logged_in_home: int
    missed_visits_pct: float
    punctuality_pct: float
    calls_logged_pct: float
    missed_visits_band: KpiBand = choice(KpiBand)
    punctuality_band: KpiBand = choice(KpiBand)
    calls_logged_band: KpiBand = choice(KpiBand)
    recorded_at: datetime = instant()
