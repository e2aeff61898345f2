"""UK mobile numbers for text messages: accepted as people write them (07700 900123,
+44 7700 900123, 0044 7700-900-123) and kept in one form, +447700900123."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-().]")
_UK_MOBILE = re.compile(r"7\d{9}")


def normalise_uk_mobile(value: str) -> str:
    """The number as +447...; ValueError (naming no digits) when it is not a UK mobile."""
    digits = _SEPARATORS.sub("", value.strip())
    for prefix in ("+44", "0044", "44", "0"):
        if digits.startswith(prefix):
            # "+44 (0)7700 ..." keeps the trunk 0 after the country code.
            digits = digits[len(prefix) :]
            if prefix != "0":
                digits = digits.removeprefix("0")
            break
    if not _UK_MOBILE.fullmatch(digits):
        raise ValueError("must be a UK mobile number, like 07700 900123")
    return f"+44{digits}"
