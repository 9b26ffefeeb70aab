"""One function's window of log lines → per-minute REPORT aggregates, error groups and lines.

``aggregate`` is pure; ``store_window`` writes the window in one transaction and is idempotent:
the REPORT columns and per-minute error counts of the re-read minutes are replaced, and each
error group's total moves by the difference.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction

from ops.aws.logs import LogEvent
from ops.models import ErrorGroup, ErrorMinute, Function, Series, SeriesKind
from ops.pollers.base import PollContext
from ops.pollers.logs import parse as logparse
from ops.pollers.metrics.plan import COUNT_COLUMNS, METRIC_COLUMNS
from ops.pollers.rows import floor_minute, stat_defaults
from ops.pollers.storage import bulk_upsert

LOG_COLUMNS = (
    "reports",
    "cold_starts",
    "init_duration_sum",
    "init_duration_max",
    "billed_duration_sum",
    "billed_gb_s",
    "memory_used_max_mb",
    "memory_size_mb",
    "log_errors",
)
MAX_LINES_PER_MINUTE = 50
# Lambda names log streams "2026/11/23/[$LATEST]abc…" or "…/[7]abc…": the version that ran.
VERSION_IN_STREAM = re.compile(r"\[([^\]]+)\]")
MAX_SAMPLES = 5


@dataclass
class MinuteAgg:
    reports: int = 0
    cold_starts: int = 0
    init_duration_sum: float = 0.0
    init_duration_max: float | None = None
    billed_duration_sum: float = 0.0
    billed_gb_s: float = 0.0
    memory_used_max_mb: int | None = None
    memory_size_mb: int | None = None
    log_errors: int = 0

    def add_report(self, r: logparse.Report, *, memory_mb: int) -> None:
        self.reports += 1
        if r.init_ms is not None:
            self.cold_starts += 1
            self.init_duration_sum += r.init_ms
            self.init_duration_max = max(self.init_duration_max or 0.0, r.init_ms)
        self.billed_duration_sum += r.billed_ms if r.billed_ms is not None else math.ceil(r.duration_ms)
        self.billed_gb_s += r.billed_gb_s(memory_mb=memory_mb)
        if r.max_memory_mb is not None:
            self.memory_used_max_mb = max(self.memory_used_max_mb or 0, r.max_memory_mb)
        size = r.memory_mb or memory_mb
        if size:
            self.memory_size_mb = max(self.memory_size_mb or 0, size)

    def values(self) -> tuple:
        return tuple(getattr(self, c) for c in LOG_COLUMNS)


@dataclass
class WindowAgg:
    minutes: dict[datetime, MinuteAgg] = field(default_factory=lambda: defaultdict(MinuteAgg))
    errors: list[tuple[LogEvent, logparse.ErrorLine]] = field(default_factory=list)
    bad: Counter = field(default_factory=Counter)
    bad_example: str = ""


def aggregate(events, *, memory_mb: int) -> WindowAgg:
    """Per-minute REPORT aggregates and the error lines of a window's events (pure)."""
    agg = WindowAgg()
    for e in events:
        m = floor_minute(e.timestamp)
        try:
            parsed = logparse.parse_line(e.message)
        except logparse.BadLine as bad:
            agg.bad[str(bad)] += 1
            agg.bad_example = agg.bad_example or e.message[:120]
            continue
        if isinstance(parsed, logparse.Report):
            agg.minutes[m].add_report(parsed, memory_mb=memory_mb)
            parsed = logparse.json_error_of_report(e.message)
        if isinstance(parsed, logparse.ErrorLine):
            agg.minutes[m].log_errors += 1
            agg.errors.append((e, parsed))
    return agg


# ---------------------------------------------------------------------------------------------
# Storing one function's window


def _function_series(fn: Function) -> int:
    series, _ = Series.objects.get_or_create(function=fn, kind=SeriesKind.FUNCTION, qualifier="")
    return series.pk


def store_window(ctx: PollContext, fn: Function, start: datetime, stop: datetime, agg: WindowAgg) -> int:
    """Write one function's [start, stop) in one transaction; return rows changed."""
    defaults = stat_defaults()
    metric_defaults = {c: (0 if c in COUNT_COLUMNS else None) for c in METRIC_COLUMNS}
    cols = list(defaults)
    with transaction.atomic():
        sid = _function_series(fn)
        rows = []
        for m, a in agg.minutes.items():
            row = {**defaults, **metric_defaults, **dict(zip(LOG_COLUMNS, a.values()))}
            rows.append((sid, m, *[row[c] for c in cols]))
        n = bulk_upsert(
            table="ops_minutestat",
            key=["series_id", "ts"],
            columns=["series_id", "ts", *cols],
            rows=rows,
            update=LOG_COLUMNS,
            fk_guard=("series_id", "ops_series"),
        )
        n += _store_errors(fn, start, stop, agg.errors)
    return n


def _store_errors(fn: Function, start: datetime, stop: datetime, errors) -> int:
    if not errors:
        return 0
    by_sig: dict[str, list[tuple[LogEvent, logparse.ErrorLine]]] = defaultdict(list)
    for e, err in errors:
        by_sig[err.signature].append((e, err))
    ErrorGroup.objects.bulk_create(
        [
            ErrorGroup(
                function=fn,
                signature=sig,
                error_type=items[0][1].error_type[:200],
                message=items[0][1].message,
                count=0,
                first_seen=min(e.timestamp for e, _ in items),
                last_seen=max(e.timestamp for e, _ in items),
            )
            for sig, items in by_sig.items()
        ],
        ignore_conflicts=True,
    )
    groups = {g.signature: g for g in ErrorGroup.objects.select_for_update().filter(function=fn, signature__in=list(by_sig))}
    new: Counter[tuple[int, datetime]] = Counter()
    for sig, items in by_sig.items():
        for e, _ in items:
            new[(groups[sig].pk, floor_minute(e.timestamp))] += 1
    old = {
        (gid, ts): c
        for gid, ts, c in ErrorMinute.objects.filter(
            group_id__in=[g.pk for g in groups.values()], ts__gte=start, ts__lt=stop
        ).values_list("group_id", "ts", "count")
    }
    n = bulk_upsert(
        table="ops_errorminute",
        key=["group_id", "ts"],
        columns=["group_id", "ts", "count"],
        rows=[(gid, ts, c) for (gid, ts), c in new.items()],
    )
    delta: Counter[int] = Counter()
    for (gid, _ts), c in new.items():
        delta[gid] += c
    for (gid, _ts), c in old.items():
        delta[gid] -= c
    for sig, g in groups.items():
        items = by_sig[sig]
        g.count += delta[g.pk]
        g.first_seen = min([g.first_seen, *(e.timestamp for e, _ in items)])
        g.last_seen = max([g.last_seen, *(e.timestamp for e, _ in items)])
        g.samples = _samples(g.samples, items)
        g.save(update_fields=["count", "first_seen", "last_seen", "samples"])

    per_minute: Counter[datetime] = Counter()
    lines = []
    for e, err in sorted(errors, key=lambda x: x[0].timestamp):
        m = floor_minute(e.timestamp)
        if per_minute[m] >= MAX_LINES_PER_MINUTE:
            continue
        per_minute[m] += 1
        lines.append(
            (fn.pk, e.timestamp, err.request_id[:64], groups[err.signature].pk, e.stream[:512], e.event_id, e.message[:8000])
        )
    n += bulk_upsert(
        table="ops_logline",
        key=["function_id", "stream", "event_id"],
        columns=["function_id", "ts", "request_id", "group_id", "stream", "event_id", "message"],
        rows=lines,
        update=[],
        fk_guard=("function_id", "ops_function"),
    )
    return n


def _samples(old: list, items) -> list:
    """The newest few example lines, one per request id."""
    merged = {(s.get("request_id"), s.get("ts")): s for s in (old or []) if isinstance(s, dict)}
    for e, err in items:
        version = VERSION_IN_STREAM.search(e.stream)
        merged[(err.request_id, e.timestamp.isoformat())] = {
            "ts": e.timestamp.isoformat(),
            "request_id": err.request_id,
            "line": e.message[:1000],
            "stream": e.stream,
            "version": version.group(1) if version else "",
        }
    newest = sorted(merged.values(), key=lambda s: s["ts"], reverse=True)
    out, seen = [], set()
    for s in newest:
        if s["request_id"] in seen:
            continue
        seen.add(s["request_id"])
        out.append(s)
        if len(out) == MAX_SAMPLES:
            break
    return out
