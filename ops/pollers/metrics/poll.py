"""Metrics: CloudWatch GetMetricData → MinuteStat / RegionStat / QueueStat, per account×region.

A run:
1. builds the targets: one per function (its own series, each alias, each version an alias
   points or recently pointed to), plus one for the scope (region-level concurrency and the known DLQs);
2. plans the cadence: functions with invocations in the last hour (Function.last_invoked_at,
   which this poller keeps) are "busy" and polled every run, idle ones every
   METRICS_IDLE_POLL_SECONDS; both stretch if the projected GetMetricData spend would pass this
   scope's share of CLOUDWATCH_DAILY_BUDGET_USD (plan.plan_cadence); the plan is recorded on
   MetricsCadence for the status page;
3. for each due target picks a window: from its cursor minus the trailing re-read (the longest
   function timeout + METRICS_LATE_BUFFER_SECONDS — Lambda stamps points with the invocation's
   start and publishes them when it ends), to the last whole minute. A target with no cursor
   starts METRICS_INITIAL_BACKFILL_MINUTES back; a cursor older than CloudWatch's 15-day
   1-minute retention is clamped (with a warning: that part is lost);
4. groups targets with the same window start and walks each group's window in chunks of
   METRICS_CHUNK_MINUTES (≤ 201 points per query keeps 500 queries per call), oldest first,
   so a catch-up after downtime leaves no gap; at most METRICS_MAX_CHUNKS_PER_RUN per run;
5. per chunk: GetMetricData (batched, paged, paced — ops.aws.cloudwatch), rows built, one bulk
   upsert per table (only the metrics columns of MinuteStat), then the cursors of the targets
   in the chunk move to its end and are saved at once (MetricsCursor) — a crash later loses nothing.
A throttled or failing chunk is a warning: its targets keep their cursors and are re-read next
run; the other groups go on. Targets with PartialData results keep their cursors too.
Points are stored sparsely: a series-minute with no datapoint at all has no row (absent rows
mean zero counts and unknown gauges); in a row, a missing count is 0 and a missing gauge NULL.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from ops.aws import cloudwatch
from ops.aws.cloudwatch import MetricBatch
from ops.aws.errors import AwsError
from ops.models import Function, MetricsCadence, PollStatus
from ops.pollers import rollup
from ops.pollers.base import PollContext
from ops.pollers.metrics import plan
from ops.pollers.metrics.cursor import MetricsCursor
from ops.pollers.metrics.store import store_batch
from ops.pollers.metrics.targets import SCOPE_KEY, Target, build_targets
from ops.pollers.rows import ACTIVE_WINDOW, floor_minute, scope_functions


PARTIAL_RETRIES = 3


def now() -> datetime:
    """The poller's clock (tests replace it)."""
    return timezone.now()


def _budget_share(ctx: PollContext, functions_here: int) -> float:
    """This scope's part of the daily budget, in proportion to its functions."""
    total = Function.objects.filter(account__enabled=True, gone_at=None).count()
    if total <= 0:
        return float(settings.CLOUDWATCH_DAILY_BUDGET_USD)
    return float(settings.CLOUDWATCH_DAILY_BUDGET_USD) * max(functions_here, 1) / max(total, functions_here, 1)


def _cadence(ctx: PollContext, targets: list[Target], busy: set[str]) -> plan.Cadence:
    busy_q = sum(len(t.queries) for t in targets if t.key in busy)
    idle_q = sum(len((t.probe or t).queries) for t in targets if t.key != SCOPE_KEY and t.key not in busy)
    fixed_q = sum(len(t.queries) for t in targets if t.key == SCOPE_KEY)
    return plan.plan_cadence(
        busy_queries=busy_q,
        idle_queries=idle_q,
        fixed_queries=fixed_q,
        budget_usd=_budget_share(ctx, len(targets) - 1),
        base_s=settings.METRICS_POLL_SECONDS,
        idle_s=settings.METRICS_IDLE_POLL_SECONDS,
    )


# ---------------------------------------------------------------------------------------------
# The run


def metrics_poll(ctx: PollContext) -> None:
    at = now()
    end = floor_minute(at)
    functions = scope_functions(ctx, at)
    targets = build_targets(ctx, functions, settings.METRICS_PERCENTILES)
    max_timeout = max((f.timeout_s for f in functions), default=0)
    lookback = timedelta(minutes=math.ceil((max_timeout + settings.METRICS_LATE_BUFFER_SECONDS) / 60))
    oldest = end - timedelta(days=settings.CLOUDWATCH_MINUTE_RETENTION_DAYS) + timedelta(hours=1)
    chunk = timedelta(minutes=settings.METRICS_CHUNK_MINUTES)

    cursor = MetricsCursor.from_json(ctx.cursor, warn=ctx.warn)
    retries: dict[str, int] = dict(cursor.partial)
    keys = {t.key for t in targets}
    cursors: dict[str, datetime] = {k: v for k, v in cursor.until.items() if k in keys}
    busy = {str(f.pk) for f in functions if f.last_invoked_at is not None and f.last_invoked_at >= end - ACTIVE_WINDOW}
    busy |= {t.key for t in targets if t.key not in cursors}  # new: poll at once
    cad = _cadence(ctx, targets, busy)
    _cadence_record(ctx, cad, at)

    groups: dict[datetime, list[Target]] = defaultdict(list)
    probing: set[str] = set()
    stepped = False
    for t in targets:
        until = cursors.get(t.key)
        if until is not None and until > end:
            stepped = True
            until = end  # the clock went back: do not wait for a future that already passed
            cursors[t.key] = end
        if until is None:
            start = end - max(lookback, timedelta(minutes=settings.METRICS_INITIAL_BACKFILL_MINUTES))
        else:
            interval = 0 if t.key == SCOPE_KEY else (cad.busy_s if t.key in busy else cad.idle_s)
            if (end - until).total_seconds() < max(interval, 60):
                continue
            start = until - lookback
        if start < oldest:
            ctx.warn(f"{t.name or 'region/DLQ metrics'}: data before {oldest:%Y-%m-%d %H:%M} is past CloudWatch's 1-minute retention; skipped")
            start = oldest
        if t.probe is not None and t.key not in busy:
            probing.add(t.key)
        groups[start].append(t)
    if stepped:
        ctx.warn("clock stepped back: cursors were ahead of now and were reset to the current minute")

    chunks_left = settings.METRICS_MAX_CHUNKS_PER_RUN
    deadline = time.monotonic() + settings.POLL_RUN_SECONDS
    # Smallest windows (the fresh, regular polls) first; catch-ups after.
    for start in sorted(groups, reverse=True):
        group = groups[start]
        s = start
        while s < end and chunks_left > 0:
            if time.monotonic() > deadline:
                chunks_left = 0
                break
            e = min(end, s + chunk)
            chunks_left -= 1
            done, partial = _chunk(ctx, group, s, e, probing=probing)
            for key in partial:
                # AWS keeps answering PartialData for this window: take what it gives after a
                # few reads rather than pin the cursor (and every later window) for ever.
                retries[key] = retries.get(key, 0) + 1
                if retries[key] >= PARTIAL_RETRIES:
                    done.add(key)
                    ctx.shortfall(f"target {key}: accepted partial data for {s:%H:%M}–{e:%H:%M} after {PARTIAL_RETRIES} reads")
            for key in done:
                retries.pop(key, None)
            if s < end - timedelta(hours=settings.ROLLUP_TRAILING_HOURS):
                rollup.rollup_range(start=s, end=e)  # older than the roll-up task's own window
            for t in group:
                if t.key in done:
                    cursors[t.key] = e
            _save_cursor(ctx, cursors, retries)
            _known_record([t.function_id for t in group if t.key in done and t.function_id], e)
            if len(done) < len(group):
                break  # re-read this chunk next run rather than skip past it
            s = e
        if chunks_left <= 0:
            ctx.shortfall("catch-up continues next run (chunk or time limit per run reached)")
            break
    _save_cursor(ctx, cursors, retries)
    # Complete up to the oldest cursor of what is read every run (busy functions, the region);
    # idle functions are read every METRICS_IDLE_POLL_SECONDS by design, which is not lag.
    every_run = [cursors[t.key] for t in targets if t.key in cursors and (t.key in busy or t.key == SCOPE_KEY)]
    ctx.data_until = min(every_run, default=None)


def _fetch(ctx: PollContext, group: list[Target], s: datetime, e: datetime) -> MetricBatch | None:
    queries = [q for t in group for q in t.queries]
    try:
        return cloudwatch.metric_data(ctx.scope, queries, start=s, end=e)
    except AwsError as err:
        if err.permanent:
            raise
        ctx.warn(f"GetMetricData {s:%H:%M}–{e:%H:%M} for {len(group)} target(s): {err.code}; re-read next run")
        return None


def _chunk(ctx: PollContext, group: list[Target], s: datetime, e: datetime, *, probing: set[str]) -> tuple[set[str], set[str]]:
    """Read and store [s, e) for ``group``; return (keys now complete, keys with partial results).

    Members in ``probing`` (idle functions) are read with their probe set, in the same calls as
    the others. A probe that is complete and all zero/absent means the full set would be empty:
    that function is done. The rest are read in full at once (a second, smaller batch).
    """
    first = [t.probe if t.key in probing else t for t in group]
    batch = _fetch(ctx, first, s, e)
    if batch is None:
        return set(), set()
    results = iter(batch.results)
    full_members: list[Target] = []
    full_results = []
    quiet: set[str] = set()
    for t, asked in zip(group, first):
        rs = [next(results) for _ in asked.sinks]
        if t.key not in probing:
            full_members.append(t)
            full_results.extend(rs)
        elif all(r.status == "Complete" and not any(v for v in r.points.values()) for r in rs):
            quiet.add(t.key)
    done, partial = set(quiet), set()
    messages = batch.messages
    if full_members or messages:
        incomplete = store_batch(ctx, full_members, MetricBatch(results=tuple(full_results), calls=0, messages=messages))
        done |= {t.key for t in full_members} - incomplete
        partial |= incomplete
    awake = [t for t in group if t.key in probing and t.key not in quiet]
    if awake:
        second = _fetch(ctx, awake, s, e)
        if second is not None:
            incomplete = store_batch(ctx, awake, second)
            done |= {t.key for t in awake} - incomplete
            partial |= incomplete
    return done, partial


def _cadence_record(ctx: PollContext, cad: plan.Cadence, at: datetime) -> None:
    MetricsCadence.objects.update_or_create(
        account=ctx.account,
        region=ctx.region,
        defaults={"busy_s": cad.busy_s, "idle_s": cad.idle_s, "usd_per_day": cad.usd_per_day, "planned_at": at},
    )


def _known_record(function_ids: list[int], until: datetime) -> None:
    """Publish how far each function's minutes are known (Function.metrics_known_until), after
    the cursor moved: the pages read it to tell a minute not polled yet (null) from a quiet one
    (0). Forward only, like the cursor of a regular poll."""
    if function_ids:
        Function.objects.filter(pk__in=function_ids).filter(
            Q(metrics_known_until__isnull=True) | Q(metrics_known_until__lt=until)
        ).update(metrics_known_until=until)


def _save_cursor(ctx: PollContext, cursors: dict[str, datetime], retries: dict[str, int]) -> None:
    ctx.cursor = MetricsCursor(until=dict(cursors), partial=dict(retries)).to_json()
    # Saved now, after the chunk's rows committed, so a crash later loses nothing.
    PollStatus.objects.filter(pk=ctx.status.pk).update(cursor=ctx.cursor)
