"""Response shapes of the JSON API (request shapes live in records.schemas, shared with
the web forms). Dates end in _on, instants in _at, lists are paginated."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, computed_field

from app.models.base import (
    CaseStatus,
    ComplaintUpheld,
    ContractType,
    DeliveryStatus,
    FinancialRisk,
    MonitoringLevel,
    PartnerRole,
    Rating,
    RiskOutcome,
    Role,
    SafeguardingCategory,
    SafeguardingOutcome,
    SafeguardingStatus,
    VisitKind,
    VisitOutcome,
)

ItemT = TypeVar("ItemT")


class Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    total: int
    limit: int
    offset: int


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime


class UserRead(Read):
    id: int
    email: str
    name: str
    role: Role
    active: bool
    mobile_number: str | None = None
    created_at: datetime
    source: str = Field(
        description="where the account comes from: the identity provider's issuer URL"
        " (signs in with the council's account), directory (provisioned by SCIM, not yet"
        " signed in) or local (a carewatch password)"
    )


class ProviderRead(Read):
    id: int
    name: str
    cqc_provider_id: str | None
    contract_type: ContractType
    partner_role: PartnerRole | None
    localities: list[str] = Field(default_factory=list)
    contract_officer_id: int | None
    contract_officer_name: str | None = Field(
        default=None, description="the contract officer's name"
    )
    weekly_hours: float
    people_supported: int | None
    monitoring_level: MonitoringLevel
    placements_suspended: bool
    next_visit_due_on: date | None
    last_visit_on: date | None
    worst_cqc_rating: Rating | None = None
    created_at: datetime
    updated_at: datetime


class LocationRead(Read):
    id: int
    provider_id: int
    cqc_location_id: str
    name: str | None
    postcode: str | None
    registration_status: str | None
    overall_rating: Rating | None
    overall_rated_on: date | None
    safe_rating: Rating | None
    effective_rating: Rating | None
    caring_rating: Rating | None
    responsive_rating: Rating | None
    well_led_rating: Rating | None
    key_questions: dict[str, Any]
    report_url: str | None
    predecessor_cqc_location_id: str | None


class LocationAdded(LocationRead):
    cqc_fetch: str


class RatingRead(Read):
    id: int
    location_id: int
    source: str
    overall_rating: Rating
    overall_rated_on: date | None
    previous_overall_rating: Rating | None
    direction: str
    recorded_at: datetime


class EscalationRead(BaseModel):
    from_level: MonitoringLevel
    to_level: MonitoringLevel
    reasons: list[dict[str, Any]]
    placements_suspended: bool


class Written(BaseModel):
    """What every record write answers besides the record: the provider's resulting level."""

    monitoring_level: MonitoringLevel
    placements_suspended: bool
    escalation: EscalationRead | None = None


class RecordRead(Read):
    """What every record shows besides its own fields: who recorded it and when, and
    whether it was entered in error (it stays on record; no rule counts it)."""

    id: int
    provider_id: int
    created_by: int | None = None
    created_by_name: str | None = Field(default=None, description="who recorded it")
    created_at: datetime
    entered_in_error_at: datetime | None = None
    entered_in_error_by: int | None = None
    entered_in_error_by_name: str | None = Field(
        default=None, description="who marked it entered in error"
    )
    entered_in_error_reason: str | None = None


class VisitRead(RecordRead):
    visited_on: date
    kind: VisitKind
    officer_id: int | None
    officer_name: str | None = Field(default=None, description="the visiting officer's name")
    purpose: str
    outcome: VisitOutcome
    notes: str
    follow_up_actions: str = Field(description="notes on follow-up; tracked items are actions")


class VisitActionRead(Read):
    id: int
    visit_id: int
    provider_id: int
    action: str
    owner: str
    due_on: date
    done: bool
    done_on: date | None
    evidence: str
    created_at: datetime
    updated_at: datetime


class VisitDetail(VisitRead):
    actions: list[VisitActionRead] = Field(
        default_factory=list, description="the visit's follow-up actions, by due date"
    )


class VisitActionWritten(VisitActionRead):
    monitoring_level: MonitoringLevel
    placements_suspended: bool


class SafeguardingRead(RecordRead):
    raised_on: date
    status: SafeguardingStatus
    enquiry_started_on: date | None = Field(description="when the Section 42 enquiry began")
    outcome: SafeguardingOutcome | None
    risk_outcome: RiskOutcome | None
    whole_service: bool
    closed_on: date | None
    # Withheld (null, redacted=true) from callers without the safeguarding-detail permission.
    reference: str | None
    summary: str | None
    category: SafeguardingCategory | None = Field(
        description="a Care Act 2014 type; null when withheld, or for a record stored before"
        " categories were the Care Act's types whose words matched none (see legacy_category)"
    )
    legacy_category: str | None = Field(
        default=None, description="the words of a category stored before the Care Act types"
    )
    redacted: bool = False
    updated_at: datetime


class ComplaintRead(RecordRead):
    received_on: date
    subject: str
    status: CaseStatus
    upheld: ComplaintUpheld | None = Field(description="the finding")
    closed_on: date | None
    updated_at: datetime


class ComplimentRead(RecordRead):
    received_on: date
    summary: str


class FinancialAssuranceRead(RecordRead):
    assessed_on: date
    risk: FinancialRisk
    credit_check_passed: bool | None
    accounts_filed_on_time: bool | None
    insurance_expires_on: date | None
    next_review_on: date | None
    notes: str


class ConcernRead(RecordRead):
    raised_on: date
    raised_by: str
    description: str
    whole_service: bool
    status: CaseStatus
    outcome: str = Field(description="how the concern was resolved")
    closed_on: date | None
    updated_at: datetime


class RecordChangeRead(Read):
    """One field of a record corrected: before and after (as JSON text), who and when.
    A safeguarding's reference, summary and category are withheld as on the record."""

    id: int
    record_type: str
    record_id: int
    field: str
    old_value: str | None
    new_value: str | None
    changed_by: int | None
    changed_by_name: str | None = None
    actor: str
    changed_at: datetime
    redacted: bool = False


class VisitWritten(VisitRead, Written):
    pass


class SafeguardingWritten(SafeguardingRead, Written):
    pass


class ComplaintWritten(ComplaintRead, Written):
    pass


class ComplimentWritten(ComplimentRead, Written):
    pass


class FinancialAssuranceWritten(FinancialAssuranceRead, Written):
    pass


class ConcernWritten(ConcernRead, Written):
    pass


class RatingWritten(Written):
    changed: bool
    rating: RatingRead | None


class EpisodeRead(Read):
    id: int
    level: MonitoringLevel
    started_at: datetime
    started_by: str
    started_by_name: str | None = Field(
        default=None, description="the person who started it (null for a rule or job)"
    )
    reasons: list[dict[str, Any]]
    ended_at: datetime | None
    ended_by: str | None
    ended_by_name: str | None = Field(
        default=None, description="the person who ended it (null for a rule or job)"
    )
    end_reason: str | None
    overridden: bool


class MonitoringRead(BaseModel):
    level: MonitoringLevel
    placements_suspended: bool
    next_visit_due_on: date | None
    last_visit_on: date | None
    firing_rules: list[dict[str, Any]]
    episodes: list[EpisodeRead]


class ActionRead(Read):
    id: int
    issue: str
    action: str
    owner: str
    due_on: date
    status: str
    evidence: str
    completed_on: date | None


class PlanRead(BaseModel):
    id: int
    status: str
    agree_by_on: date
    agreed_on: date | None
    actions: list[ActionRead]


class PlanHistoryRead(BaseModel):
    """A plan, open or closed, with its actions: the provider's plan history."""

    id: int
    status: str
    agree_by_on: date
    agreed_on: date | None
    created_at: datetime
    closed_at: datetime | None
    closed_by: str | None = Field(description="user:<id> or job:<name>; null while open")
    close_reason: str | None
    actions: list[ActionRead]


class EventRead(Read):
    id: int
    type: str
    provider_id: int | None
    actor: str = Field(description="user:<id> for a person, job:<name> for a scheduled job")
    actor_name: str | None = Field(default=None, description="the person's name (null for a job)")
    data: dict[str, Any]
    created_at: datetime
    redacted: bool = Field(
        default=False,
        description="a safeguarding's category and outcomes withheld from this caller's role",
    )


class TimelineItem(BaseModel):
    event: EventRead
    record: dict[str, Any] | None = Field(
        default=None,
        description="the record the event concerns, with created_by_name (and officer_name"
        " for a visit) beside the ids",
    )


class DeliveryRead(Read):
    id: int
    event_id: int
    event_type: str
    provider_id: int | None
    recipient: str
    channel: str
    status: DeliveryStatus
    attempts: int
    possibly_duplicated: bool
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None
    failed_at: datetime | None
    receipt_status: str | None = None  # GOV.UK Notify's delivery receipt, when one came
    receipt_at: datetime | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def latency_seconds(self) -> float | None:
        """Time from the event to SMTP acceptance."""
        return None if self.sent_at is None else (self.sent_at - self.created_at).total_seconds()


class AuditRead(Read):
    id: int
    at: datetime
    user_id: int | None
    actor: str
    actor_name: str | None = Field(default=None, description="the person's name")
    action: str
    provider_id: int | None
    safeguarding_id: int | None
    route: str
    client_address: str | None
    request_id: str | None
