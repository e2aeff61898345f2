"""docs/FLOW.md names the file and function of each step of the write path; every name
must exist, so the walkthrough cannot go stale silently when code moves."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

FLOW = Path(__file__).resolve().parent.parent / "docs" / "FLOW.md"
REFERENCE = re.compile(r"`(app/[\w/]+\.py)::([\w.]+)`")


def references() -> list[tuple[str, str]]:
    return sorted(set(REFERENCE.findall(FLOW.read_text(encoding="utf-8"))))


def test_every_numbered_step_names_a_file_and_function() -> None:
    steps = re.split(r"^\d+\. ", FLOW.read_text(encoding="utf-8"), flags=re.M)[1:]
    assert len(steps) >= 10
    for number, step in enumerate(steps, start=1):
        assert REFERENCE.search(step), f"step {number} names no file::function"


@pytest.mark.parametrize(("path", "name"), references())
def test_named_function_exists(path: str, name: str) -> None:
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    target: object = module
    for part in name.split("."):
        assert hasattr(target, part), f"{path} has no {name}"
        target = getattr(target, part)
