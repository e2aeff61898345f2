"""Domain errors every layer raises and the API and web layers turn into 4xx answers
naming the field. Base layer: imports nothing of app."""

from __future__ import annotations


class DomainError(Exception):
    """A request that cannot be carried out; `field` names what is wrong."""

    status_code = 422

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Forbidden(DomainError):
    """Allowed to the caller's role, but not on this record (another officer's entry)."""

    status_code = 403
