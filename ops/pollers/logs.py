"""Logs: REPORT lines and error lines from /aws/lambda/NAME → MinuteStat, ErrorGroup, ErrorMinute, LogLine.

No CloudWatch metric exists for cold starts, init time, billed duration or memory used; the
REPORT line is the only free source. A run, per account×region:
1. picks the functions that are due (busy ones — invocations in the last hour, as the metrics
   poller or this poller saw them — every run; idle ones every METRICS_IDLE_POLL_SECONDS) and, per log group,
   a window of whole minutes: from the group's cursor minus LOGS_LOOKBACK_SECONDS (log events
   arrive 5–10 minutes late) to the last whole minute, at most LOGS_MAX_WINDOW_MINUTES long;
2. reads the windows with Logs Insights (up to 50 groups per query) when LOGS_SOURCE is
   "insights"; a failed, timed-out or truncated (10,000-row) query falls back to
   FilterLogEvents for its groups;
3. parses every line (ops.pollers.logparse), aggregates per minute, and in one transaction per
   function *replaces* the REPORT columns of those minutes (the whole minute was re-read, so
   replacing is idempotent and late lines are included), replaces the per-minute error counts
   (ErrorMinute) and moves each group's total by the difference, and stores the error lines
   (at most MAX_LINES_PER_MINUTE per function-minute);
4. moves the group's cursor (PollStatus.cursor["groups"]) to the window's end and saves it.
A REPORT line counts in the minute it was logged, i.e. when its invocation ended (CloudWatch's
metrics stamp the start), so a long invocation's cold start can land a minute after its
Invocations point. A line that cannot be read is counted and reported as one warning per
function; it never stops the run. A log group that does not exist means the function has not logged yet.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ops.aws import logs as aws_logs
from ops.aws.errors import AwsError
from ops.aws.logs import InsightsUnavailable, LogEvent
from ops.models import ErrorGroup, ErrorMinute, Function, PollSource, PollStatus, Series, SeriesKind
from ops.pollers import logparse, rollup
from ops.pollers.base import PollContext
from ops.pollers.metrics_targets import ACTIVE_WINDOW, scope_functions
from ops.pollers.rows import floor_minute, parse_ts, stat_defaults
from ops.pollers.metrics_plan import COUNT_COLUMNS, METRIC_COLUMNS
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


def now() -> datetime:
    """The poller's clock (tests replace it)."""
    return timezone.now()


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


# ---------------------------------------------------------------------------------------------
# The run


def _busy_keys(ctx: PollContext, end: datetime) -> set[str]:
    """Functions the metrics poller saw invoked in the last hour (its cursor says so)."""
    status = PollStatus.objects.filter(source=PollSource.METRICS, account=ctx.account, region=ctx.region).first()
    active = (status.cursor or {}).get("active", {}) if status else {}
    return {k for k, v in active.items() if (parse_ts(v) or end) >= end - ACTIVE_WINDOW}


def logs_poll(ctx: PollContext) -> None:
    at = now()
    end = floor_minute(at)
    functions = scope_functions(ctx, at)
    cursors: dict[str, str] = dict(ctx.cursor.get("groups", {}))
    keys = {str(fn.pk) for fn in functions}
    active: dict[str, str] = {k: v for k, v in ctx.cursor.get("active", {}).items() if k in keys}
    busy = _busy_keys(ctx, end) | {k for k, v in active.items() if (parse_ts(v) or end) >= end - ACTIVE_WINDOW}
    lookback = timedelta(seconds=settings.LOGS_LOOKBACK_SECONDS)
    max_window = timedelta(minutes=settings.LOGS_MAX_WINDOW_MINUTES)
    windows: dict[int, tuple[str, datetime, datetime]] = {}
    stepped = False
    for fn in functions:
        group = aws_logs.log_group_for(fn.name)
        until = parse_ts(cursors.get(group))
        if until is not None and until > end:
            stepped, until = True, end
            cursors[group] = end.isoformat()
        if until is None:
            start = end - max(lookback, timedelta(minutes=settings.LOGS_INITIAL_BACKFILL_MINUTES))
        else:
            interval = settings.LOGS_POLL_SECONDS if str(fn.pk) in busy else settings.METRICS_IDLE_POLL_SECONDS
            if (end - until).total_seconds() < max(interval, 60):
                continue
            start = until - lookback
        stop = min(end, start + max_window)
        windows[fn.pk] = (group, start, stop)
    if stepped:
        ctx.warn("clock stepped back: log cursors were ahead of now and were reset to the current minute")

    by_pk = {fn.pk: fn for fn in functions}
    # Minutes older than the roll-up task's trailing window are rolled up here (as the metrics
    # poller does for its catch-up), or the 5-minute and hourly tables would miss them.
    rolled_before = end - timedelta(hours=settings.ROLLUP_TRAILING_HOURS)
    catch_up: list[datetime] = []
    deadline = time.monotonic() + settings.POLL_RUN_SECONDS
    # Furthest behind first, so a run cut short by its time budget never starves the same groups.
    windows = dict(sorted(windows.items(), key=lambda kv: kv[1][1]))
    events: dict[int, list[LogEvent]] = {}
    if settings.LOGS_SOURCE == "insights":
        events = _read_insights(ctx, windows)
    for pk, (group, start, stop) in windows.items():
        fn = by_pk[pk]
        if time.monotonic() > deadline:
            ctx.warn(f"time budget used up; {len(windows)} log group(s) were due, the rest go next run")
            break
        try:
            # Streamed: only the aggregates and the error lines are held, not every event.
            source = events.pop(pk) if pk in events else aws_logs.filter_events(ctx.scope, group, start=start, end=stop)
            agg = aggregate(source, memory_mb=fn.memory_mb)
        except AwsError as err:
            if err.permanent:
                raise
            ctx.warn(f"{fn.name}: FilterLogEvents {err.code}; re-read next run")
            continue
        if agg.bad:
            reasons = "; ".join(f"{n}× {r}" for r, n in agg.bad.most_common(3))
            ctx.warn(f"{fn.name}: unreadable log line(s): {reasons} (e.g. {agg.bad_example!r})")
        try:
            ctx.items += store_window(ctx, fn, start, stop, agg)
        except IntegrityError:
            # The function row was deleted between reading and writing (its series went too).
            ctx.warn(f"{fn.name}: deleted during the poll; its log lines were dropped")
            continue
        if start < rolled_before:
            catch_up += [start, min(stop, rolled_before)]
        last = max((m for m, a in agg.minutes.items() if a.reports), default=None)
        if last is not None and last.isoformat() > active.get(str(pk), ""):
            active[str(pk)] = last.isoformat()
        cursors[group] = stop.isoformat()
        ctx.cursor = {"groups": cursors, "active": active}
        PollStatus.objects.filter(pk=ctx.status.pk).update(cursor=ctx.cursor)
    ctx.cursor = {"groups": cursors, "active": active}
    if catch_up:
        rollup.rollup_range(start=min(catch_up), end=max(catch_up))


def _read_insights(ctx: PollContext, windows: dict[int, tuple[str, datetime, datetime]]) -> dict[int, list[LogEvent]]:
    """Events per function for the windows Logs Insights could answer completely."""
    same: dict[tuple[datetime, datetime], list[tuple[int, str]]] = defaultdict(list)
    for pk, (group, start, stop) in windows.items():
        same[(start, stop)].append((pk, group))
    out: dict[int, list[LogEvent]] = {}
    warned = False
    for (start, stop), members in same.items():
        for i in range(0, len(members), aws_logs.INSIGHTS_MAX_GROUPS):
            part = members[i : i + aws_logs.INSIGHTS_MAX_GROUPS]
            try:
                res = aws_logs.insights_events(
                    ctx.scope,
                    [g for _, g in part],
                    start=start,
                    end=stop,
                    timeout_s=settings.LOGS_INSIGHTS_TIMEOUT_SECONDS,
                )
            except (InsightsUnavailable, AwsError) as exc:
                if isinstance(exc, AwsError) and exc.code in {"AccessDeniedException", "AccessDenied"}:
                    raise
                if not warned:
                    ctx.warn(f"Logs Insights unavailable ({getattr(exc, 'code', exc)}); read with FilterLogEvents")
                    warned = True
                continue
            if res.truncated:
                ctx.warn(f"Logs Insights hit its 10,000-row limit for {len(part)} log group(s); read with FilterLogEvents")
                continue
            for pk, g in part:
                out[pk] = res.events.get(g, [])
    return out


SOURCE = PollSource.LOGS
