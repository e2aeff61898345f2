"""The monitoring policy a council sets: its rules, visit cadence and plan deadline."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.models.base import MonitoringLevel
from app.rules.catalogue import RuleSet

DEFAULT_CADENCE = {
    MonitoringLevel.routine: 90,
    MonitoringLevel.enhanced: 28,
    MonitoringLevel.intensive: 7,
}


@dataclass(frozen=True)
class MonitoringPolicy:
    rules: RuleSet
    visit_cadence_days: dict[MonitoringLevel, int] = field(
        default_factory=lambda: dict(DEFAULT_CADENCE)
    )
    plan_agree_days: int = 14
