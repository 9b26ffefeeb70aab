"""Logs: REPORT lines and error lines from /aws/lambda/NAME → MinuteStat, ErrorGroup, ErrorMinute, LogLine.

No CloudWatch metric exists for cold starts, init time, billed duration or memory used; the
REPORT line is the only free source. A run, per account×region:
1. picks the functions that are due (busy ones — invocations in the last hour, as the metrics
   poller (Function.last_invoked_at) or this poller saw them — every run; idle ones every
   METRICS_IDLE_POLL_SECONDS) and, per log group, a window of whole minutes: from the group's cursor minus LOGS_LOOKBACK_SECONDS (log events
   arrive 5–10 minutes late) to the last whole minute, at most LOGS_MAX_WINDOW_MINUTES long;
2. reads the windows with Logs Insights (up to 50 groups per query) when LOGS_SOURCE is
   "insights"; a failed, timed-out or truncated (10,000-row) query falls back to
   FilterLogEvents for its groups;
3. parses every line (ops.pollers.logs.parse), aggregates per minute, and in one transaction per
   function *replaces* the REPORT columns of those minutes (the whole minute was re-read, so
   replacing is idempotent and late lines are included), replaces the per-minute error counts
   (ErrorMinute) and moves each group's total by the difference, and stores the error lines
   (at most MAX_LINES_PER_MINUTE per function-minute);
4. moves the group's cursor (LogsCursor) to the window's end and saves it.
A REPORT line counts in the minute it was logged, i.e. when its invocation ended (CloudWatch's
metrics stamp the start), so a long invocation's cold start can land a minute after its
Invocations point. A line that cannot be read is counted and reported as one warning per
function; it never stops the run. A log group that does not exist means the function has not logged yet.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from ops.aws import logs as aws_logs
from ops.aws.errors import AwsError
from ops.aws.logs import InsightsUnavailable, LogEvent
from ops.models import PollStatus
from ops.pollers import rollup
from ops.pollers.base import PollContext
from ops.pollers.logs.cursor import LogsCursor
from ops.pollers.logs.store import aggregate, store_window
from ops.pollers.rows import ACTIVE_WINDOW, floor_minute, scope_functions


def now() -> datetime:
    """The poller's clock (tests replace it)."""
    return timezone.now()


# ---------------------------------------------------------------------------------------------
# The run


def logs_poll(ctx: PollContext) -> None:
    at = now()
    end = floor_minute(at)
    functions = scope_functions(ctx, at)
    cursor = LogsCursor.from_json(ctx.cursor, warn=ctx.warn)
    cursors: dict[str, datetime] = dict(cursor.groups)
    keys = {str(fn.pk) for fn in functions}
    active: dict[str, datetime] = {k: v for k, v in cursor.active.items() if k in keys}
    # Busy: invoked in the last hour, as the metrics poller saw it or as this poller's REPORT lines did.
    since = end - ACTIVE_WINDOW
    busy = {str(fn.pk) for fn in functions if fn.last_invoked_at is not None and fn.last_invoked_at >= since}
    busy |= {k for k, v in active.items() if v >= since}
    lookback = timedelta(seconds=settings.LOGS_LOOKBACK_SECONDS)
    max_window = timedelta(minutes=settings.LOGS_MAX_WINDOW_MINUTES)
    windows: dict[int, tuple[str, datetime, datetime]] = {}
    stepped = False
    for fn in functions:
        group = aws_logs.log_group_for(fn.name)
        until = cursors.get(group)
        if until is not None and until > end:
            stepped, until = True, end
            cursors[group] = end
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
            ctx.shortfall(f"time budget used up; {len(windows)} log group(s) were due, the rest go next run")
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
        if last is not None and (str(pk) not in active or last > active[str(pk)]):
            active[str(pk)] = last
        cursors[group] = stop
        ctx.cursor = LogsCursor(groups=dict(cursors), active=dict(active)).to_json()
        PollStatus.objects.filter(pk=ctx.status.pk).update(cursor=ctx.cursor)
    ctx.cursor = LogsCursor(groups=dict(cursors), active=dict(active)).to_json()
    # Complete up to the oldest cursor of the busy functions (idle ones are read less often by design).
    groups_busy = [cursors[aws_logs.log_group_for(fn.name)] for fn in functions
                   if str(fn.pk) in busy and aws_logs.log_group_for(fn.name) in cursors]
    ctx.data_until = min(groups_busy, default=None)
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

