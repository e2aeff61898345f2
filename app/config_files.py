"""Reading the YAML files operators edit (alerts/rules.yaml, alerts/routes.yaml): load
one, and turn what is wrong with it into a ConfigFileError naming the file, the entry and
the field. Base layer: imports nothing of app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError


class ConfigFileError(Exception):
    """A rules or routes file that cannot be used; the message names file, entry and field."""


def load_yaml(path: Path) -> Any:
    """The parsed file; ConfigFileError (naming the file) if it is missing or not YAML."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigFileError(f"{path}: file not found") from None
    except yaml.YAMLError as error:
        raise ConfigFileError(f"{path}: not valid YAML: {error}") from None


def describe_errors(path: Path, error: ValidationError, raw: Any, collection: str) -> str:
    """Turn pydantic errors into lines naming the file, the entry (by id) and the field."""
    lines = []
    for problem in error.errors():
        location = list(problem["loc"])
        where = ""
        if len(location) >= 2 and location[0] == collection and isinstance(location[1], int):
            index = location[1]
            entries = raw.get(collection) if isinstance(raw, dict) else None
            entry_id = None
            if (
                isinstance(entries, list)
                and index < len(entries)
                and isinstance(entries[index], dict)
            ):
                entry_id = entries[index].get("id")
            where = (
                f"{collection[:-1]} {entry_id!r}" if entry_id else f"{collection[:-1]} #{index + 1}"
            )
            location = location[2:]
        # Drop pydantic's union-branch names ("Comparison", "AllOf") from the field path.
        field = (
            ".".join(str(part) for part in location if part not in ("Comparison", "AllOf", "AnyOf"))
            or "(entry)"
        )
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {where + ': ' if where else ''}{field}: {message}")
    return "\n".join(dict.fromkeys(lines))
