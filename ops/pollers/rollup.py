"""Roll-ups (minute → 5-minute → hour) and retention that mirrors CloudWatch's own.

How a wide row rolls up (the same rule for 1→5 minutes and 5 minutes→1 hour):
- counts and sums (invocations, errors, …, reports, cold starts, init/billed duration sums,
  billed GB-s, log errors) are **summed**;
- maxima (duration_max, concurrency, iterator age, async event age, PC utilisation, init max,
  memory used, memory size) are **maxed**;
- duration_avg is **weighted by invocations**: Σ(avg × invocations) ÷ Σ invocations over the
  rows that have an average (a plain mean when none of them counted invocations);
- percentiles (p50/p90/p99) are **the maximum of the finer buckets' percentiles**. A true
  percentile of a coarser bucket cannot be computed from finer percentiles; the max is an upper
  bound, which is the safe side for latency alerts and "slowest hour" charts. It equals the
  true value when one finer bucket dominates the traffic, and overstates it otherwise.

Whole UTC days (``DayStat``, for the fleet overview's range totals) roll up from the hour rows
by the same rules, once a day is over: a day is never written from part of its hours. Each
run re-rolls the days its trailing window touches (so late points that change yesterday's last
hours change its day too) and any day after the newest stored one (a roll-up that did not run
for a while leaves no gap in the days: a gap would make a range total miss that day, because
the readers take the day rows' first-to-last span as covered). The day's ``est_duration_ms``
is the cost estimate summed over its hour rows (see ``DayStat``).

Each run re-rolls a trailing window (ROLLUP_TRAILING_HOURS) because minute rows keep changing
while the pollers re-read late data; a catch-up that writes older minutes calls
``rollup_range`` for its own range. Upserts compare before writing, so re-rolling unchanged
buckets writes nothing.

Retention: minute rows 15 days, 5-minute 63 days, hourly and daily 455 days (CloudWatch keeps
1-minute, 5-minute and 1-hour data that long; days go with the hours they are made of), error
lines and per-minute error counts with the minute data. The minute and five-minute tables are
partitioned by time (ops.pollers.partitions): retention drops their whole partitions past the
cutoff and deletes only what waits in their default partitions. Every other table is deleted
from in batches, so no single statement holds locks for long.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from ops.models.telemetry import MAX_COLUMNS, PERCENTILE_COLUMNS, SUM_COLUMNS, WEIGHTED_COLUMNS
from ops.pollers import partitions
from ops.pollers.base import advisory_lock
from ops.pollers.vacuum import telemetry_vacuum
from ops.rules.cost import estimated_ms_sum_sql

log = logging.getLogger(__name__)

ALL_COLUMNS = SUM_COLUMNS + MAX_COLUMNS + PERCENTILE_COLUMNS + WEIGHTED_COLUMNS

LEVELS = {
    # target table: (source table, bucket)
    "ops_fiveminutestat": ("ops_minutestat", timedelta(minutes=5)),
    "ops_hourstat": ("ops_fiveminutestat", timedelta(hours=1)),
    "ops_daystat": ("ops_hourstat", timedelta(days=1)),
}
DAY = timedelta(days=1)
# Tables each run writes: vacuumed afterwards so their visibility maps stay current.
ROLLUP_TABLES = tuple(LEVELS)
# With no day row in this many days (a new install, or one upgraded from before days), a run
# rolls this many days back at once: enough for the 30-day range, a few seconds of hour rows.
DAY_CATCHUP_DAYS = 35
ORIGIN = "2000-01-03 00:00:00+00"  # a Monday at midnight: buckets align to the clock


def _select(source: str, bucket: timedelta, *, extra: tuple[str, ...] = ()) -> str:
    parts = [f"SUM({c})" for c in SUM_COLUMNS]
    parts += [f"MAX({c})" for c in MAX_COLUMNS + PERCENTILE_COLUMNS]
    with_avg = "FILTER (WHERE duration_avg IS NOT NULL)"
    parts.append(
        f"CASE WHEN COALESCE(SUM(invocations) {with_avg}, 0) > 0"
        f" THEN SUM(duration_avg * invocations) {with_avg} / SUM(invocations) {with_avg}"
        f" ELSE AVG(duration_avg) END"
    )
    parts += list(extra)
    seconds = int(bucket.total_seconds())
    return (
        f"SELECT series_id, date_bin('{seconds} seconds', ts, TIMESTAMPTZ '{ORIGIN}') AS b, {', '.join(parts)}"
        f" FROM {source} WHERE ts >= %s AND ts < %s GROUP BY series_id, b"
    )


def floor_to(ts: datetime, bucket: timedelta) -> datetime:
    epoch = datetime.fromisoformat(ORIGIN.replace(" ", "T"))
    return ts - (ts - epoch) % bucket


def rollup_level(*, table: str, start: datetime, end: datetime) -> int:
    """Re-roll ``table``'s buckets overlapping [start, end); return rows inserted or changed.
    Days are whole or not written: [start, end) is cut to the days over by now."""
    source, bucket = LEVELS[table]
    # Whole buckets only: a bucket rebuilt from part of its rows would lose the rest.
    start = floor_to(start, bucket)
    if floor_to(end, bucket) != end:
        end = floor_to(end, bucket) + bucket
    columns, extra = ALL_COLUMNS, ()
    if table == "ops_daystat":
        end = min(end, floor_to(timezone.now(), DAY))
        if end <= start:
            return 0
        columns, extra = ALL_COLUMNS + ("est_duration_ms",), (estimated_ms_sum_sql(table=source),)
    cols = ", ".join(columns)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
    old = ", ".join(f"{table}.{c}" for c in columns)
    new = ", ".join(f"EXCLUDED.{c}" for c in columns)
    sql = (
        f"INSERT INTO {table} (series_id, ts, {cols}) {_select(source, bucket, extra=extra)}"
        f" ON CONFLICT (series_id, ts) DO UPDATE SET {sets} WHERE ROW({old}) IS DISTINCT FROM ROW({new})"
    )
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql, [start, end])
        return max(cur.rowcount, 0)


def rollup_range(*, start: datetime, end: datetime, days_from: datetime | None = None) -> int:
    """Every level for [start, end): five-minute from minutes, hourly from five-minute, then the
    whole days among them from the hours (from ``days_from`` when given, to catch up days)."""
    n = rollup_level(table="ops_fiveminutestat", start=start, end=end)
    n += rollup_level(table="ops_hourstat", start=start, end=end)
    n += rollup_level(table="ops_daystat", start=min(start, days_from or start), end=end)
    return n


def _first_missing_day(*, now: datetime) -> datetime:
    """The day after the newest stored day row (looked up among recent days only: the BRIN
    index makes that a few pages), or DAY_CATCHUP_DAYS back when there is none."""
    floor = floor_to(now, DAY) - DAY_CATCHUP_DAYS * DAY
    with connection.cursor() as cur:
        cur.execute("SELECT max(ts) FROM ops_daystat WHERE ts >= %s", [floor])
        newest = cur.fetchone()[0]
    return newest + DAY if newest is not None else floor


def rollup_recent(*, now: datetime | None = None) -> int:
    """The trailing window and any day not rolled yet, for the beat task; then a vacuum of the
    roll-up tables, outside the lock (it takes none a writer waits on)."""
    now = now or timezone.now()
    with advisory_lock("rollup") as got:
        if not got:
            return 0
        n = rollup_range(
            start=now - timedelta(hours=settings.ROLLUP_TRAILING_HOURS),
            end=now + timedelta(hours=1),
            days_from=_first_missing_day(now=now),
        )
    telemetry_vacuum(tables=ROLLUP_TABLES)
    return n


# ---------------------------------------------------------------------------------------------
# Retention

BATCH = 50_000


def _retention_plan() -> list[tuple[str, int]]:
    return [
        ("ops_minutestat", settings.MINUTE_RETENTION_DAYS),
        ("ops_regionstat", settings.MINUTE_RETENTION_DAYS),
        ("ops_queuestat", settings.MINUTE_RETENTION_DAYS),
        ("ops_errorminute", settings.MINUTE_RETENTION_DAYS),
        ("ops_fiveminutestat", settings.FIVE_MINUTE_RETENTION_DAYS),
        ("ops_hourstat", settings.HOUR_RETENTION_DAYS),
        ("ops_daystat", settings.HOUR_RETENTION_DAYS),
        ("ops_logline", settings.LOG_LINE_RETENTION_DAYS),
        ("ops_apiusage", settings.API_USAGE_RETENTION_DAYS),
        ("ops_dlqsnapshot", settings.MINUTE_RETENTION_DAYS),
        # A trace's segments and calls first: they carry its ts and reference it.
        ("ops_tracecall", settings.TRACE_RETENTION_DAYS),
        ("ops_tracesegment", settings.TRACE_RETENTION_DAYS),
        ("ops_trace", settings.TRACE_RETENTION_DAYS),
    ]


def _delete_before(table: str, column: str, cutoff: datetime) -> int:
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(
                f"DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table} WHERE {column} < %s LIMIT {BATCH}))",
                [cutoff],
            )
            n = cur.rowcount
        total += n
        if n < BATCH:
            return total


def retention_apply(*, now: datetime | None = None) -> dict[str, int]:
    """Delete what is past its retention; return rows deleted per table (for a partitioned
    table: rows deleted from its default partition, and ``<table>:partitions_dropped``)."""
    now = now or timezone.now()
    out: dict[str, int] = {}
    with advisory_lock("retention") as got:
        if not got:
            return out
        # First the partitions: made ahead, rows moved out of the default, whole ones dropped.
        # A failure there must not stop the other tables' retention.
        try:
            kept = partitions.partitions_maintain(now=now)
        except DatabaseError:
            log.exception("partition maintenance failed; the other tables' retention goes on")
            kept = {}
        for table, days in _retention_plan():
            column = {"ops_apiusage": "hour", "ops_dlqsnapshot": "at"}.get(table, "ts")
            if table in partitions.BY_TABLE and partitions.table_is_partitioned(table=table):
                # What the default partition holds past the cutoff is all a partitioned table
                # still needs deleted row by row.
                out[table] = _delete_before(partitions.BY_TABLE[table].default, column, now - timedelta(days=days))
                out[f"{table}:partitions_dropped"] = len(kept.get(table, {}).get("dropped", []))
            else:
                out[table] = _delete_before(table, column, now - timedelta(days=days))
        # An error group nobody has seen for the longest retention goes too, once no minute
        # count or stored line refers to it any more.
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(
                "DELETE FROM ops_errorgroup g WHERE g.last_seen < %s"
                " AND NOT EXISTS (SELECT 1 FROM ops_errorminute m WHERE m.group_id = g.id)"
                " AND NOT EXISTS (SELECT 1 FROM ops_logline l WHERE l.group_id = g.id)",
                [now - timedelta(days=settings.HOUR_RETENTION_DAYS)],
            )
            out["ops_errorgroup"] = cur.rowcount
        # A DLQ message a complete peek found gone is history: kept as long as SQS could have
        # kept it (14 days at most), then deleted; messages still in the queue are never deleted.
        out["ops_dlqmessage"] = _delete_before_gone(now - timedelta(days=settings.DLQ_GONE_RETENTION_DAYS))
    return out


def _delete_before_gone(cutoff: datetime) -> int:
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(
                "DELETE FROM ops_dlqmessage WHERE id = ANY(ARRAY(SELECT id FROM ops_dlqmessage"
                f" WHERE gone_at IS NOT NULL AND gone_at < %s LIMIT {BATCH}))",
                [cutoff],
            )
            n = cur.rowcount
        total += n
        if n < BATCH:
            return total
