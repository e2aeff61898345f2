"""The rules file: each kind of mistake gives a message naming the file, rule and field;
and the pure engine's behaviour on signals."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config_files import ConfigFileError
from app.models.base import MonitoringLevel
from app.rules.catalogue import SIGNALS, load_rules
from app.rules.engine import evaluate, highest_level

ROOT = Path(__file__).resolve().parents[2]
GOOD_RULE = """  - id: {id}
    description: A rule for testing
    when: {when}
    escalate_to: {level}
"""

MISTAKES = [
    (
        "unknown signal",
        "{signal: complaints_uphold, window_days: 180, op: '>=', value: 3}",
        "enhanced",
        "unknown signal 'complaints_uphold'",
    ),
    (
        "window missing",
        "{signal: complaints_upheld, op: '>=', value: 3}",
        "enhanced",
        "needs window_days",
    ),
    (
        "window not allowed",
        "{signal: safeguardings_open, window_days: 30, op: '>=', value: 1}",
        "enhanced",
        "takes no window_days",
    ),
    ("bad operator", "{signal: safeguardings_open, op: '=>', value: 1}", "enhanced", "op"),
    (
        "ordering a rating",
        "{signal: cqc_worst_overall, op: '>=', value: good}",
        "enhanced",
        "does not apply to rating signal",
    ),
    (
        "unknown rating",
        "{signal: cqc_worst_overall, op: '==', value: poor}",
        "enhanced",
        "'poor' is not one of",
    ),
    (
        "text for a count",
        "{signal: safeguardings_open, op: '>=', value: many}",
        "enhanced",
        "compares with a number",
    ),
    (
        "unknown level",
        "{signal: safeguardings_open, op: '>=', value: 1}",
        "critical",
        "escalate_to",
    ),
    (
        "routine is not an escalation",
        "{signal: safeguardings_open, op: '>=', value: 1}",
        "routine",
        "escalate_to",
    ),
    ("empty all", "{all: []}", "enhanced", "when.all"),
]


@pytest.mark.parametrize(
    ("label", "when", "level", "message"), MISTAKES, ids=[m[0] for m in MISTAKES]
)
def test_a_mistake_is_named(
    tmp_path: Path, label: str, when: str, level: str, message: str
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n"
        + GOOD_RULE.format(
            id="fine-rule",
            when="{signal: safeguardings_open, op: '>=', value: 1}",
            level="enhanced",
        )
        + GOOD_RULE.format(id="broken-rule", when=when, level=level)
    )
    with pytest.raises(ConfigFileError) as error:
        load_rules(path)
    text = str(error.value)
    assert str(path) in text
    assert "rule 'broken-rule'" in text, text
    assert "fine-rule" not in text
    assert message in text, text


def test_structural_mistakes(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n"
        + GOOD_RULE.format(
            id="same", when="{signal: safeguardings_open, op: '>=', value: 1}", level="enhanced"
        )
        * 2
    )
    with pytest.raises(ConfigFileError, match="used twice"):
        load_rules(path)
    path.write_text(
        "rules:\n  - id: extra-key\n    description: has a typo key\n"
        "    when: {signal: safeguardings_open, op: '>=', value: 1}\n"
        "    escalate_to: enhanced\n    suspend: true\n"
    )
    with pytest.raises(ConfigFileError, match=r"rule 'extra-key': suspend: Extra inputs"):
        load_rules(path)
    path.write_text("rules: [unclosed")
    with pytest.raises(ConfigFileError, match="not valid YAML"):
        load_rules(path)
    with pytest.raises(ConfigFileError, match="file not found"):
        load_rules(tmp_path / "missing.yaml")


def test_the_shipped_rules_load_and_every_signal_is_documented() -> None:
    rules = load_rules(ROOT / "alerts/rules.yaml")
    assert {r.id for r in rules.rules} == {
        "cqc-inadequate",
        "cqc-requires-improvement",
        "whole-service-concern",
        "safeguarding-cluster",
        "substantiated-safeguardings",
        "upheld-complaints",
        "financial-red",
        "serious-visit",
        "missed-visits-red",
        "packages-handed-back",
    }
    documented = (ROOT / "docs/RULES.md").read_text()
    for name in SIGNALS:
        assert f"`{name}`" in documented, f"signal {name} is not documented in docs/RULES.md"


def test_all_and_any_combine(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n"
        + GOOD_RULE.format(
            id="combined",
            level="intensive",
            when="{all: [{signal: financial_risk_latest, op: in, value: [amber, red]}, "
            "{any: [{signal: complaints_upheld, window_days: 90, op: '>=', value: 2}, "
            "{signal: visit_overdue, op: '==', value: true}]}]}",
        )
    )
    rules = load_rules(path)
    quiet = {"financial_risk_latest": "amber", "complaints_upheld@90": 1, "visit_overdue": False}
    assert evaluate(rules, quiet) == []
    firing = evaluate(rules, {**quiet, "visit_overdue": True})
    assert highest_level(firing) == MonitoringLevel.intensive
    assert firing[0].evidence == {"financial_risk_latest": "amber", "visit_overdue": True}
    assert evaluate(rules, {**quiet, "financial_risk_latest": None, "visit_overdue": True}) == []
