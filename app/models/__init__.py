"""SQLModel tables only, one file per aggregate; imports nothing else of app."""

from app.models.audit import SafeguardingAudit
from app.models.base import SQLModel
from app.models.cqc import CqcBenchmark, CqcSyncRun, CqcUnreadableLocation
from app.models.event import Delivery, Event
from app.models.location import Location, LocationRating
from app.models.market import (
    CapacityReturn,
    KpiBand,
    KpiReturn,
    Locality,
    LocalityLead,
    WaitingList,
)
from app.models.monitoring import ImprovementAction, ImprovementPlan, MonitoringEpisode
from app.models.provider import Provider, ProviderLocality
from app.models.records import (
    Complaint,
    Compliment,
    Concern,
    FinancialAssurance,
    RecordChange,
    Safeguarding,
    Visit,
    VisitAction,
)
from app.models.user import ApiToken, User

metadata = SQLModel.metadata

__all__ = [
    "CapacityReturn",
    "KpiBand",
    "KpiReturn",
    "Locality",
    "LocalityLead",
    "WaitingList",
    "ApiToken",
    "Complaint",
    "Compliment",
    "Concern",
    "CqcBenchmark",
    "CqcSyncRun",
    "CqcUnreadableLocation",
    "Delivery",
    "Event",
    "FinancialAssurance",
    "ImprovementAction",
    "ImprovementPlan",
    "Location",
    "LocationRating",
    "MonitoringEpisode",
    "Provider",
    "ProviderLocality",
    "RecordChange",
    "Safeguarding",
    "SafeguardingAudit",
    "User",
    "Visit",
    "VisitAction",
    "metadata",
]
