"""The pure rule engine: signals in, firings out. No I/O."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.models.base import LEVEL_RANK, MonitoringLevel
from app.rules.catalogue import SIGNALS, AllOf, AnyOf, Comparison, Rule, RuleSet

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "in": lambda left, right: left in right,
}


@dataclass(frozen=True)
class Firing:
    rule_id: str
    description: str
    level: MonitoringLevel
    suspend_placements: bool
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_reason(self) -> dict[str, Any]:
        detail = ", ".join(_evidence_text(key, value) for key, value in self.evidence.items())
        return {
            "rule": self.rule_id,
            "description": self.description,
            "detail": detail,
            "evidence": self.evidence,
        }


def _evidence_text(key: str, value: Any) -> str:
    name, _, days = key.partition("@")
    spec = SIGNALS.get(name)
    if spec is None:
        return f"{key} = {value}"
    return spec.evidence_text(value, int(days) if days else None)


def _holds(
    node: Comparison | AllOf | AnyOf, signals: Mapping[str, Any], evidence: dict[str, Any]
) -> bool:
    if isinstance(node, AllOf):
        return all(_holds(child, signals, evidence) for child in node.all)
    if isinstance(node, AnyOf):
        # Evaluate every branch so the evidence names each one that held.
        return any([_holds(child, signals, evidence) for child in node.any])  # noqa: C419
    value = signals.get(node.key)
    if value is None:
        return False  # an unknown value (never rated, never visited) proves nothing
    held = _OPS[node.op](value, node.value)
    if held:
        evidence[node.key] = value
    return held


def evaluate_rule(rule: Rule, signals: Mapping[str, Any]) -> Firing | None:
    evidence: dict[str, Any] = {}
    if not _holds(rule.when, signals, evidence):
        return None
    return Firing(
        rule.id,
        rule.description,
        MonitoringLevel(rule.escalate_to),
        rule.suspend_placements,
        evidence,
    )


def evaluate(rules: RuleSet, signals: Mapping[str, Any]) -> list[Firing]:
    """Every rule that fires for one provider's signals, most severe first."""
    firings = [f for rule in rules.rules if (f := evaluate_rule(rule, signals)) is not None]
    return sorted(firings, key=lambda f: -LEVEL_RANK[f.level])


def highest_level(firings: list[Firing]) -> MonitoringLevel | None:
    return max((f.level for f in firings), key=LEVEL_RANK.__getitem__, default=None)
