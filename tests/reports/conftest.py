"""The web fixtures (signed-in clients per role) for the exports' and reports' pages."""

from tests.web.conftest import signed_in

__all__ = ["signed_in"]
