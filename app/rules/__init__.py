"""Escalation rules: the signal catalogue, the rules file, SQL signals and a pure engine."""
