"""The monitoring policy a council sets: its rules, visit cadence and plan deadline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

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

    def next_visit_due(self, level: str, after: date) -> date:
        """The visit cadence: when a provider at `level` is next due a visit, counting
        from `after` (its last visit, or the day its level changed)."""
        return after + timedelta(days=self.visit_cadence_days[MonitoringLevel(level)])
