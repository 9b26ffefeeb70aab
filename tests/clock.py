"""Test times relative to now, so no test expires.

Simulated traffic, stored rows and log lines are stamped a whole number of hours before the
current hour: floored, so minute and bucket maths stays exact, and recent, so SQS (which keeps
messages 4 days by its own clock), CloudWatch and the pollers' trailing windows still see them.
The suite also runs with the clock moved 60 days ahead (see scripts/faketime.sh); nothing here
may depend on a particular date.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def this_hour() -> datetime:
    """The start of the current UTC hour."""
    return datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)


def hours_ago(hours: int = 0, *, days: int = 0) -> datetime:
    """A whole UTC hour, ``days`` and ``hours`` before the current one."""
    return this_hour() - timedelta(days=days, hours=hours)


def iso_ms(ts: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ``: how Lambda stamps its log lines."""
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def iso_s(ts: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ``."""
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def stream_day(ts: datetime) -> str:
    """``YYYY/MM/DD``: the date prefix of a Lambda log stream name."""
    return ts.astimezone(timezone.utc).strftime("%Y/%m/%d")
