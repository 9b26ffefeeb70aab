"""GetMetricData results → MinuteStat / RegionStat / QueueStat rows, one bulk upsert per table."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta

from django.db import connection

from ops.aws.cloudwatch import MetricBatch
from ops.models import Series
from ops.pollers.base import PollContext
from ops.pollers.metrics import plan
from ops.pollers.metrics.targets import Target
from ops.pollers.rows import floor_minute, stat_defaults
from ops.pollers.storage import bulk_upsert


def _value(column: str, v: float):
    return int(round(v)) if column in plan.COUNT_COLUMNS or column == "sent" else float(v)


def store_batch(
    ctx: PollContext, group: list[Target], batch: MetricBatch, *, window: tuple[datetime, datetime] | None = None
) -> set[str]:
    """Upsert one chunk's results; return the keys of targets whose results were incomplete.

    ``window`` (given when the group holds the scope's target): every minute of it gets a
    RegionStat row, its counts 0 where CloudWatch had no point, so the trigger's baseline can
    tell a quiet minute (0) from one never read (no row, or NULL).
    """
    for m in batch.messages:
        ctx.warn(f"GetMetricData: {m}")
    minute: dict[tuple[int, datetime], dict[str, object]] = defaultdict(dict)
    region: dict[datetime, dict[str, object]] = defaultdict(dict)
    queue: dict[tuple[int, datetime], dict[str, object]] = defaultdict(dict)
    incomplete: dict[str, str] = {}
    results = iter(batch.results)
    function_series: dict[int, int] = {}  # the function's own series id → function id
    for t in group:
        for sink in t.sinks:
            r = next(results)
            if r.status != "Complete":
                incomplete.setdefault(t.key, r.status)
            if sink.table == "minute" and sink.column == "invocations" and t.function_id:
                function_series.setdefault(sink.ref, t.function_id)
            for ts, v in r.points.items():
                if v is None or (isinstance(v, float) and math.isnan(v)):
                    continue
                m = floor_minute(ts)
                if sink.table == "minute":
                    minute[(sink.ref, m)][sink.column] = _value(sink.column, v)
                elif sink.table == "region":
                    region[m][sink.column] = int(round(v)) if sink.column in plan.REGION_COUNT_COLUMNS else float(v)
                else:
                    queue[(sink.ref, m)][sink.column] = _value(sink.column, v)
    if incomplete:
        names = ", ".join(sorted({next((t.name or "region/DLQ" for t in group if t.key == k), k) for k in incomplete})[:5])
        ctx.shortfall(f"{len(incomplete)} target(s) got {sorted(set(incomplete.values()))} results ({names}); re-read next run")

    # A function deleted (row removed) during the poll: drop its points, say so.
    sids = {sid for sid, _ in minute}
    alive = set(Series.objects.filter(pk__in=sids).values_list("pk", flat=True))
    if sids - alive:
        ctx.warn(f"{len(sids - alive)} series vanished during the poll (function deleted); their points were dropped")
        minute = {k: v for k, v in minute.items() if k[0] in alive}

    defaults = stat_defaults()
    cols = list(defaults)
    rows = []
    invoked: dict[int, datetime] = {}
    for (sid, m), vals in minute.items():
        row = {**defaults, **{c: (0 if c in plan.COUNT_COLUMNS else None) for c in plan.METRIC_COLUMNS}, **vals}
        rows.append((sid, m, *[row[c] for c in cols]))
        fid = function_series.get(sid)
        if fid and (vals.get("invocations") or 0) > 0 and (fid not in invoked or m > invoked[fid]):
            invoked[fid] = m
    n = bulk_upsert(
        table="ops_minutestat",
        key=["series_id", "ts"],
        columns=["series_id", "ts", *cols],
        rows=rows,
        update=plan.METRIC_COLUMNS,
        fk_guard=("series_id", "ops_series"),
    )
    region_cols = [s.column for s in plan.REGION]
    if window is not None:
        m = floor_minute(window[0])
        while m < window[1]:
            region.setdefault(m, {})
            m += timedelta(minutes=1)
    counts = set(plan.REGION_COUNT_COLUMNS)
    n += bulk_upsert(
        table="ops_regionstat",
        key=["account_id", "region", "ts"],
        columns=["account_id", "region", "ts", *region_cols],
        rows=[
            (ctx.account.pk, ctx.region, m, *[v.get(c, 0 if c in counts and window is not None else None) for c in region_cols])
            for m, v in region.items()
        ],
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
    _activity_record(invoked)
    return set(incomplete)


def _activity_record(invoked: dict[int, datetime]) -> None:
    """Move Function.last_invoked_at forward (never back: a re-read of an older window must not
    make a busy function look idle), one statement for the whole chunk."""
    if not invoked:
        return
    ids, minutes = zip(*sorted(invoked.items()))
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE ops_function AS f SET last_invoked_at = v.ts"
            " FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, ts)"
            " WHERE f.id = v.id AND (f.last_invoked_at IS NULL OR f.last_invoked_at < v.ts)",
            [list(ids), list(minutes)],
        )
