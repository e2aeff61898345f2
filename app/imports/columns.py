"""The tracker's shape: a sheet (or a CSV file) per kind of record, the columns each
reads with the other names a council's tracker gives them, what each holds (for the
template's notes sheet), and the words each choice may be written in."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.models.base import (
    CaseStatus,
    ComplaintUpheld,
    ContractType,
    FinancialRisk,
    PartnerRole,
    RiskOutcome,
    SafeguardingCategory,
    SafeguardingOutcome,
    SafeguardingStatus,
    VisitKind,
    VisitOutcome,
)
from app.sheets import key


class Value(StrEnum):
    """What a column holds, which decides how its cells are read."""

    text = "text"
    date = "date"
    number = "number"
    whole_number = "whole number"
    flag = "yes or no"
    choice = "choice"
    email = "email address"
    list = "list"


@dataclass(frozen=True)
class Column:
    field: str
    heading: str  # as the template writes it, and as a message names a missing column
    value: Value
    note: str
    required: bool = False
    variants: tuple[str, ...] = ()
    choices: type[StrEnum] | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        return (key(self.heading), self.field, *(key(v) for v in self.variants))


@dataclass(frozen=True)
class Kind:
    """One kind of record: its sheet, the other names the sheet may go by, its columns."""

    name: str
    sheet: str
    noun: str  # one row, in a message
    columns: tuple[Column, ...]
    sheet_variants: tuple[str, ...] = ()

    @property
    def sheet_keys(self) -> tuple[str, ...]:
        return (key(self.sheet), self.name, *(key(v) for v in self.sheet_variants))

    def column(self, field: str) -> Column:
        return next(c for c in self.columns if c.field == field)

    def lookup(self) -> dict[str, tuple[str, ...]]:
        return {c.field: c.keys for c in self.columns}


# The words a person may write for a choice, beyond its own name in any capitals and
# with spaces or hyphens for underscores ("Requires Improvement", "face-to-face").
SYNONYMS: dict[type[StrEnum], dict[str, str]] = {
    VisitKind: {
        "in_person": "face_to_face",
        "f2f": "face_to_face",
        "face2face": "face_to_face",
        "onsite": "face_to_face",
        "on_site": "face_to_face",
        "site_visit": "face_to_face",
        "video": "virtual",
        "teams": "virtual",
        "online": "virtual",
        "unannounced_visit": "unannounced",
        "telephone": "phone",
        "phone_call": "phone",
        "call": "phone",
    },
    VisitOutcome: {
        "no_concerns": "good",
        "satisfactory": "good",
        "minor_concerns": "some_concerns",
        "concerns": "some_concerns",
        "serious": "serious_concerns",
        "major_concerns": "serious_concerns",
    },
    SafeguardingStatus: {
        "section_42": "enquiry",
        "s42": "enquiry",
        "s42_enquiry": "enquiry",
        "section_42_enquiry": "enquiry",
        "under_enquiry": "enquiry",
        "in_enquiry": "enquiry",
        "raised": "open",
        "new": "open",
        "resolved": "closed",
        "complete": "closed",
        "completed": "closed",
    },
    SafeguardingOutcome: {
        "partially_substantiated": "partly_substantiated",
        "partly": "partly_substantiated",
        "unsubstantiated": "not_substantiated",
        "not_proven": "inconclusive",
        "concern_withdrawn": "withdrawn",
    },
    SafeguardingCategory: {
        "financial": "financial_or_material",
        "material": "financial_or_material",
        "financial_abuse": "financial_or_material",
        "neglect_and_acts_of_omission": "neglect",
        "acts_of_omission": "neglect",
        "physical_abuse": "physical",
        "sexual_abuse": "sexual",
        "domestic_abuse": "domestic",
        "domestic_violence": "domestic",
        "emotional": "psychological",
        "psychological_abuse": "psychological",
        "institutional": "organisational",
        "organizational": "organisational",
        "discrimination": "discriminatory",
        "self_neglect": "self_neglect",
        "selfneglect": "self_neglect",
    },
    RiskOutcome: {
        "removed": "risk_removed",
        "reduced": "risk_reduced",
        "remains": "risk_remains",
        "risk_remained": "risk_remains",
    },
    CaseStatus: {"resolved": "closed", "complete": "closed", "new": "open", "ongoing": "open"},
    ComplaintUpheld: {
        "yes": "upheld",
        "partially_upheld": "partly_upheld",
        "partial": "partly_upheld",
        "partly": "partly_upheld",
        "no": "not_upheld",
        "not": "not_upheld",
        "unfounded": "not_upheld",
    },
    FinancialRisk: {"g": "green", "a": "amber", "r": "red", "low": "green", "high": "red"},
    ContractType: {"spot_purchase": "spot", "block_contract": "block", "dps": "framework"},
    PartnerRole: {"locality": "locality_partner", "provider": "provider_partner"},
}


def choice_words(choices: type[StrEnum]) -> str:
    """The choices as a person writes them: "Good, Some concerns or Serious concerns"."""
    names = [member.value.replace("_", " ").capitalize() for member in choices]
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


PROVIDER_REF = (
    Column(
        "provider",
        "Provider",
        Value.text,
        "The provider's name as on the Providers sheet (or give its CQC provider ID)",
        variants=("Provider name", "Provider's name", "Name of provider", "Service", "Branch"),
    ),
    Column(
        "cqc_provider_id",
        "CQC provider ID",
        Value.text,
        "The provider's CQC provider ID (1-...), instead of or beside its name",
        variants=("CQC ID", "CQC provider", "CQC provider number", "Provider ID"),
    ),
)
CLOSED_NOTE = "The day it closed (required when it is closed); empty while it is open"

PROVIDERS = Kind(
    "providers",
    "Providers",
    "provider",
    (
        Column(
            "name",
            "Provider name",
            Value.text,
            "The provider as the council names it; a provider already in carewatch with "
            "this name (or CQC provider ID) is matched, not added again",
            required=True,
            variants=("Name", "Provider", "Organisation", "Organisation name", "Supplier"),
        ),
        Column(
            "cqc_provider_id",
            "CQC provider ID",
            Value.text,
            "As CQC publishes it: 1- and digits, e.g. 1-101234567",
            variants=("CQC ID", "CQC provider", "CQC provider number", "Provider ID"),
        ),
        Column(
            "cqc_location_ids",
            "CQC location IDs",
            Value.list,
            "The contracted CQC locations (1-...), separated by commas",
            variants=("CQC location ID", "CQC location", "CQC locations", "Location IDs"),
        ),
        Column(
            "contract_officer",
            "Contract officer email",
            Value.email,
            "The email of the officer or manager who holds the contract: they must "
            "already have an active carewatch account",
            variants=(
                "Contract officer's email",
                "Contract officer",
                "Officer email",
                "Officer",
                "Lead officer",
            ),
        ),
        Column(
            "contract_type",
            "Contract type",
            Value.choice,
            "Spot, Block or Framework (Spot when empty)",
            variants=("Contract",),
            choices=ContractType,
        ),
        Column(
            "partner_role",
            "Partner role",
            Value.choice,
            "Locality partner or Provider partner; empty when neither",
            variants=("Partner", "Partnership role"),
            choices=PartnerRole,
        ),
        Column(
            "localities",
            "Localities",
            Value.list,
            "Localities on the council's list, separated by commas",
            variants=("Locality", "Areas", "Area"),
        ),
        Column(
            "weekly_hours",
            "Weekly hours",
            Value.number,
            "Contracted hours of care a week (0 when empty)",
            variants=("Contracted hours", "Hours a week", "Hours per week", "Hours"),
        ),
        Column(
            "people_supported",
            "People supported",
            Value.whole_number,
            "How many people the provider supports for the council",
            variants=("People", "Service users", "Clients", "Number of people"),
        ),
    ),
)

VISITS = Kind(
    "visits",
    "Visits",
    "visit",
    (
        *PROVIDER_REF,
        Column(
            "visited_on",
            "Date",
            Value.date,
            "The day of the visit or contract meeting",
            required=True,
            variants=("Visit date", "Date of visit", "Visited", "Visited on", "Meeting date"),
        ),
        Column(
            "kind",
            "Kind",
            Value.choice,
            choice_words(VisitKind),
            required=True,
            variants=("Type", "Visit type", "Meeting type", "How"),
            choices=VisitKind,
        ),
        Column(
            "purpose",
            "Purpose",
            Value.text,
            "What the visit was for, e.g. quarterly contract review",
            required=True,
            variants=("Reason", "Purpose of visit"),
        ),
        Column(
            "outcome",
            "Outcome",
            Value.choice,
            choice_words(VisitOutcome),
            required=True,
            variants=("Result", "Rating", "Finding"),
            choices=VisitOutcome,
        ),
        Column("notes", "Notes", Value.text, "Findings, free text", variants=("Findings",)),
        Column(
            "follow_up_actions",
            "Follow-up actions",
            Value.text,
            "What was agreed, as text (actions with owners and due dates are added in "
            "carewatch, not imported)",
            variants=("Actions", "Follow up", "Actions agreed"),
        ),
        Column(
            "officer",
            "Officer email",
            Value.email,
            "Who visited (an active user); the provider's contract officer when empty",
            variants=("Officer", "Visited by", "Visiting officer"),
        ),
    ),
    ("Visits and meetings", "Contract meetings", "Visit log", "Monitoring visits"),
)

SAFEGUARDINGS = Kind(
    "safeguardings",
    "Safeguardings",
    "safeguarding",
    (
        *PROVIDER_REF,
        Column(
            "raised_on",
            "Raised",
            Value.date,
            "The day the concern was raised",
            required=True,
            variants=("Date raised", "Raised on", "Date", "Date of concern"),
        ),
        Column(
            "reference",
            "Reference",
            Value.text,
            "Its reference in the safeguarding system; with the date raised, it "
            "recognises a safeguarding already imported",
            required=True,
            variants=("Ref", "Safeguarding reference", "Case reference", "Case number"),
        ),
        Column(
            "category",
            "Category",
            Value.choice,
            "The Care Act's type of abuse: " + choice_words(SafeguardingCategory),
            required=True,
            variants=("Care Act category", "Type of abuse", "Abuse type", "Type"),
            choices=SafeguardingCategory,
        ),
        Column(
            "summary",
            "Summary",
            Value.text,
            "What happened, without names of the people supported",
            variants=("Details", "Description"),
        ),
        Column(
            "whole_service",
            "Whole service",
            Value.flag,
            "Yes when it concerns the whole service (No when empty)",
            variants=("Whole service concern", "Whole-service"),
        ),
        Column(
            "status",
            "Status",
            Value.choice,
            "Open, Enquiry (a Section 42 enquiry) or Closed; when empty, read from the dates given",
            choices=SafeguardingStatus,
        ),
        Column(
            "enquiry_started_on",
            "Enquiry started",
            Value.date,
            "The day the Section 42 enquiry began",
            variants=("Enquiry date", "Section 42 enquiry", "S42 started", "Enquiry start"),
        ),
        Column(
            "outcome",
            "Outcome",
            Value.choice,
            "When closed: " + choice_words(SafeguardingOutcome),
            choices=SafeguardingOutcome,
        ),
        Column(
            "risk_outcome",
            "Risk outcome",
            Value.choice,
            "When closed (unless withdrawn): " + choice_words(RiskOutcome),
            variants=("Risk",),
            choices=RiskOutcome,
        ),
        Column(
            "closed_on",
            "Closed",
            Value.date,
            CLOSED_NOTE,
            variants=("Date closed", "Closed on", "Closure date"),
        ),
    ),
    ("Safeguarding", "Safeguarding concerns", "S42"),
)

COMPLAINTS = Kind(
    "complaints",
    "Complaints",
    "complaint",
    (
        *PROVIDER_REF,
        Column(
            "received_on",
            "Received",
            Value.date,
            "The day the complaint was received",
            required=True,
            variants=("Date received", "Received on", "Date"),
        ),
        Column(
            "subject",
            "Subject",
            Value.text,
            "What it is about (no names)",
            required=True,
            variants=("About", "Complaint", "Summary", "Description"),
        ),
        Column(
            "upheld",
            "Finding",
            Value.choice,
            choice_words(ComplaintUpheld) + " (required when it is closed)",
            variants=("Upheld", "Outcome", "Result"),
            choices=ComplaintUpheld,
        ),
        Column(
            "status",
            "Status",
            Value.choice,
            "Open or Closed; when empty, closed if a closing date is given",
            choices=CaseStatus,
        ),
        Column(
            "closed_on",
            "Closed",
            Value.date,
            CLOSED_NOTE,
            variants=("Date closed", "Closed on"),
        ),
    ),
)

COMPLIMENTS = Kind(
    "compliments",
    "Compliments",
    "compliment",
    (
        *PROVIDER_REF,
        Column(
            "received_on",
            "Received",
            Value.date,
            "The day the compliment was received",
            required=True,
            variants=("Date received", "Received on", "Date"),
        ),
        Column(
            "summary",
            "Summary",
            Value.text,
            "What was praised (no names)",
            required=True,
            variants=("Compliment", "Details", "Description"),
        ),
    ),
)

FINANCIAL_CHECKS = Kind(
    "financial_checks",
    "Financial checks",
    "financial check",
    (
        *PROVIDER_REF,
        Column(
            "assessed_on",
            "Assessed",
            Value.date,
            "The day of the financial assessment",
            required=True,
            variants=("Date", "Assessed on", "Assessment date", "Date assessed"),
        ),
        Column(
            "risk",
            "Risk",
            Value.choice,
            "Green, Amber or Red",
            required=True,
            variants=("RAG", "Rating", "Financial risk", "Risk rating"),
            choices=FinancialRisk,
        ),
        Column(
            "credit_check_passed",
            "Credit check passed",
            Value.flag,
            "Yes or No; empty when not checked",
            variants=("Credit check",),
        ),
        Column(
            "accounts_filed_on_time",
            "Accounts filed on time",
            Value.flag,
            "Yes or No; empty when not known",
            variants=("Accounts filed", "Accounts on time"),
        ),
        Column(
            "insurance_expires_on",
            "Insurance expires",
            Value.date,
            "The day the provider's insurance expires",
            variants=("Insurance expiry", "Insurance expiry date", "Insurance"),
        ),
        Column(
            "next_review_on",
            "Next review",
            Value.date,
            "The day the next financial review is due",
            variants=("Next review due", "Review due", "Next review date"),
        ),
        Column("notes", "Notes", Value.text, "Free text", variants=("Comments",)),
    ),
    ("Financial", "Finance", "Financial assurance", "Financial assurances"),
)

CONCERNS = Kind(
    "concerns",
    "Concerns",
    "concern",
    (
        *PROVIDER_REF,
        Column(
            "raised_on",
            "Raised",
            Value.date,
            "The day the concern was raised",
            required=True,
            variants=("Date raised", "Raised on", "Date"),
        ),
        Column(
            "description",
            "Description",
            Value.text,
            "What the concern is (no names)",
            required=True,
            variants=("Concern", "Details", "Summary"),
        ),
        Column(
            "raised_by",
            "Raised by",
            Value.text,
            "Who raised it (a role or an organisation)",
            variants=("Source", "From"),
        ),
        Column(
            "whole_service",
            "Whole service",
            Value.flag,
            "Yes when it concerns the whole service (No when empty)",
            variants=("Whole service concern", "Whole-service"),
        ),
        Column(
            "status",
            "Status",
            Value.choice,
            "Open or Closed (resolved); when empty, closed if a resolved date is given",
            choices=CaseStatus,
        ),
        Column(
            "outcome",
            "Outcome",
            Value.text,
            "How it was resolved (required when it is resolved)",
            variants=("Resolution", "How resolved"),
        ),
        Column(
            "closed_on",
            "Resolved",
            Value.date,
            "The day it was resolved; empty while it is open",
            variants=("Resolved on", "Date resolved", "Closed", "Closed on", "Date closed"),
        ),
    ),
    ("Whole service concerns", "Whole-service concerns", "Provider concerns"),
)

KINDS = (PROVIDERS, VISITS, SAFEGUARDINGS, COMPLAINTS, COMPLIMENTS, FINANCIAL_CHECKS, CONCERNS)
KIND_BY_NAME = {kind.name: kind for kind in KINDS}


def kind_for(name: str) -> Kind | None:
    """The kind a sheet's (or a CSV file's) name stands for, if any."""
    wanted = key(name)
    return next((kind for kind in KINDS if wanted in kind.sheet_keys), None)
