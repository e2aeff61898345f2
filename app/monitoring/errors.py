"""The one error monitoring adds to the shared ones of app.errors: a manager's
de-escalation refused, with the reasons a manager must clear first."""

from __future__ import annotations

from app.errors import Conflict


class DeEscalationRefused(Conflict):
    def __init__(self, blockers: list[str]) -> None:
        super().__init__("to", "Cannot step down yet: " + "; ".join(blockers))
        self.blockers = blockers
