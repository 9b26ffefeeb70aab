"""Reads behind one function's charts and their clicks: one metric per bucket (the series API)
and the error lines of a clicked bucket."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ops.models import Function, LogLine, Series
from ops.rules import cost as cost_rule
from ops.selectors.telemetry import rate, series_buckets
from ops.selectors.timerange import TimeRange


# Metrics that are not a stored column but derived per bucket by the rules.
DERIVED_METRICS = ("error_rate", "cost")


@dataclass
class MetricPoints:
    step_s: int
    ts: list[datetime]
    values: list[float | None]


def function_metric_series(*, function: Function, series: Series, metric: str, time_range: TimeRange) -> MetricPoints:
    """One metric of the function-level series per bucket (one query): a stored column as
    ``series_buckets`` aggregates it, or a derived one — the error rate within the bucket, or
    the bucket's cost by the cost rule."""
    if metric == "cost":
        columns = cost_rule.BUCKET_COLUMNS
    elif metric == "error_rate":
        columns = ("invocations", "errors")
    else:
        columns = (metric,)
    known = {series.id: function.metrics_known_until} if function.metrics_known_until else None
    data = series_buckets(series_ids=[series.id], time_range=time_range, columns=columns, known_until=known)[series.id]
    if metric == "error_rate":
        values = [rate(e, i) for e, i in zip(data["errors"], data["invocations"])]
    elif metric == "cost":
        values = cost_rule.bucket_costs(
            data, region=function.region, architecture=function.architecture, memory_mb=function.memory_mb
        )
    else:
        values = data[metric]
    return MetricPoints(step_s=data.step_s, ts=data.ts, values=values)


@dataclass
class MinuteDetail:
    start: datetime
    end: datetime
    lines: list[LogLine]
    truncated: bool


def minute_lines(*, function: Function, start: datetime, seconds: int = 60, limit: int = 100) -> MinuteDetail:
    """The error lines logged in [start, start + seconds): what a chart point opens."""
    end = start + timedelta(seconds=max(60, min(seconds, 86400)))
    lines = list(
        LogLine.objects.filter(function=function, ts__gte=start, ts__lt=end)
        .select_related("group")
        .order_by("ts", "id")[: limit + 1]
    )
    return MinuteDetail(start=start, end=end, lines=lines[:limit], truncated=len(lines) > limit)
