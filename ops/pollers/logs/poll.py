"""Logs: REPORT lines and error lines from /aws/lambda/NAME → MinuteStat, ErrorGroup, ErrorMinute, LogLine.

No CloudWatch metric exists for cold starts, init time, billed duration or memory used; the
REPORT line is the only free source. A run, per account×region:
1. picks the functions that are due (busy ones — invocations in the last hour, as the metrics
   poller (Function.last_invoked_at) or this poller saw them — every run; idle ones every
   METRICS_IDLE_POLL_SECONDS) and, per log group, a window of whole minutes: from the group's cursor minus LOGS_LOOKBACK_SECONDS (log events
   arrive 5–10 minutes late) to the last whole minute, at most LOGS_MAX_WINDOW_MINUTES long;
2. reads the windows with Logs Insights (up to 50 groups per query) when LOGS_SOURCE is
   "insights" (ops.pollers.logs.insights: only groups that exist, REPORT lines aggregated
   server-side by minute, the other lines read one by one); a failed, timed-out or truncated
   (10,000-row) query falls back to FilterLogEvents for its groups, and so does the whole run
   once today's AWS budget is spent (Insights is billed per GB scanned; ops.pollers.metrics.budget);
3. parses every line (ops.pollers.logs.parse), aggregates per minute, and in one transaction per
   function *replaces* the REPORT columns of those minutes (the whole minute was re-read, so
   replacing is idempotent and late lines are included), replaces the per-minute error counts
   (ErrorMinute) and moves each group's total by the difference, and stores the error lines
   (at most MAX_LINES_PER_MINUTE per function-minute);
4. moves the group's cursor (LogsCursor) to the window's end and saves it.
A REPORT line counts in the minute it was logged, i.e. when its invocation ended (CloudWatch's
metrics stamp the start), so a long invocation's cold start can land a minute after its
Invocations point. A line that cannot be read or stored is quarantined with its reason
(ops.pollers.quarantine) and the rest of the window is stored; it never stops the run or the
cursor. A log group that does not exist means the function has not logged yet.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from ops.aws import logs as aws_logs
from ops.aws.errors import AwsError
from ops.models import PollStatus
from ops.pollers import rollup
from ops.pollers.base import PollContext
from ops.pollers.logs.cursor import LogsCursor
from ops.pollers.logs.insights import InsightsWindow, groups_existing, insights_read
from ops.pollers.metrics.budget import budget_spent_today
from ops.pollers.logs.store import aggregate, store_window
from ops.pollers.quarantine import quarantine_add
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
    read: dict[int, InsightsWindow] = {}
    insights = settings.LOGS_SOURCE == "insights"
    if insights and windows and budget_spent_today(now=at):
        # Logs Insights is billed per GB scanned; the day's budget is spent (ops.pollers.metrics.budget).
        ctx.warn("today's AWS budget is spent: reading with FilterLogEvents instead of Logs Insights until midnight UTC")
        insights = False
    if insights and windows:
        existing = groups_existing(ctx)
        if existing is not None:
            read = insights_read(ctx, windows, existing=existing)
    for pk, (group, start, stop) in windows.items():
        fn = by_pk[pk]
        if time.monotonic() > deadline:
            ctx.shortfall(f"time budget used up; {len(windows)} log group(s) were due, the rest go next run")
            break
        try:
            if pk in read:
                answered = read.pop(pk)
                agg = aggregate(answered.events, memory_mb=fn.memory_mb, stats=answered.stats)
            else:
                # Streamed: only the aggregates and the error lines are held, not every event.
                agg = aggregate(aws_logs.filter_events(ctx.scope, group, start=start, end=stop), memory_mb=fn.memory_mb)
        except AwsError as err:
            if err.permanent:
                raise
            ctx.warn(f"{fn.name}: FilterLogEvents {err.code}; re-read next run")
            continue
        try:
            ctx.items += store_window(ctx, fn, start, stop, agg)
        except IntegrityError:
            # The function row was deleted between reading and writing (its series went too).
            ctx.warn(f"{fn.name}: deleted during the poll; its log lines were dropped")
            continue
        if agg.quarantined:
            # Tallied after the window committed and before the cursor moves past it: a crash in
            # between re-reads the window, and the tally's keys keep it from counting twice.
            quarantine_add(ctx, agg.quarantined)
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
