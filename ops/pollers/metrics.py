"""Metrics: CloudWatch GetMetricData → MinuteStat / RegionStat / QueueStat, per account×region.

A run:
1. builds the targets: one per function (its own series, each alias, each version behind a
   weighted alias), plus one for the scope (region-level concurrency and the known DLQs);
2. plans the cadence: functions with invocations in the last hour are "busy" and polled every
   run, idle ones every METRICS_IDLE_POLL_SECONDS; both stretch if the projected GetMetricData
   spend would pass this scope's share of CLOUDWATCH_DAILY_BUDGET_USD (metrics_plan.plan_cadence);
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
   in the chunk move to its end and are saved at once — a crash later loses nothing.
A throttled or failing chunk is a warning: its targets keep their cursors and are re-read next
run; the other groups go on. Targets with PartialData results keep their cursors too.
Points are stored sparsely: a series-minute with no datapoint at all has no row (absent rows
mean zero counts and unknown gauges); in a row, a missing count is 0 and a missing gauge NULL.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone as dt_timezone

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone

from ops.aws import cloudwatch
from ops.aws.cloudwatch import MetricBatch, MetricQuery
from ops.aws.errors import AwsError
from ops.models import Alias, Function, FunctionQueue, MinuteStat, PollSource, PollStatus, QueueRole, Series, SeriesKind
from ops.pollers import metrics_plan as plan
from ops.pollers import rollup
from ops.pollers.base import PollContext
from ops.pollers.storage import bulk_upsert

SCOPE_KEY = "scope"
ACTIVE_WINDOW = timedelta(hours=1)
DLQ_ROLES = (QueueRole.LAMBDA_DLQ, QueueRole.ON_FAILURE, QueueRole.SOURCE_DLQ)


def now() -> datetime:
    """The poller's clock (tests replace it)."""
    return timezone.now()


def floor_minute(ts: datetime) -> datetime:
    ts = ts.astimezone(dt_timezone.utc)
    return ts.replace(second=0, microsecond=0)


@dataclass(frozen=True)
class Sink:
    table: str  # "minute" | "region" | "queue"
    ref: int | None  # series id, queue id, None for the region
    column: str


@dataclass
class Target:
    key: str
    function_id: int | None = None
    name: str = ""
    queries: list[MetricQuery] = field(default_factory=list)
    sinks: list[Sink] = field(default_factory=list)
    probe: Target | None = None  # the cheap set read while the function is idle

    def add(self, query: MetricQuery, sink: Sink) -> None:
        self.queries.append(query)
        self.sinks.append(sink)


# ---------------------------------------------------------------------------------------------
# Targets


def _series_ids(keys: set[tuple[int, str, str]]) -> dict[tuple[int, str, str], int]:
    """Ensure a Series row per (function id, kind, qualifier); return their ids."""
    if not keys:
        return {}
    Series.objects.bulk_create(
        [Series(function_id=f, kind=k, qualifier=q) for f, k, q in keys], ignore_conflicts=True
    )
    fids = {f for f, _, _ in keys}
    return {
        (s.function_id, s.kind, s.qualifier): s.pk
        for s in Series.objects.filter(function_id__in=fids).only("id", "function_id", "kind", "qualifier")
    }


def scope_functions(ctx: PollContext, at: datetime) -> list[Function]:
    """Live functions, and those gone within the trailing window (their last points still land)."""
    return list(
        Function.objects.filter(account=ctx.account, region=ctx.region)
        .filter(Q(gone_at=None) | Q(gone_at__gte=at - ACTIVE_WINDOW))
        .prefetch_related("event_sources")
        .order_by("pk")
    )


def build_targets(ctx: PollContext, functions: list[Function], percentiles) -> list[Target]:
    aliases: dict[int, list[Alias]] = defaultdict(list)
    for a in Alias.objects.filter(function__in=functions, gone_at=None).order_by("name"):
        aliases[a.function_id].append(a)
    wanted: set[tuple[int, str, str]] = set()
    versions: dict[int, dict[str, str]] = {}
    for fn in functions:
        wanted.add((fn.pk, SeriesKind.FUNCTION, ""))
        versions[fn.pk] = {}
        for a in aliases[fn.pk]:
            wanted.add((fn.pk, SeriesKind.ALIAS, a.name))
            if a.weights:
                for version, _share in a.routing:
                    # A version behind two weighted aliases is read through the first one.
                    if version not in versions[fn.pk]:
                        versions[fn.pk][version] = a.name
                        wanted.add((fn.pk, SeriesKind.VERSION, version))
    ids = _series_ids(wanted)
    targets = []
    for fn in functions:
        t = Target(key=str(fn.pk), function_id=fn.pk, name=fn.name)
        stream = any(e.source_kind in plan.STREAM_SOURCES and e.gone_at is None for e in fn.event_sources.all())
        provisioned = bool(fn.provisioned_concurrency)
        sid = ids[(fn.pk, SeriesKind.FUNCTION, "")]
        for spec in plan.function_specs(percentiles=percentiles, stream=stream, provisioned=provisioned):
            t.add(plan.lambda_query(spec, plan.function_dims(fn.name)), Sink("minute", sid, spec.column))
        if not provisioned:  # provisioned concurrency reports utilisation even when idle
            t.probe = Target(key=t.key, function_id=fn.pk, name=fn.name)
            for spec in plan.PROBE:
                t.probe.add(plan.lambda_query(spec, plan.function_dims(fn.name)), Sink("minute", sid, spec.column))
        for a in aliases[fn.pk]:
            sid = ids[(fn.pk, SeriesKind.ALIAS, a.name)]
            for spec in plan.alias_specs(percentiles=percentiles, provisioned=provisioned):
                t.add(plan.lambda_query(spec, plan.alias_dims(fn.name, a.name)), Sink("minute", sid, spec.column))
        for version, alias_name in versions[fn.pk].items():
            sid = ids[(fn.pk, SeriesKind.VERSION, version)]
            for spec in plan.version_specs(percentiles=percentiles):
                dims = plan.version_dims(fn.name, alias_name, version)
                t.add(plan.lambda_query(spec, dims), Sink("minute", sid, spec.column))
        targets.append(t)

    scope = Target(key=SCOPE_KEY)
    for spec in plan.REGION:
        scope.add(MetricQuery(plan.LAMBDA, spec.metric, (), spec.stat), Sink("region", None, spec.column))
    links = (
        FunctionQueue.objects.filter(function__in=functions, role__in=DLQ_ROLES, queue__gone_at=None)
        .select_related("queue")
        .order_by("queue_id")
    )
    seen: set[int] = set()
    for link in links:
        q = link.queue
        if q.pk in seen:
            continue
        seen.add(q.pk)
        if q.region != ctx.region:
            continue  # AWS/SQS metrics live in the queue's own region, polled with that scope
        for spec in plan.QUEUE:
            scope.add(MetricQuery(plan.SQS, spec.metric, (("QueueName", q.name),), spec.stat), Sink("queue", q.pk, spec.column))
    targets.append(scope)
    return targets


# ---------------------------------------------------------------------------------------------
# Cadence


def _parse(value) -> datetime | None:
    if not value:
        return None
    try:
        ts = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=dt_timezone.utc)


def _budget_share(ctx: PollContext, functions_here: int) -> float:
    """This scope's part of the daily budget, in proportion to its functions."""
    total = Function.objects.filter(account__enabled=True, gone_at=None).count()
    if total <= 0:
        return float(settings.CLOUDWATCH_DAILY_BUDGET_USD)
    return float(settings.CLOUDWATCH_DAILY_BUDGET_USD) * max(functions_here, 1) / max(total, functions_here, 1)


def cadence_for(ctx: PollContext, targets: list[Target], busy: set[str]) -> plan.Cadence:
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

    cursors: dict[str, str] = dict(ctx.cursor.get("until", {}))
    active: dict[str, str] = dict(ctx.cursor.get("active", {}))
    keys = {t.key for t in targets}
    cursors = {k: v for k, v in cursors.items() if k in keys}
    active = {k: v for k, v in active.items() if k in keys}
    busy = {k for k, v in active.items() if (_parse(v) or end) >= end - ACTIVE_WINDOW}
    busy |= {t.key for t in targets if t.key not in cursors}  # new: poll at once
    cad = cadence_for(ctx, targets, busy)

    groups: dict[datetime, list[Target]] = defaultdict(list)
    probing: set[str] = set()
    stepped = False
    for t in targets:
        until = _parse(cursors.get(t.key))
        if until is not None and until > end:
            stepped = True
            until = end  # the clock went back: do not wait for a future that already passed
            cursors[t.key] = end.isoformat()
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
            done = _chunk(ctx, group, s, e, active, probing=probing)
            if s < end - timedelta(hours=settings.ROLLUP_TRAILING_HOURS):
                rollup.rollup_range(start=s, end=e)  # older than the roll-up task's own window
            for t in group:
                if t.key in done:
                    cursors[t.key] = e.isoformat()
            _save_cursor(ctx, cursors, active, cad)
            if len(done) < len(group):
                break  # re-read this chunk next run rather than skip past it
            s = e
        if chunks_left <= 0:
            ctx.warn("catch-up continues next run (chunk or time limit per run reached)")
            break
    _save_cursor(ctx, cursors, active, cad)


def _fetch(ctx: PollContext, group: list[Target], s: datetime, e: datetime) -> MetricBatch | None:
    queries = [q for t in group for q in t.queries]
    try:
        return cloudwatch.metric_data(ctx.scope, queries, start=s, end=e)
    except AwsError as err:
        if err.permanent:
            raise
        ctx.warn(f"GetMetricData {s:%H:%M}–{e:%H:%M} for {len(group)} target(s): {err.code}; re-read next run")
        return None


def _chunk(ctx: PollContext, group: list[Target], s: datetime, e: datetime, active: dict, *, probing: set[str]) -> set[str]:
    """Read and store [s, e) for ``group``; return the keys whose window is now complete.

    Members in ``probing`` (idle functions) are read with their probe set, in the same calls as
    the others. A probe that is complete and all zero/absent means the full set would be empty:
    that function is done. The rest are read in full at once (a second, smaller batch).
    """
    first = [t.probe if t.key in probing else t for t in group]
    batch = _fetch(ctx, first, s, e)
    if batch is None:
        return set()
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
    done = set(quiet)
    messages = batch.messages
    if full_members or messages:
        incomplete = store_batch(ctx, full_members, MetricBatch(results=tuple(full_results), calls=0, messages=messages), active)
        done |= {t.key for t in full_members} - incomplete
    awake = [t for t in group if t.key in probing and t.key not in quiet]
    if awake:
        second = _fetch(ctx, awake, s, e)
        if second is not None:
            incomplete = store_batch(ctx, awake, second, active)
            done |= {t.key for t in awake} - incomplete
    return done


def _save_cursor(ctx: PollContext, cursors: dict, active: dict, cad: plan.Cadence) -> None:
    ctx.cursor = {
        "until": cursors,
        "active": active,
        "cadence": {"busy_s": cad.busy_s, "idle_s": cad.idle_s, "usd_per_day": cad.usd_per_day},
    }
    # Saved now, after the chunk's rows committed, so a crash later loses nothing.
    PollStatus.objects.filter(pk=ctx.status.pk).update(cursor=ctx.cursor)


# ---------------------------------------------------------------------------------------------
# Results → rows


def _stat_defaults() -> dict[str, object]:
    out = {}
    for f in MinuteStat._meta.concrete_fields:
        if f.column in {"id", "series_id", "ts"}:
            continue
        out[f.column] = f.get_default()
    return out


def _value(column: str, v: float):
    return int(round(v)) if column in plan.COUNT_COLUMNS or column == "sent" else float(v)


def store_batch(ctx: PollContext, group: list[Target], batch: MetricBatch, active: dict[str, str]) -> set[str]:
    """Upsert one chunk's results; return the keys of targets whose results were incomplete."""
    for m in batch.messages:
        ctx.warn(f"GetMetricData: {m}")
    minute: dict[tuple[int, datetime], dict[str, object]] = defaultdict(dict)
    region: dict[datetime, dict[str, object]] = defaultdict(dict)
    queue: dict[tuple[int, datetime], dict[str, object]] = defaultdict(dict)
    incomplete: dict[str, str] = {}
    results = iter(batch.results)
    function_series: dict[int, str] = {}
    for t in group:
        for sink in t.sinks:
            r = next(results)
            if r.status != "Complete":
                incomplete.setdefault(t.key, r.status)
            if sink.table == "minute" and sink.column == "invocations" and t.function_id:
                function_series.setdefault(sink.ref, t.key)
            for ts, v in r.points.items():
                if v is None or (isinstance(v, float) and math.isnan(v)):
                    continue
                m = floor_minute(ts)
                if sink.table == "minute":
                    minute[(sink.ref, m)][sink.column] = _value(sink.column, v)
                elif sink.table == "region":
                    region[m][sink.column] = float(v)
                else:
                    queue[(sink.ref, m)][sink.column] = _value(sink.column, v)
    if incomplete:
        names = ", ".join(sorted({next((t.name or "region/DLQ" for t in group if t.key == k), k) for k in incomplete})[:5])
        ctx.warn(f"{len(incomplete)} target(s) got {sorted(set(incomplete.values()))} results ({names}); re-read next run")

    # A function deleted (row removed) during the poll: drop its points, say so.
    sids = {sid for sid, _ in minute}
    alive = set(Series.objects.filter(pk__in=sids).values_list("pk", flat=True))
    if sids - alive:
        ctx.warn(f"{len(sids - alive)} series vanished during the poll (function deleted); their points were dropped")
        minute = {k: v for k, v in minute.items() if k[0] in alive}

    defaults = _stat_defaults()
    cols = list(defaults)
    rows = []
    for (sid, m), vals in minute.items():
        row = {**defaults, **{c: (0 if c in plan.COUNT_COLUMNS else None) for c in plan.METRIC_COLUMNS}, **vals}
        rows.append((sid, m, *[row[c] for c in cols]))
        key = function_series.get(sid)
        if key and (vals.get("invocations") or 0) > 0:
            if m.isoformat() > active.get(key, ""):
                active[key] = m.isoformat()
    n = bulk_upsert(
        table="ops_minutestat",
        key=["series_id", "ts"],
        columns=["series_id", "ts", *cols],
        rows=rows,
        update=plan.METRIC_COLUMNS,
        fk_guard=("series_id", "ops_series"),
    )
    region_cols = [s.column for s in plan.REGION]
    n += bulk_upsert(
        table="ops_regionstat",
        key=["account_id", "region", "ts"],
        columns=["account_id", "region", "ts", *region_cols],
        rows=[(ctx.account.pk, ctx.region, m, *[v.get(c) for c in region_cols]) for m, v in region.items()],
    )
    queue_cols = [s.column for s in plan.QUEUE]
    n += bulk_upsert(
        table="ops_queuestat",
        key=["queue_id", "ts"],
        columns=["queue_id", "ts", *queue_cols],
        rows=[(qid, m, *[v.get(c, 0 if c == "sent" else None) for c in queue_cols]) for (qid, m), v in queue.items()],
        fk_guard=("queue_id", "ops_queue"),
    )
    ctx.items += n
    return set(incomplete)


def last_activity(*, function_ids: list[int]) -> dict[int, datetime]:
    """Latest minute with invocations per function (for tools and tests; the poller uses its cursor)."""
    rows = (
        MinuteStat.objects.filter(series__function_id__in=function_ids, series__kind=SeriesKind.FUNCTION, invocations__gt=0)
        .values("series__function_id")
        .annotate(last=Max("ts"))
    )
    return {r["series__function_id"]: r["last"] for r in rows}


SOURCE = PollSource.METRICS
