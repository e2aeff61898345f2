"""The API tests' report: schemathesis' counts, when its test ran."""

from __future__ import annotations

import sys

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    module = sys.modules.get("tests.api.test_schemathesis")
    if module is not None and module.TALLY.examples:
        terminalreporter.write_line(module.TALLY.summary())
