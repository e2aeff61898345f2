"""Validated inputs of the write path, shared by the JSON API and the web forms.

Unknown fields are refused (extra="forbid"); rules that need the clock or the database
(dates in the future, a provider that exists) are checked by the service functions.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.models.base import (
    CaseStatus,
    ComplaintUpheld,
    ContractType,
    FinancialRisk,
    PartnerRole,
    Rating,
    SafeguardingOutcome,
    SafeguardingStatus,
    VisitKind,
    VisitOutcome,
)

MAX_ID = 2_147_483_647  # ids are 32-bit integers on PostgreSQL
Locality = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
CqcId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^1-\d{1,15}$")]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ProviderIn(Input):
    name: str = Field(min_length=1, max_length=200)
    cqc_provider_id: CqcId | None = None
    contract_type: ContractType = ContractType.spot
    partner_role: PartnerRole | None = None
    localities: list[Locality] = Field(default_factory=list, max_length=20)
    contract_officer_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    weekly_hours: float = Field(default=0, ge=0, le=100000)
    people_supported: int | None = Field(default=None, ge=0, le=100000)


class ProviderUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    cqc_provider_id: CqcId | None = None
    contract_type: ContractType | None = None
    partner_role: PartnerRole | None = None
    localities: list[Locality] | None = Field(default=None, max_length=20)
    contract_officer_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    weekly_hours: float | None = Field(default=None, ge=0, le=100000)
    people_supported: int | None = Field(default=None, ge=0, le=100000)


class LocationIn(Input):
    cqc_location_id: CqcId
    name: str | None = Field(default=None, max_length=200)
    postcode: str | None = Field(default=None, max_length=12)


class KeyQuestionRatings(Input):
    safe: Rating | None = None
    effective: Rating | None = None
    caring: Rating | None = None
    responsive: Rating | None = None
    well_led: Rating | None = None


class RatingIn(Input):
    """A CQC rating keyed in by hand (when polling is off or CQC is late)."""

    cqc_location_id: CqcId
    overall: Rating
    rated_on: date
    key_questions: KeyQuestionRatings = Field(default_factory=KeyQuestionRatings)
    report_url: str | None = Field(default=None, max_length=300, pattern=r"^https://")


class VisitIn(Input):
    visited_on: date
    kind: VisitKind
    purpose: str = Field(min_length=1, max_length=500)
    outcome: VisitOutcome
    notes: str = Field(default="", max_length=10000)
    follow_up_actions: str = Field(default="", max_length=5000)
    officer_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class SafeguardingIn(Input):
    raised_on: date
    category: str = Field(min_length=1, max_length=60)
    reference: str = Field(min_length=1, max_length=50)
    summary: str = Field(default="", max_length=5000)
    whole_service: bool = False
    status: SafeguardingStatus = SafeguardingStatus.open


class SafeguardingUpdate(Input):
    status: SafeguardingStatus | None = None
    outcome: SafeguardingOutcome | None = None
    closed_on: date | None = None
    category: str | None = Field(default=None, min_length=1, max_length=60)
    summary: str | None = Field(default=None, max_length=5000)
    whole_service: bool | None = None


class ComplaintIn(Input):
    received_on: date
    subject: str = Field(min_length=1, max_length=500)
    upheld: ComplaintUpheld | None = None
    status: CaseStatus = CaseStatus.open
    closed_on: date | None = None


class ComplaintUpdate(Input):
    status: CaseStatus | None = None
    upheld: ComplaintUpheld | None = None
    closed_on: date | None = None


class ComplimentIn(Input):
    received_on: date
    summary: str = Field(min_length=1, max_length=2000)


class FinancialAssuranceIn(Input):
    assessed_on: date
    risk: FinancialRisk
    credit_check_passed: bool | None = None
    accounts_filed_on_time: bool | None = None
    insurance_expires_on: date | None = None
    next_review_on: date | None = None
    notes: str = Field(default="", max_length=5000)


class ConcernIn(Input):
    raised_on: date
    description: str = Field(min_length=1, max_length=5000)
    raised_by: str = Field(default="", max_length=200)
    whole_service: bool = False


class ConcernUpdate(Input):
    status: CaseStatus | None = None
    closed_on: date | None = None
    whole_service: bool | None = None
