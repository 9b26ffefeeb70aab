"""Metrics: CloudWatch GetMetricData → MinuteStat / RegionStat / QueueStat, per account×region.

A run:
1. builds the targets: one per function (its own series, each alias, each version an alias
   points or recently pointed to), plus one for the scope (the account × region aggregates the
   detection trigger judges, region-level concurrency and the known DLQs);
2. reads the scope's target first, every run (its window as in 5–6 below), and judges its
   aggregate minutes (detect.detect_update, ops.rules.trigger): a rise opens or extends a
   trigger, a trigger quiet for DETECT_COOLDOWN_SECONDS is released;
3. plans the cadence (budget.budget_share says what this scope may spend): functions with
   invocations in the last hour (Function.last_invoked_at, which this poller keeps) are "busy"
   and read every METRICS_BUSY_POLL_SECONDS, idle ones every METRICS_IDLE_POLL_SECONDS; both
   stretch if the projected GetMetricData spend would pass 1 − DETECT_TRIGGER_RESERVE of the
   scope's share (plan.plan_cadence). While a trigger is active, the functions invoked within
   DETECT_BUSY_HOURS are read every run (plan.plan_triggered stretches that only when what is
   left of today's budget cannot pay for another hour of it). The plan is recorded on
   MetricsCadence for the status page;
4. for each due target picks a window: from its cursor minus the trailing re-read (the longest
   function timeout + METRICS_LATE_BUFFER_SECONDS — Lambda stamps points with the invocation's
   start and publishes them when it ends), to the last whole minute. A target with no cursor
   starts METRICS_INITIAL_BACKFILL_MINUTES back; a cursor older than CloudWatch's 15-day
   1-minute retention is clamped (with a warning: that part is lost);
5. groups targets with the same window start and walks each group's window in chunks of
   METRICS_CHUNK_MINUTES (≤ 201 points per query keeps 500 queries per call), oldest first,
   so a catch-up after downtime leaves no gap; at most METRICS_MAX_CHUNKS_PER_RUN per run;
6. per chunk: GetMetricData (batched, paged, paced — ops.aws.cloudwatch), rows built, one bulk
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
from dataclasses import dataclass
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
from ops.pollers.metrics import budget, plan
from ops.pollers.metrics.cursor import MetricsCursor
from ops.pollers.metrics.detect import detect_update
from ops.pollers.metrics.store import store_batch
from ops.pollers.metrics.targets import SCOPE_KEY, Target, build_targets
from ops.pollers.rows import ACTIVE_WINDOW, floor_minute, scope_functions


PARTIAL_RETRIES = 3


def now() -> datetime:
    """The poller's clock (tests replace it)."""
    return timezone.now()


def _cadence(ctx: PollContext, targets: list[Target], busy: set[str], share: budget.Share) -> plan.Cadence:
    busy_q = sum(len(t.queries) for t in targets if t.key in busy)
    idle_q = sum(len((t.probe or t).queries) for t in targets if t.key != SCOPE_KEY and t.key not in busy)
    fixed_q = sum(len(t.queries) for t in targets if t.key == SCOPE_KEY)
    return plan.plan_cadence(
        busy_queries=busy_q,
        idle_queries=idle_q,
        fixed_queries=fixed_q,
        budget_usd=share.scope_usd_per_day * (1 - settings.DETECT_TRIGGER_RESERVE),
        base_s=settings.METRICS_POLL_SECONDS,
        busy_s=settings.METRICS_BUSY_POLL_SECONDS,
        idle_s=settings.METRICS_IDLE_POLL_SECONDS,
    )


def _triggered_interval(targets: list[Target], triggered: set[str], busy: set[str], cad: plan.Cadence,
                        share: budget.Share) -> int:
    """Every run for a trigger's functions while an hour more of it fits in what is left of the
    scope's part of today's budget (ops.pollers.metrics.budget, step 5), else stretched."""
    if share.exhausted:
        return cad.busy_s
    chosen = [t for t in targets if t.key in triggered]
    queries = sum(len(t.queries if t.key in busy else (t.probe or t).queries) for t in chosen)
    usual = sum(
        len(t.queries) * 3600 / cad.busy_s if t.key in busy else len((t.probe or t).queries) * 3600 / cad.idle_s
        for t in chosen
    )
    return plan.plan_triggered(queries=queries, usual_queries_per_hour=usual,
                               room_usd=share.trigger_room_usd(steady_usd_per_day=cad.usd_per_day),
                               base_s=settings.METRICS_POLL_SECONDS, busy_s=cad.busy_s)


@dataclass
class _Walk:
    """What the chunk walk shares across groups: positions, PartialData counts, limits."""

    cursors: dict[str, datetime]
    retries: dict[str, int]
    probing: set[str]
    chunks_left: int
    deadline: float


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

    cursor = MetricsCursor.from_json(ctx.cursor, warn=ctx.warn)
    keys = {t.key for t in targets}
    walk = _Walk(
        cursors={k: v for k, v in cursor.until.items() if k in keys},
        retries=dict(cursor.partial),
        probing=set(),
        chunks_left=settings.METRICS_MAX_CHUNKS_PER_RUN,
        deadline=time.monotonic() + settings.POLL_RUN_SECONDS,
    )
    stepped = False
    for k, until in list(walk.cursors.items()):
        if until > end:
            stepped = True
            walk.cursors[k] = end  # the clock went back: do not wait for a future that already passed
    if stepped:
        ctx.warn("clock stepped back: cursors were ahead of now and were reset to the current minute")

    def window_start(t: Target) -> datetime:
        until = walk.cursors.get(t.key)
        if until is None:
            start = end - max(lookback, timedelta(minutes=settings.METRICS_INITIAL_BACKFILL_MINUTES))
        else:
            start = until - lookback
        if start < oldest:
            ctx.warn(f"{t.name or 'region/DLQ metrics'}: data before {oldest:%Y-%m-%d %H:%M} is past CloudWatch's 1-minute retention; skipped")
            start = oldest
        return start

    # 1. The scope's aggregates, every run, then the trigger judged on them.
    scope = next(t for t in targets if t.key == SCOPE_KEY)
    if end - walk.cursors.get(SCOPE_KEY, end - timedelta(minutes=1)) >= timedelta(minutes=1):
        _walk_groups(ctx, {window_start(scope): [scope]}, end, walk)
    active = detect_update(ctx, end=walk.cursors.get(SCOPE_KEY, end))

    # 2. The cadence: busy / idle, and the trigger's functions.
    busy = {str(f.pk) for f in functions if f.last_invoked_at is not None and f.last_invoked_at >= end - ACTIVE_WINDOW}
    busy |= {t.key for t in targets if t.key not in walk.cursors}  # new: poll at once
    share = budget.budget_share(account_id=ctx.account.pk, region=ctx.region, functions_here=len(targets) - 1, now=at)
    cad = _cadence(ctx, targets, busy, share)
    triggered: set[str] = set()
    triggered_s = None
    if active:
        recent = end - timedelta(hours=settings.DETECT_BUSY_HOURS)
        triggered = {str(f.pk) for f in functions if f.last_invoked_at is not None and f.last_invoked_at >= recent}
        triggered_s = _triggered_interval(targets, triggered, busy, cad, share)
    _cadence_record(ctx, cad, at, share=share, triggered_s=triggered_s, triggered=len(triggered))

    def interval(key: str) -> int:
        if key in triggered and triggered_s is not None:
            return triggered_s
        return cad.busy_s if key in busy else cad.idle_s

    # 3. The functions that are due.
    groups: dict[datetime, list[Target]] = defaultdict(list)
    for t in targets:
        if t.key == SCOPE_KEY:
            continue
        until = walk.cursors.get(t.key)
        if until is not None and (end - until).total_seconds() < max(interval(t.key), 60):
            continue
        if t.probe is not None and t.key not in busy:
            walk.probing.add(t.key)
        groups[window_start(t)].append(t)
    _walk_groups(ctx, groups, end, walk)
    _save_cursor(ctx, walk.cursors, walk.retries)
    # Complete up to the oldest position of what is read on a schedule shorter than the idle
    # one (the aggregates every run, busy and triggered functions at their cadence): a function
    # read every 20 minutes that was read 10 minutes ago is not lag. Idle functions are read
    # every METRICS_IDLE_POLL_SECONDS by design, which is not lag either.
    base = timedelta(seconds=settings.METRICS_POLL_SECONDS)
    due_until = [
        min(end, walk.cursors[t.key] + (timedelta(seconds=interval(t.key)) - base if t.key != SCOPE_KEY else timedelta(0)))
        for t in targets
        if t.key in walk.cursors and (t.key == SCOPE_KEY or t.key in busy or t.key in triggered)
    ]
    ctx.data_until = min(due_until, default=None)


def _walk_groups(ctx: PollContext, groups: dict[datetime, list[Target]], end: datetime, walk: _Walk) -> None:
    chunk = timedelta(minutes=settings.METRICS_CHUNK_MINUTES)
    # Smallest windows (the fresh, regular polls) first; catch-ups after.
    for start in sorted(groups, reverse=True):
        group = groups[start]
        s = start
        while s < end and walk.chunks_left > 0:
            if time.monotonic() > walk.deadline:
                walk.chunks_left = 0
                break
            e = min(end, s + chunk)
            walk.chunks_left -= 1
            done, partial = _chunk(ctx, group, s, e, probing=walk.probing)
            for key in partial:
                # AWS keeps answering PartialData for this window: take what it gives after a
                # few reads rather than pin the cursor (and every later window) for ever.
                walk.retries[key] = walk.retries.get(key, 0) + 1
                if walk.retries[key] >= PARTIAL_RETRIES:
                    done.add(key)
                    ctx.shortfall(f"target {key}: accepted partial data for {s:%H:%M}–{e:%H:%M} after {PARTIAL_RETRIES} reads")
            for key in done:
                walk.retries.pop(key, None)
            if s < end - timedelta(hours=settings.ROLLUP_TRAILING_HOURS):
                rollup.rollup_range(start=s, end=e)  # older than the roll-up task's own window
            for t in group:
                if t.key in done:
                    walk.cursors[t.key] = e
            _save_cursor(ctx, walk.cursors, walk.retries)
            _known_record([t.function_id for t in group if t.key in done and t.function_id], e)
            if len(done) < len(group):
                break  # re-read this chunk next run rather than skip past it
            s = e
        if walk.chunks_left <= 0:
            ctx.shortfall("catch-up continues next run (chunk or time limit per run reached)")
            break


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
        window = (s, e) if any(t.key == SCOPE_KEY for t in full_members) else None
        incomplete = store_batch(ctx, full_members, MetricBatch(results=tuple(full_results), calls=0, messages=messages),
                                 window=window)
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


def _cadence_record(ctx: PollContext, cad: plan.Cadence, at: datetime, *, share: budget.Share,
                    triggered_s: int | None, triggered: int) -> None:
    held = cad.held_back or (triggered_s is not None and triggered_s > settings.METRICS_POLL_SECONDS)
    MetricsCadence.objects.update_or_create(
        account=ctx.account,
        region=ctx.region,
        defaults={"busy_s": cad.busy_s, "idle_s": cad.idle_s, "usd_per_day": cad.usd_per_day, "planned_at": at,
                  "share_usd": round(share.scope_usd_per_day, 6), "triggered_s": triggered_s,
                  "triggered_functions": triggered, "held_back": held},
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
