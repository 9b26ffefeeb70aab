"""Helpers the telemetry pollers share: minute alignment, cursor timestamps, wide-row defaults."""

from __future__ import annotations

from datetime import datetime, timezone as dt_timezone

from ops.models import MinuteStat


def floor_minute(ts: datetime) -> datetime:
    ts = ts.astimezone(dt_timezone.utc)
    return ts.replace(second=0, microsecond=0)


def parse_ts(value) -> datetime | None:
    """A cursor timestamp (ISO text) as an aware datetime; None when absent or unreadable."""
    if not value:
        return None
    try:
        ts = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=dt_timezone.utc)


def stat_defaults() -> dict[str, object]:
    """Every MinuteStat value column with its default (new rows must fill NOT NULL columns)."""
    out = {}
    for f in MinuteStat._meta.concrete_fields:
        if f.column in {"id", "series_id", "ts"}:
            continue
        out[f.column] = f.get_default()
    return out
