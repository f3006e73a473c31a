"""Local days of a contract's time zone as UTC instants (STYLE.md "Money and
time": UTC in the database, periods in the contract's zone)."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo


def local_midnight_utc(day: date, tz: ZoneInfo) -> datetime:
    """The instant a local day starts. zoneinfo resolves DST; a zone whose
    midnight is skipped by a DST jump starts the day at the first instant
    that exists."""
    return datetime.combine(day, time(0), tzinfo=tz)
