"""Time ranges as the URL holds them: a preset ("6h") or a custom [start, end) in UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ops.timefmt import iso_utc

RANGES: dict[str, int] = {"1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
RANGE_LABELS = {"1h": "last 1 h", "6h": "last 6 h", "24h": "last 24 h", "7d": "last 7 d", "30d": "last 30 d"}
MIN_CUSTOM_S = 5 * 60
MAX_CUSTOM_S = 400 * 86400


@dataclass(frozen=True)
class TimeRange:
    """A half-open UTC interval [start, end) named by a preset key ("6h") or "custom"."""

    key: str
    start: datetime
    end: datetime

    @classmethod
    def preset(cls, key: str, *, now: datetime | None = None) -> "TimeRange":
        now = now or timezone.now()
        end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        return cls(key=key, start=end - timedelta(seconds=RANGES[key]), end=end)

    @classmethod
    def custom(cls, start: datetime, end: datetime, *, now: datetime | None = None) -> "TimeRange":
        """[start, end) kept sane: no later than the next minute, at least 5 min, at most 400 days;
        in UTC, whatever offset the query gave (the label names UTC)."""
        now = now or timezone.now()
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        end = min(end, now + timedelta(minutes=1))
        if end - start < timedelta(seconds=MIN_CUSTOM_S):
            start = end - timedelta(seconds=MIN_CUSTOM_S)
        start = max(start, end - timedelta(seconds=MAX_CUSTOM_S))
        return cls(key="custom", start=start.replace(microsecond=0), end=end.replace(microsecond=0))

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())

    @property
    def label(self) -> str:
        if self.key in RANGE_LABELS:
            return RANGE_LABELS[self.key]
        fmt = "%Y-%m-%d %H:%M"
        return f"{self.start.strftime(fmt)} – {self.end.strftime(fmt)} UTC"

    def as_query(self) -> dict[str, str]:
        if self.key in RANGES:
            return {"range": self.key}
        return {"range": "custom", "start": iso_utc(self.start), "end": iso_utc(self.end)}


def parse_instant(raw) -> datetime | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    if raw.isdigit():  # epoch milliseconds, what a chart's zoom gives
        try:
            return datetime.fromtimestamp(int(raw) / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        dt = parse_datetime(raw.replace(" ", "T"))
    except ValueError:
        return None
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
