"""The Jinja2 environment of the web pages (templates/web), with the filters the pages
share: dates and times the GOV.UK way ("1 December 2026", "1 December 2026 at 3:30pm",
in the council's time zone), labels for enumerations, and the colour of each tag."""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context

from app.clock import DEFAULT_TIMEZONE, written_date, written_instant
from app.events import EVENT_TYPES

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates" / "web"

LEVEL_TAGS = {
    "routine": "govuk-tag--green",
    "enhanced": "govuk-tag--yellow",
    "intensive": "govuk-tag--red",
}
RATING_TAGS = {
    "outstanding": "govuk-tag--turquoise",
    "good": "govuk-tag--green",
    "requires_improvement": "govuk-tag--orange",
    "inadequate": "govuk-tag--red",
    "not_rated": "govuk-tag--grey",
}
STATUS_TAGS = {
    "sent": "govuk-tag--green",
    "pending": "govuk-tag--blue",
    "sending": "govuk-tag--light-blue",
    "failed": "govuk-tag--red",
    "open": "govuk-tag--yellow",
    "enquiry": "govuk-tag--orange",
    "closed": "govuk-tag--grey",
    "complete": "govuk-tag--green",
    "in_progress": "govuk-tag--blue",
    "not_started": "govuk-tag--grey",
    "agreed": "govuk-tag--green",
    "draft": "govuk-tag--yellow",
    "green": "govuk-tag--green",
    "amber": "govuk-tag--orange",
    "red": "govuk-tag--red",
}


def _zone(context: Context) -> tzinfo:
    """The council's time zone, from the settings of the app serving the page."""
    request = context.get("request")
    settings = getattr(getattr(request, "app", None), "state", None)
    name = getattr(getattr(settings, "settings", None), "timezone", DEFAULT_TIMEZONE)
    return ZoneInfo(name)


@pass_context
def govuk_date(context: Context, value: Any) -> str:
    """1 December 2026 (an instant: the day it was in the council's time zone)."""
    return written_date(value, _zone(context))


@pass_context
def instant(context: Context, value: Any) -> str:
    """1 December 2026 at 3:30pm, in the council's time zone."""
    return written_instant(value, _zone(context))


def label(value: Any) -> str:
    if value is None:
        return ""
    text = str(getattr(value, "value", value)).replace("_", " ")
    return text[:1].upper() + text[1:]


def tag_class(value: Any) -> str:
    key = str(getattr(value, "value", value))
    return LEVEL_TAGS.get(key) or RATING_TAGS.get(key) or STATUS_TAGS.get(key, "govuk-tag--grey")


def build_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.filters.update(
        govuk_date=govuk_date,
        instant=instant,
        label=label,
        tag_class=tag_class,
    )
    env.globals.update(service_name="carewatch", event_types=EVENT_TYPES)
    env.trim_blocks = True
    env.lstrip_blocks = True
    return templates
