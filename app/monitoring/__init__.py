"""Monitoring: levels, episodes, visit cadence, improvement plans and de-escalation."""
