"""Field types every validated input shares (API bodies and filters, web forms), so each
rule about what may be stored is stated once and the OpenAPI document states it too:
text both engines can store, lengths counted after stripping, numbers, flags and dates
of their JSON type only, dates no earlier than the plausible floor, and fields that may
be left out but not set to null.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

# Nothing carewatch records (a visit, a safeguarding, a CQC rating) happened before this.
DATE_FLOOR = date(1990, 1, 1)


def _storable(value: Any) -> Any:
    # PostgreSQL's text cannot hold NUL (SQLite would keep it, so the engines would
    # disagree); refused here, before any transaction begins, and before the pattern
    # that documents it, so that the message says why. A lone surrogate (valid in a
    # JSON escape, not in UTF-8) is refused by pydantic's str itself.
    if isinstance(value, str) and "\x00" in value:
        raise PydanticCustomError("text_nul", "must not contain a NUL character (\\u0000)")
    return value


S = TypeVar("S", bound=str)

Storable = Annotated[S, BeforeValidator(_storable)]
"""A string both engines store as given. Constraints go inside, so that they stay on the
string itself (in the OpenAPI document and in their own messages):
`Storable[Annotated[str, limits(1, 200)]]`."""


def limits(
    min_length: int = 0, max_length: int | None = None, *, prefix: str = ""
) -> StringConstraints:
    """Length limits of storable text, which is stripped before it is measured. The
    document's pattern says both what _storable refuses (NUL) and what stripping implies
    (a minimum of n means n characters from the first non-space to the last)."""
    char, solid = r"[^\x00]", r"[^\x00\s]"
    if min_length == 0:
        body = f"{char}*"
    elif min_length == 1:
        body = f"{char}*{solid}{char}*"
    else:
        body = f"{char}*{solid}{char}{{{min_length - 2},}}{solid}{char}*"
    return StringConstraints(
        min_length=min_length or None, max_length=max_length, pattern=f"^{prefix}{body}$"
    )


Text = Storable[Annotated[str, limits()]]
"""Storable text of any length; for limits, Storable[Annotated[str, limits(...)]]."""


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = rf"{_ATOM}(\.{_ATOM})*@{_LABEL}(\.{_LABEL})+"


def _email_form(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(_EMAIL, value.strip()):
        raise PydanticCustomError("email", "must be an email address, like name@council.gov.uk")
    return value


Email = Annotated[
    str,
    StringConstraints(max_length=254, to_lower=True),
    BeforeValidator(_email_form),
    BeforeValidator(_storable),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": 254,
            "pattern": f"^{_EMAIL}$",
            "description": "an email address",
        }
    ),
]
"""An email address as carewatch takes one (a dot-atom at a domain of two labels or
more), stored in lower case. The document's pattern is the whole rule, so its promise
and the check are the same (pydantic's EmailStr also refuses some addresses that
format: email allows, such as those at .test)."""


FORM: dict[str, Any] = {"typed_as_text": True}
"""The validation context of a web form, whose numbers and yes/no answers arrive as
text: `Schema.model_validate(values, context=FORM)`."""


def _as_text_allowed(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get("typed_as_text"))


def _numeric(value: Any, info: ValidationInfo) -> Any:
    # JSON's numbers only: pydantic would also take "12" and true, which the document
    # (type: integer / number) does not offer. A form's text is another matter.
    if isinstance(value, str) and _as_text_allowed(info):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("number_type", "must be a number")
    return value


N = TypeVar("N", int, float)

Numeric = Annotated[N, BeforeValidator(_numeric)]
"""A JSON number (an integer-valued one where an int is asked); constraints go inside."""


def _flag(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, bool) or (isinstance(value, str) and _as_text_allowed(info)):
        return value
    raise PydanticCustomError("bool_type", "must be true or false")


Flag = Annotated[bool, BeforeValidator(_flag)]
"""true or false, nothing else that pydantic would read as one (but a form's text)."""


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date_text(value: Any) -> Any:
    # Only YYYY-MM-DD (or a date, from Python callers): pydantic would also read a
    # timestamp or a midnight datetime as a date.
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise PydanticCustomError("date_type", "must be a date, written YYYY-MM-DD")


def _after_floor(value: date) -> date:
    if value < DATE_FLOOR:
        raise PydanticCustomError("date_floor", "must be on or after 1 January 1990")
    return value


_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _instant_text(value: Any) -> Any:
    # RFC 3339 only, as the document's format: date-time says: pydantic would also read
    # a number as seconds since 1970.
    if isinstance(value, datetime) or (isinstance(value, str) and _INSTANT.fullmatch(value)):
        return value
    raise PydanticCustomError(
        "instant_type", "must be a date and time with its offset, e.g. 2026-11-20T10:00:00Z"
    )


Instant = Annotated[AwareDatetime, BeforeValidator(_instant_text)]
"""An instant, written as RFC 3339 with its offset."""

Day = Annotated[date, BeforeValidator(_date_text)]
"""A date, written YYYY-MM-DD (a filter's bound; RecordDate for what is recorded)."""

RecordDate = Annotated[
    date,
    BeforeValidator(_date_text),
    AfterValidator(_after_floor),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date",
            "pattern": r"^(199\d|[2-9]\d{3})-\d{2}-\d{2}$",
            "description": "YYYY-MM-DD, on or after 1990-01-01",
        }
    ),
]
"""A date something happened or falls due: on or after DATE_FLOOR."""


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
