"""Helpers the telemetry pollers share: the functions of a scope, minute alignment, wide-row
defaults."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone as dt_timezone

from django.db.models import Q

from ops.models import Function, MinuteStat

# A function invoked within this window is "busy": both telemetry pollers read it every run.
ACTIVE_WINDOW = timedelta(hours=1)


def scope_functions(ctx, at: datetime) -> list[Function]:
    """Live functions, and those gone within the trailing window (their last points still land)."""
    return list(
        Function.objects.filter(account=ctx.account, region=ctx.region)
        .filter(Q(gone_at=None) | Q(gone_at__gte=at - ACTIVE_WINDOW))
        .prefetch_related("event_sources")
        .order_by("pk")
    )


def floor_minute(ts: datetime) -> datetime:
    ts = ts.astimezone(dt_timezone.utc)
    return ts.replace(second=0, microsecond=0)


def stat_defaults() -> dict[str, object]:
    """Every MinuteStat value column with its default (new rows must fill NOT NULL columns)."""
    out = {}
    for f in MinuteStat._meta.concrete_fields:
        if f.column in {"id", "series_id", "ts"}:
            continue
        out[f.column] = f.get_default()
    return out
