"""The intelligence officers record about a provider: visits (and their follow-up
actions), safeguardings, complaints, compliments, financial assurances and whole-service
concerns, and the history of corrections made to any of them.

Nothing here is ever deleted: a record entered in error keeps its row, marked with when,
by whom and why (`entered_in_error_at`), and no rule counts it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.models.base import (
    CaseStatus,
    ComplaintUpheld,
    FinancialRisk,
    RiskOutcome,
    SafeguardingCategory,
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
    entered_in_error_at: datetime | None = instant(nullable=True)
    entered_in_error_by: int | None = Field(default=None, foreign_key="users.id")
    entered_in_error_reason: str | None = Field(default=None, max_length=1000)


class Safeguarding(SQLModel, table=True):
    """A safeguarding concern or Section 42 enquiry; never the names of people supported."""

    __tablename__ = "safeguardings"
    # The open ones are few among many closed: every count of open safeguardings (the
    # dashboard's tiles and columns, the rules' signals) reads this index, not the table.
    __table_args__ = (
        Index(
            "ix_safeguardings_status_provider_id",
            "status",
            "entered_in_error_at",
            "provider_id",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="providers.id", index=True)
    reference: str = Field(max_length=50)
    raised_on: date = Field(index=True)
    # None only for a safeguarding stored before categories were the Care Act's types
    # whose words matched none of them: `legacy_category` keeps those words.
    category: SafeguardingCategory | None = choice(SafeguardingCategory, None, nullable=True)
    legacy_category: str | None = Field(default=None, max_length=60)
    summary: str = Field(default="", max_length=5000)
    status: SafeguardingStatus = choice(SafeguardingStatus, SafeguardingStatus.open)
    enquiry_started_on: date | None = None  # a Section 42 enquiry
    outcome: SafeguardingOutcome | None = choice(SafeguardingOutcome, None, nullable=True)
    risk_outcome: RiskOutcome | None = choice(RiskOutcome, None, nullable=True)
    whole_service: bool = False
    closed_on: date | None = None
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = instant()
    entered_in_error_at: datetime | None = instant(nullable=True)
    entered_in_error_by: int | None = Field(default=None, foreign_key="users.id")
    entered_in_error_reason: str | None = Field(default=None, max_length=1000)
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
    entered_in_error_at: datetime | None = instant(nullable=True)
    entered_in_error_by: int | None = Field(default=None, foreign_key="users.id")
    entered_in_error_reason: str | None = Field(default=None, max_length=1000)
    updated_at: datetime = instant()


class Compliment(SQLModel, table=True):
    __tablename__ = "compliments"

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="providers.id", index=True)
    received_on: date = Field(index=True)
    summary: str = Field(max_length=2000)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = instant()
    entered_in_error_at: datetime | None = instant(nullable=True)
    entered_in_error_by: int | None = Field(default=None, foreign_key="users.id")
    entered_in_error_reason: str | None = Field(default=None, max_length=1000)


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
    entered_in_error_at: datetime | None = instant(nullable=True)
    entered_in_error_by: int | None = Field(default=None, foreign_key="users.id")
    entered_in_error_reason: str | None = Field(default=None, max_length=1000)


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
    outcome: str = Field(default="", max_length=2000)  # how it was resolved
    closed_on: date | None = None
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = instant()
    entered_in_error_at: datetime | None = instant(nullable=True)
    entered_in_error_by: int | None = Field(default=None, foreign_key="users.id")
    entered_in_error_reason: str | None = Field(default=None, max_length=1000)
    updated_at: datetime = instant()


class VisitAction(SQLModel, table=True):
    """A follow-up action agreed at a visit: what, who at the provider owns it, by when,
    and the evidence it was done. The overdue job reminds the officer of a late one."""

    __tablename__ = "visit_actions"

    id: int | None = Field(default=None, primary_key=True)
    visit_id: int = Field(foreign_key="visits.id", index=True)
    provider_id: int = Field(foreign_key="providers.id", index=True)
    action: str = Field(max_length=2000)
    owner: str = Field(max_length=200)
    due_on: date
    done: bool = False
    done_on: date | None = None
    evidence: str = Field(default="", max_length=5000)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = instant()
    updated_at: datetime = instant()


class RecordChange(SQLModel, table=True):
    """One field of one record corrected: its value before and after, who and when.
    Values are stored as their JSON text (a date as 2026-11-20, a flag as true)."""

    __tablename__ = "record_changes"
    __table_args__ = (Index("ix_record_changes_record", "record_type", "record_id"),)

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="providers.id", index=True)
    record_type: str = Field(max_length=40)  # visit, safeguarding, ... visit_action
    record_id: int
    field: str = Field(max_length=60)
    old_value: str | None = Field(default=None, max_length=10000)
    new_value: str | None = Field(default=None, max_length=10000)
    changed_by: int | None = Field(default=None, foreign_key="users.id")
    actor: str = Field(max_length=100)
    changed_at: datetime = instant()
