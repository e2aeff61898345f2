"""The intelligence officers record about a provider: visits, safeguardings, complaints,
compliments, financial assurances and whole-service concerns."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.models.base import (
    CaseStatus,
    ComplaintUpheld,
    FinancialRisk,
    SafeguardingOutcome,
    SafeguardingStatus,
    VisitKind,
    VisitOutcome,
    choice,
    instant,
)


class Visit(SQLModel, table=True):
    """A contract meeting or monitoring visit."""

    __tablename__ = "visits"
    # The latest visit of a provider (signals, the dashboard) is one index lookup.
    __table_args__ = (Index("ix_visits_provider_id_visited_on", "provider_id", "visited_on"),)

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="providers.id", index=True)
    visited_on: date = Field(index=True)
    kind: VisitKind = choice(VisitKind)
    officer_id: int | None = Field(default=None, foreign_key="users.id")
    purpose: str = Field(max_length=500)
    outcome: VisitOutcome = choice(VisitOutcome)
    notes: str = Field(default="", max_length=10000)
    follow_up_actions: str = Field(default="", max_length=5000)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = instant()


class Safeguarding(SQLModel, table=True):
    """A safeguarding concern or Section 42 enquiry; never the names of people supported."""

    __tablename__ = "safeguardings"

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="providers.id", index=True)
    reference: str = Field(max_length=50)
    raised_on: date = Field(index=True)
    category: str = Field(max_length=60)
    summary: str = Field(default="", max_length=5000)
    status: SafeguardingStatus = choice(SafeguardingStatus, SafeguardingStatus.open)
    outcome: SafeguardingOutcome | None = choice(SafeguardingOutcome, None, nullable=True)
    whole_service: bool = False
    closed_on: date | None = None
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = instant()
    updated_at: datetime = instant()


class Complaint(SQLModel, table=True):
    __tablename__ = "complaints"

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="providers.id", index=True)
    received_on: date = Field(index=True)
    subject: str = Field(max_length=500)
    status: CaseStatus = choice(CaseStatus, CaseStatus.open)
    upheld: ComplaintUpheld | None = choice(ComplaintUpheld, None, nullable=True)
    closed_on: date | None = None
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = instant()
    updated_at: datetime = instant()


class Compliment(SQLModel, table=True):
    __tablename__ = "compliments"

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="providers.id", index=True)
    received_on: date = Field(index=True)
    summary: str = Field(max_length=2000)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = instant()


class FinancialAssurance(SQLModel, table=True):
    __tablename__ = "financial_assurances"
    __table_args__ = (
        Index("ix_financial_assurances_provider_id_assessed_on", "provider_id", "assessed_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="providers.id", index=True)
    assessed_on: date = Field(index=True)
    risk: FinancialRisk = choice(FinancialRisk)
    credit_check_passed: bool | None = None
    accounts_filed_on_time: bool | None = None
    insurance_expires_on: date | None = None
    next_review_on: date | None = None
    notes: str = Field(default="", max_length=5000)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = instant()


class Concern(SQLModel, table=True):
    """A concern about the provider, possibly about the whole service."""

    __tablename__ = "concerns"

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="providers.id", index=True)
    raised_on: date = Field(index=True)
    raised_by: str = Field(default="", max_length=200)
    description: str = Field(max_length=5000)
    whole_service: bool = False
    status: CaseStatus = choice(CaseStatus, CaseStatus.open)
    closed_on: date | None = None
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = instant()
    updated_at: datetime = instant()
