"""SQL building blocks more than one domain's queries use (the rules' signals, the
dashboard and the read models, the overdue jobs). Base layer: imports nothing of app
but the models."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from app.models import Safeguarding
from app.models.base import RATING_SEVERITY, Rating, SafeguardingStatus

_RATING_OF_SEVERITY = {severity: rating for rating, severity in RATING_SEVERITY.items()}

# A safeguarding not yet closed (raised, or at enquiry). Spelt as the statuses it may have
# rather than "not closed", so that the index on the status finds the few open ones among
# the many closed instead of reading them all.
SAFEGUARDING_NOT_CLOSED = col(Safeguarding.status).in_(
    [status for status in SafeguardingStatus if status is not SafeguardingStatus.closed]
)
# An open safeguarding, as every count and list of them means it: not closed, and not
# entered in error.
OPEN_SAFEGUARDING = and_(SAFEGUARDING_NOT_CLOSED, col(Safeguarding.entered_in_error_at).is_(None))


def for_providers(query: Select[Any], column: Any, provider_ids: Any) -> Select[Any]:
    """Limit to some providers: a list of ids, a bind parameter of ids, or None for all
    of them."""
    return query if provider_ids is None else query.where(column.in_(provider_ids))


def latest_per_provider(
    model: Any, order_column: Any, provider_ids: Any = None, *, where: Any = None
) -> Any:
    """The most recent row per provider, by a window function (both engines have them),
    among the rows `where` admits (all when None)."""
    ranked = select(
        model,
        func.row_number()
        .over(partition_by=model.provider_id, order_by=(order_column.desc(), model.id.desc()))
        .label("position"),
    )
    if where is not None:
        ranked = ranked.where(where)
    return for_providers(ranked, model.provider_id, provider_ids).subquery()


# A provider's CQC position is the worst current rating of its contracted locations: the
# highest severity of their ratings, and the rating that severity stands for.


def rating_severity(column: Any) -> ColumnElement[int]:
    """A rating column as its severity (higher is worse; NULL for no rating), so that the
    worst of several ratings is the max of their severities."""
    return case(
        *((column == rating.value, severity) for rating, severity in RATING_SEVERITY.items()),
        else_=None,
    )


def rating_of_severity(severity: int | None) -> Rating | None:
    """The rating a severity stands for (None for none)."""
    return None if severity is None else _RATING_OF_SEVERITY[severity]
