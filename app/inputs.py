"""Field types every validated input shares (API bodies and filters, web forms), so each
rule about what may be stored is stated once: text both engines can store, dates no
earlier than the plausible floor, and changes that may be left out but not set to null.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BeforeValidator, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

# Nothing carewatch records (a visit, a safeguarding, a CQC rating) happened before this.
DATE_FLOOR = date(1990, 1, 1)


def _storable(value: str) -> str:
    # PostgreSQL's text cannot hold NUL (SQLite would keep it, so the engines would
    # disagree); refused here, before any transaction begins. A lone surrogate (valid in
    # a JSON escape, not in UTF-8) never gets this far: pydantic's str refuses it.
    if "\x00" in value:
        raise PydanticCustomError("text_nul", "must not contain a NUL character (\\u0000)")
    return value


def _after_floor(value: date) -> date:
    if value < DATE_FLOOR:
        raise PydanticCustomError("date_floor", "must be on or after 1 January 1990")
    return value


def drop_null_defaults(schema: dict[str, Any]) -> None:
    """A model's json_schema_extra: a field that cannot be null is not documented with a
    default of null (leaving it out means "unchanged", not null)."""
    for field in schema.get("properties", {}).values():
        nullable = {"type": "null"} in field.get("anyOf", [])
        if "default" in field and field["default"] is None and not nullable:
            del field["default"]


def _not_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError("not_null", "cannot be null; leave it out to keep it")
    return value


S = TypeVar("S", bound=str)

Storable = Annotated[S, AfterValidator(_storable)]
"""A string both engines store as given. Constraints go inside, so that they stay on the
string itself (in the OpenAPI document and in their own messages):
`Storable[Annotated[str, StringConstraints(max_length=200)]]`."""

Text = Storable[str]
"""Storable text; constrain it with Field(...) on the field."""

RecordDate = Annotated[date, AfterValidator(_after_floor)]
"""A date something happened or falls due: on or after DATE_FLOOR."""


class _NullNotDocumented:
    """Documents `X | None` as X: None only stands for "left out"."""

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        branches = [s for s in schema.get("anyOf", []) if s != {"type": "null"}]
        if len(branches) != 1:
            return schema
        return {**branches[0], **{k: v for k, v in schema.items() if k != "anyOf"}}


T = TypeVar("T")

Omissible = Annotated[T | None, BeforeValidator(_not_null), _NullNotDocumented()]
"""A field that may be left out (None in Python: an update leaves it unchanged, a filter
does not filter) but cannot be null: null is refused, and the OpenAPI document does not
offer it."""
