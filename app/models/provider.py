"""Providers: the contract, the officer who owns it, and the monitoring state rules move."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, String
from sqlmodel import Field, SQLModel

from app.models.base import ContractType, MonitoringLevel, PartnerRole, choice, instant, json_field


class Provider(SQLModel, table=True):
    __tablename__ = "providers"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, index=True)
    cqc_provider_id: str | None = Field(default=None, max_length=20, index=True)
    contract_type: ContractType = choice(ContractType)
    partner_role: PartnerRole | None = choice(PartnerRole, None, nullable=True)
    weekly_hours: float = Field(default=0)
    people_supported: int | None = None
    contract_officer_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    monitoring_level: MonitoringLevel = choice(MonitoringLevel, MonitoringLevel.routine, index=True)
    placements_suspended: bool = False
    next_visit_due_on: date | None = Field(default=None, index=True)
    last_visit_on: date | None = None
    # Firings a manager overrode ({rule id: evidence}): the same evidence does not
    # re-escalate; new evidence (a changed count or rating) does.
    acknowledged_firings: dict[str, Any] = json_field()
    created_at: datetime = instant()
    updated_at: datetime = instant()


class ProviderLocality(SQLModel, table=True):
    """The council localities a provider serves (a provider may serve several), by the
    locality's name: its natural key, which lists, filters and exports show, and which a
    rename carries here (ON UPDATE CASCADE)."""

    __tablename__ = "provider_localities"

    provider_id: int = Field(foreign_key="providers.id", primary_key=True)
    locality: str = Field(
        sa_column=Column(
            String(100),
            ForeignKey("localities.name", onupdate="CASCADE"),
            primary_key=True,
            index=True,
        )
    )
