"""An injectable clock: aware UTC instants, and the calendar day in the council's time
zone (CAREWATCH_TIMEZONE), which every "today" of the service is; and how pages and
messages write a day and a time for officers ("1 December 2026 at 3:30pm")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Europe/London"


class Clock(Protocol):
    zone: tzinfo

    def now(self) -> datetime: ...

    def today(self) -> date: ...


def local_date(instant: datetime, zone: tzinfo) -> date:
    """The council's calendar day at an aware instant (00:30 BST on 2 July is 2 July,
    though it is still 1 July in UTC)."""
    if instant.tzinfo is None:
        raise ValueError("local_date needs an aware datetime")
    return instant.astimezone(zone).date()


def long_date(day: date) -> str:
    """1 December 2026: the GOV.UK style for dates."""
    return f"{day.day} {day:%B %Y}"


def clock_time(moment: datetime) -> str:
    """3:30pm, 10am, midday, midnight: the GOV.UK style for times."""
    if moment.minute == 0 and moment.hour in (0, 12):
        return "midnight" if moment.hour == 0 else "midday"
    hour = moment.hour % 12 or 12
    minutes = f":{moment.minute:02d}" if moment.minute else ""
    return f"{hour}{minutes}{'am' if moment.hour < 12 else 'pm'}"


def parse_moment(value: object) -> date | datetime | None:
    """A date or datetime, also from its ISO text (dates inside an event's data)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return None
    return value if isinstance(value, date) else None


def local_time(instant: datetime, zone: tzinfo) -> datetime:
    """A stored instant (UTC; naive ones are UTC too) as the council's wall-clock time."""
    aware = instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)
    return aware.astimezone(zone)


def written_date(value: object, zone: tzinfo) -> str:
    """A date, or the council's day of an instant, as "1 December 2026" ("" for none)."""
    moment = parse_moment(value)
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        moment = local_time(moment, zone).date()
    return long_date(moment)


def written_instant(value: object, zone: tzinfo) -> str:
    """An instant as "1 December 2026 at 3:30pm" in the council's time zone."""
    moment = parse_moment(value)
    if moment is None:
        return ""
    if not isinstance(moment, datetime):
        return long_date(moment)
    local = local_time(moment, zone)
    return f"{long_date(local)} at {clock_time(local)}"


class SystemClock:
    """The real clock."""

    def __init__(self, zone: tzinfo | str = DEFAULT_TIMEZONE) -> None:
        self.zone = ZoneInfo(zone) if isinstance(zone, str) else zone

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return local_date(self.now(), self.zone)


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime, zone: tzinfo | str = DEFAULT_TIMEZONE) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self.zone = ZoneInfo(zone) if isinstance(zone, str) else zone

    def now(self) -> datetime:
        return self._now

    def today(self) -> date:
        return local_date(self._now, self.zone)

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, instant: datetime) -> None:
        self._now = instant.astimezone(UTC)
