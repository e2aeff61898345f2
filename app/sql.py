"""SQL building blocks more than one domain's queries use (the rules' signals, the
dashboard, the overdue jobs). Base layer: imports nothing of app."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select


def for_providers(query: Select[Any], column: Any, provider_ids: Any) -> Select[Any]:
    """Limit to some providers: a list of ids, a bind parameter of ids, or None for all
    of them."""
    return query if provider_ids is None else query.where(column.in_(provider_ids))


def latest_per_provider(model: Any, order_column: Any, provider_ids: Any = None) -> Any:
    """The most recent row per provider, by a window function (both engines have them)."""
    ranked = select(
        model,
        func.row_number()
        .over(partition_by=model.provider_id, order_by=(order_column.desc(), model.id.desc()))
        .label("position"),
    )
    return for_providers(ranked, model.provider_id, provider_ids).subquery()
