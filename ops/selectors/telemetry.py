"""Reads of the time-series tables: time ranges, resolution choice, bucketed series and totals.

Three stores hold the same wide columns: ``MinuteStat``, ``FiveMinuteStat`` (roll-up) and
``HourStat`` (roll-up). Every read here goes through one SQL builder, ``_stat_sql``, that

1. picks the tables a read may use: charts use the minute table for ranges up to ~1 day, the
   5-minute table up to ~5 days and the hour table beyond; totals may use all three;
2. finds, per series, the span each coarse table actually covers (a roll-up that has not run
   yet covers nothing, so the finer table answers instead — "fall back to a finer table");
3. reads every minute of the range exactly once: hour rows inside the hour span, 5-minute rows
   inside the 5-minute span but outside the hour span, minute rows for the rest. Every piece is
   a range scan on the ``(series, ts)`` unique index;
4. aggregates in SQL — per series, optionally per bucket (``date_bin``) — so the page never
   sees more than ``MAX_POINTS`` points per line.

How a bucket aggregates a column (the charts' axis titles and hover say the same):

- counts (invocations, errors, throttles, cold starts, …) are **summed per bucket**: "errors
  per 30 min". A single bad minute stays in its bucket's sum, so spikes survive any range;
- percentiles and maxima (duration p50/p90/p99/max, concurrency, iterator age, memory used)
  take the **maximum** of the stored values within the bucket: percentiles are never averaged;
- ``duration_avg`` is weighted by invocations (an average of averages would be wrong).
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Iterable, Mapping, Sequence

from django.db import connection, transaction

from ops.models.telemetry import MAX_COLUMNS as _MAX_COLUMNS
from ops.models.telemetry import PERCENTILE_COLUMNS, SUM_COLUMNS, WEIGHTED_COLUMNS
from ops.rules.cost import ESTIMATE_INPUTS, ESTIMATED_MS, estimated_ms_sum_sql
from ops.selectors.timerange import TimeRange

MAX_POINTS = 1500


# Charts and totals treat percentiles like maxima: the highest 1-minute value in a bucket.
MAX_COLUMNS = _MAX_COLUMNS[:1] + PERCENTILE_COLUMNS + _MAX_COLUMNS[1:]
ALL_COLUMNS = SUM_COLUMNS + MAX_COLUMNS + WEIGHTED_COLUMNS
# Duration × invocations of minutes without REPORT lines: the cost estimate where logs are
# missing (the cost rule, ``ops.rules.cost``, says which minutes and how).
EST_MS = ESTIMATED_MS


@dataclass(frozen=True)
class Tier:
    table: str
    step_s: int


MINUTE = Tier("ops_minutestat", 60)
FIVE = Tier("ops_fiveminutestat", 300)
HOUR = Tier("ops_hourstat", 3600)

# Charts: up to ~1 day from minute rows, up to ~5 days from 5-minute rows, beyond from hours.
MINUTE_MAX_SPAN_S = 26 * 3600
FIVE_MAX_SPAN_S = 5 * 86400 + 3600

NICE_STEPS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 2 * 86400, 7 * 86400)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# Resolution


def chart_tiers(span_s: int) -> tuple[Tier, ...]:
    """The tables a chart over ``span_s`` may read, coarsest first (finer ones fill gaps)."""
    if span_s <= MINUTE_MAX_SPAN_S:
        return (MINUTE,)
    if span_s <= FIVE_MAX_SPAN_S:
        return (FIVE, MINUTE)
    return (HOUR, FIVE, MINUTE)


def bucket_step(span_s: int, *, max_points: int = MAX_POINTS) -> int:
    """The bucket size in seconds: a multiple of the coarsest table's step, ≤ max_points buckets
    for the span even when the start is rounded down to a bucket boundary."""
    base = chart_tiers(span_s)[0].step_s
    need = span_s / max(max_points - 1, 1)
    for step in NICE_STEPS:
        if step >= base and step % base == 0 and step >= need:
            return step
    return int(math.ceil(need / 86400) * 86400)


def floor_to(dt: datetime, step_s: int) -> datetime:
    secs = int((dt - EPOCH).total_seconds())
    return EPOCH + timedelta(seconds=secs - secs % step_s)


def ceil_to(dt: datetime, step_s: int) -> datetime:
    f = floor_to(dt, step_s)
    return f if f == dt else f + timedelta(seconds=step_s)


def step_label(step_s: int) -> str:
    if step_s % 86400 == 0:
        n = step_s // 86400
        return "day" if n == 1 else f"{n} d"
    if step_s % 3600 == 0:
        n = step_s // 3600
        return "hour" if n == 1 else f"{n} h"
    n = step_s // 60
    return "minute" if n == 1 else f"{n} min"


# ---------------------------------------------------------------------------------------------
# The one SQL builder


def _agg_sql(columns: Iterable[str]) -> list[str]:
    out = []
    for col in columns:
        if col in SUM_COLUMNS:
            out.append(f"coalesce(sum(r.{col}), 0) AS {col}")
        elif col in MAX_COLUMNS:
            out.append(f"max(r.{col}) AS {col}")
        elif col == "duration_avg":
            out.append(
                "sum(r.duration_avg * r.invocations) FILTER (WHERE r.duration_avg IS NOT NULL)"
                " / nullif(sum(r.invocations) FILTER (WHERE r.duration_avg IS NOT NULL), 0) AS duration_avg"
            )
        elif col == EST_MS:
            out.append(f"{estimated_ms_sum_sql(table='r')} AS {EST_MS}")
        else:
            raise ValueError(f"unknown column {col!r}")
    return out


def _raw_columns(columns: Sequence[str]) -> list[str]:
    raw = {"ts"}
    for col in columns:
        if col == EST_MS:
            raw |= set(ESTIMATE_INPUTS)
        elif col == "duration_avg":
            raw |= {"duration_avg", "invocations"}
        else:
            raw.add(col)
    return sorted(raw)


def _stat_sql(
    *, columns: Sequence[str], tiers: Sequence[Tier], bucketed: bool, source: str = "unnest(%(ids)s::bigint[])"
) -> str:
    """SQL over ``%(ids)s`` and [``%(start)s``, ``%(end)s``); see the module docstring.

    Parameters: ids, start, end, and per coarse tier ``<table>_lo``/``<table>_hi`` (the range
    rounded inward to that tier's step), plus ``step``/``origin`` when bucketed.
    """
    raw = ", ".join(_raw_columns(columns))
    has_hour, has_five = HOUR in tiers, FIVE in tiers

    def span(tier: Tier, alias: str) -> str:
        t = tier.table
        return (
            f"CROSS JOIN LATERAL (SELECT min(ts) AS lo, max(ts) + make_interval(secs => {tier.step_s}) AS hi"
            f" FROM {t} WHERE series_id = s.id AND ts >= %({t}_lo)s AND ts < %({t}_hi)s) {alias}"
        )

    none = "CROSS JOIN LATERAL (SELECT NULL::timestamptz AS lo, NULL::timestamptz AS hi) {}"
    pieces = []
    # A NULL bound matches no row, so an empty (or disallowed) tier contributes nothing.
    pieces.append(f"SELECT {raw} FROM {HOUR.table} WHERE series_id = s.id AND ts >= h.lo AND ts < h.hi")
    pieces.append(
        f"SELECT {raw} FROM {FIVE.table} WHERE series_id = s.id AND ts >= f.lo"
        " AND ts < least(f.hi, coalesce(h.lo, f.hi))"
    )
    pieces.append(
        f"SELECT {raw} FROM {FIVE.table} WHERE series_id = s.id"
        " AND ts >= CASE WHEN h.hi IS NULL THEN f.hi ELSE greatest(f.lo, h.hi) END AND ts < f.hi"
    )
    # Minutes outside both spans: before the first, after the last, and the gap between them.
    minute = f"SELECT {raw} FROM {MINUTE.table} WHERE series_id = s.id AND "
    pieces.append(minute + "ts >= %(start)s AND ts < coalesce(least(h.lo, f.lo), %(end)s)")
    pieces.append(minute + "ts >= coalesce(greatest(h.hi, f.hi), %(end)s) AND ts < %(end)s")
    pieces.append(
        minute + "h.lo IS NOT NULL AND f.lo IS NOT NULL"
        " AND ts >= least(h.hi, f.hi) AND ts < greatest(h.lo, f.lo)"
    )
    union = "\n    UNION ALL ".join(pieces)
    aggs = ",\n  ".join(_agg_sql(columns))
    # Buckets come back as epoch seconds: cheaper to load than timestamps, thousands per page.
    bucket = (
        ", extract(epoch FROM date_bin(make_interval(secs => %(step)s), r.ts, %(origin)s))::bigint AS bucket"
        if bucketed
        else ""
    )
    group = "GROUP BY 1, 2 ORDER BY 1, 2" if bucketed else "GROUP BY 1"
    return f"""
SELECT s.id AS series_id{bucket},
  {aggs}
FROM {source} AS s(id)
{span(HOUR, "h") if has_hour else none.format("h")}
{span(FIVE, "f") if has_five else none.format("f")}
CROSS JOIN LATERAL (
    {union}
) r
{group}
"""


def _params(*, ids: Sequence[int], start: datetime, end: datetime, tiers: Sequence[Tier]) -> dict:
    params: dict = {"ids": list(ids), "start": start, "end": end}
    for tier in (HOUR, FIVE):
        # Only whole coarse buckets inside the range count; the edges come from finer tables.
        params[f"{tier.table}_lo"] = ceil_to(start, tier.step_s)
        params[f"{tier.table}_hi"] = floor_to(end, tier.step_s)
    return params


def _fetch(sql: str, params: dict) -> list[dict]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        names = [c.name for c in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]


# ---------------------------------------------------------------------------------------------
# Public reads


@contextmanager
def reads_without_jit():
    """Run the enclosed reads with Postgres' JIT off (``SET LOCAL``, this transaction only).

    The fleet and chart queries are estimated expensive (big tables, many lateral probes), so
    the planner JIT-compiles them — measured on the scale fixture: 750 ms of compilation for
    a 200 ms query. Usable as a decorator on a view; nested uses cost nothing."""
    if getattr(connection, "_lambdaops_jit_off", False):
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET LOCAL jit = off")
        connection._lambdaops_jit_off = True
        try:
            yield
        finally:
            connection._lambdaops_jit_off = False


@dataclass
class SeriesData:
    """One series over a range, one value per bucket (gaps filled: counts 0, gauges None)."""

    step_s: int
    ts: list[datetime]
    values: dict[str, list] = field(default_factory=dict)

    def __getitem__(self, col: str) -> list:
        return self.values[col]

    def __len__(self) -> int:
        return len(self.ts)


def series_buckets(
    *,
    series_ids: Sequence[int],
    time_range: TimeRange,
    columns: Sequence[str] = ALL_COLUMNS,
    max_points: int = MAX_POINTS,
    known_until: Mapping[int, datetime | None] | None = None,
    days: bool = False,
) -> dict[int, SeriesData]:
    """Bucketed values for each series (one query whatever the number of series; one more
    when ``known_until`` is not given). ``days``: where the buckets are whole days, read the
    day roll-up for the whole days (``ops.selectors.fleet_totals``; sum and max columns only).

    A bucket that begins at or after the series' known-until instant (``series_known_until``)
    is not known yet: every column is None there, counts included — a line that drops to 0 at
    the last polled minute would read as "errors stopped". A coarse bucket the instant falls
    inside keeps what its known minutes hold (on a 7-day chart the newest hour is then still
    drawn, as the range's own last bucket always is). Known buckets without rows are quiet:
    counts 0, gauges None."""
    step = bucket_step(time_range.seconds, max_points=max_points)
    start = floor_to(time_range.start, step)
    end = time_range.end
    times = []
    t = start
    while t < end:
        times.append(t)
        t += timedelta(seconds=step)
    out = {
        sid: SeriesData(
            step_s=step, ts=times, values={c: [0 if c in SUM_COLUMNS else None] * len(times) for c in columns}
        )
        for sid in series_ids
    }
    if not series_ids:
        return out
    if known_until is None:
        known_until = series_known_until(series_ids=series_ids)
    # Any table whose rows nest in the bucket may answer (a 30-min trend bucket can use
    # 5-minute rows even on a 1-day range); the finest table always fills the gaps.
    tiers = tuple(t for t in (HOUR, FIVE, MINUTE) if step % t.step_s == 0)
    params = _params(ids=series_ids, start=start, end=end, tiers=tiers) | {"step": step, "origin": EPOCH}
    sql = _stat_sql(columns=columns, tiers=tiers, bucketed=True)
    if days and step % 86400 == 0:
        from ops.selectors import fleet_totals  # it builds on this module

        if fleet_totals.range_has_days(start=start, end=end):
            sql = fleet_totals.fleet_totals_sql(
                columns=columns, source="unnest(%(ids)s::bigint[])", with_days=True, bucketed=True
            )
            params = fleet_totals.fleet_totals_params(start=start, end=end) | {
                "ids": list(series_ids), "step": step, "origin": EPOCH,
            }
    index = {int((ts - EPOCH).total_seconds()): i for i, ts in enumerate(times)}
    for row in _fetch(sql, params):
        i = index.get(row["bucket"])
        if i is None:
            continue
        data = out[row["series_id"]]
        for col in columns:
            value = row[col]
            data.values[col][i] = float(value) if value is not None else (0 if col in SUM_COLUMNS else None)
    for sid, data in out.items():
        known = known_until.get(sid)
        for i in range(len(times)):
            if known is None or times[i] >= known:
                for col in columns:
                    data.values[col][i] = None
    return out


def series_known_until(*, series_ids: Sequence[int]) -> dict[int, datetime | None]:
    """Until when each series' minutes are known (one query).

    How the product knows a minute is unknown: the metrics poller moves a function's cursor
    only past windows it stored (a failed or denied read keeps it, and the window is read
    again), and publishes that position as ``Function.metrics_known_until``; every series of
    the function (its own, its aliases', its versions') shares it. Minutes at or after it are
    not known yet — not polled yet, or their poll failed — and read as None, never 0. Where
    the poller has not published it (rows written before the column existed, or by other
    means), the minute after the newest stored row stands in; a series with neither is not
    known at all. Minutes before the first poll's backfill are not tracked: they read as quiet.
    """
    if not series_ids:
        return {}
    sql = """
SELECT s.id, coalesce(f.metrics_known_until,
                      (SELECT max(m.ts) + interval '1 minute' FROM ops_minutestat m WHERE m.series_id = s.id))
FROM ops_series s JOIN ops_function f ON f.id = s.function_id
WHERE s.id = ANY(%(ids)s)
"""
    with connection.cursor() as cur:
        cur.execute(sql, {"ids": list(series_ids)})
        return dict(cur.fetchall())


def known_until_sql(*, function: str, series_id: str) -> str:
    """``series_known_until`` as a SQL expression over a function row and a series id column."""
    return (
        f"coalesce({function}.metrics_known_until, (SELECT max(m.ts) + interval '1 minute'"
        f" FROM ops_minutestat m WHERE m.series_id = {series_id}))"
    )


def series_totals(
    *, series_ids: Sequence[int], start: datetime, end: datetime, columns: Sequence[str] = ALL_COLUMNS
) -> dict[int, dict]:
    """Totals over [start, end) per series, exact to the minute, from the coarsest rows that
    cover it (one query). Series without rows get zero counts and None gauges."""
    empty = {c: (0 if c in SUM_COLUMNS or c == EST_MS else None) for c in columns}
    out = {sid: dict(empty) for sid in series_ids}
    if not series_ids:
        return out
    tiers = (HOUR, FIVE, MINUTE)
    for row in _fetch(
        _stat_sql(columns=columns, tiers=tiers, bucketed=False),
        _params(ids=series_ids, start=start, end=end, tiers=tiers),
    ):
        out[row["series_id"]] = {c: (float(row[c]) if row[c] is not None else empty[c]) for c in columns}
    return out


def totals_sql(*, columns: Sequence[str], source: str) -> str:
    """The totals query as SQL text over the series ids that ``source`` (a subquery with one
    column) yields — for readers that join it to inventory in one statement, e.g. the fleet."""
    return _stat_sql(columns=columns, tiers=(HOUR, FIVE, MINUTE), bucketed=False, source=source)


def totals_params(*, series_ids: Sequence[int], start: datetime, end: datetime) -> dict:
    return _params(ids=series_ids, start=start, end=end, tiers=(HOUR, FIVE, MINUTE))


def rate(numerator: float | None, denominator: float | None) -> float | None:
    """A ratio in percent, None where the denominator is zero (no invocations is not 0 %)."""
    if not denominator:
        return None
    return 100.0 * (numerator or 0) / denominator
