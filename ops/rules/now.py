"""The "now" state: whether a function is on fire is judged on its last few complete minutes,
whatever range a page shows (the range changes totals and charts, not the verdict).

The window is the ``NOW_MINUTES`` minutes before the function's *known-until* instant (the end
of the last window the metrics poller stored for it), so a fresh incident is not diluted by a
quiet day and a poll that has not happened yet does not read as "errors stopped".

The window's record — the columns ``ops.rules.evaluate.Record`` reads — is written once for
Python (``now_record`` over minute rows, as ``series_buckets`` returns them at one-minute
buckets) and once for SQL (``now_aggregates_sql`` over minute rows, then ``now_columns_sql``
for the ratios); every ratio is float8 arithmetic in the same order as the Python, so both
sides produce the same bits and therefore the same verdict (tests/ops/rules proves it).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Mapping, Sequence

from ops.rules.evaluate import Record

NOW_MINUTES = 5
NOW_WINDOW = timedelta(minutes=NOW_MINUTES)
# How far back "since" and the baseline look: the onset to the minute over the last 3 hours;
# an episode older than that is chronic.
LOOKBACK_MINUTES = 180

# What the window sums and what it takes the maximum of (per-minute gauges and percentiles).
SUMS = ("invocations", "errors", "throttles", "async_events_dropped", "dead_letter_errors", "reports", "cold_starts")
MAXES = ("duration_p99", "iterator_age_max", "concurrency_max")
COLUMNS = SUMS + MAXES


def _f(x) -> float | None:
    return None if x is None else float(x)


def now_record(
    minutes: Sequence[Mapping[str, float | None]],
    *,
    timeout_s: int,
    concurrency_limit: int,
    reserved_concurrency: int | None,
    dlq_depth: float | None = None,
    dlq_growth: float | None = None,
) -> Record:
    """The window's record from its minute rows (``COLUMNS`` each; a missing count is 0)."""
    sums = {c: 0.0 for c in SUMS}
    maxes: dict[str, float | None] = {c: None for c in MAXES}
    for m in minutes:
        for c in SUMS:
            sums[c] += float(m.get(c) or 0)
        for c in MAXES:
            v = _f(m.get(c))
            if v is not None and (maxes[c] is None or v > maxes[c]):
                maxes[c] = v
    return _record(sums | maxes, timeout_s=timeout_s, concurrency_limit=concurrency_limit,
                   reserved_concurrency=reserved_concurrency, dlq_depth=dlq_depth, dlq_growth=dlq_growth)


def _record(agg: Mapping[str, float | None], *, timeout_s, concurrency_limit, reserved_concurrency, dlq_depth,
            dlq_growth) -> Record:
    inv, err, p99, conc = agg["invocations"], agg["errors"], agg["duration_p99"], agg["concurrency_max"]
    # The same float operations, in the same order, as now_columns_sql.
    return Record(
        invocations=inv,
        errors=err,
        error_rate=100.0 * err / inv if inv else None,
        throttles=agg["throttles"],
        p99_pct=100.0 * p99 / (timeout_s * 1000.0) if p99 is not None and timeout_s else None,
        timeout_s=timeout_s,
        dlq_depth=_f(dlq_depth),
        dlq_growth=_f(dlq_growth),
        async_events_dropped=agg["async_events_dropped"],
        iterator_age_max=agg["iterator_age_max"],
        concurrency_max=conc,
        concurrency_limit=concurrency_limit,
        concurrency_pct=100.0 * conc / concurrency_limit if conc is not None and concurrency_limit else None,
        reserved_concurrency=reserved_concurrency,
        dead_letter_errors=agg["dead_letter_errors"],
        reports=agg["reports"],
        cold_pct=100.0 * agg["cold_starts"] / agg["reports"] if agg["reports"] else None,
    )


def now_aggregates_sql(*, table: str) -> str:
    """The select list that aggregates a window's minute rows of ``table`` (float8, counts 0
    where no row came, as in ``now_record``)."""
    sums = [f"coalesce(sum({table}.{c}), 0)::float8 AS {c}" for c in SUMS]
    maxes = [f"max({table}.{c})::float8 AS {c}" for c in MAXES]
    return ", ".join(sums + maxes)


def now_columns_sql(*, agg: str, timeout_s: str, concurrency_limit: str) -> str:
    """The record's derived columns over ``agg`` (the aggregates above): the select list the
    fleet query names ``now_<column>``; rule SQL (``ops.rules.sql``) reads them unprefixed."""
    a = agg
    return ",\n".join(
        [
            f"{a}.invocations AS invocations",
            f"{a}.errors AS errors",
            f"100.0::float8 * {a}.errors / nullif({a}.invocations, 0) AS error_rate",
            f"{a}.throttles AS throttles",
            f"100.0::float8 * {a}.duration_p99 / nullif({timeout_s} * 1000.0::float8, 0) AS p99_pct",
            f"{a}.async_events_dropped AS async_events_dropped",
            f"{a}.iterator_age_max AS iterator_age_max",
            f"{a}.concurrency_max AS concurrency_max",
            f"100.0::float8 * {a}.concurrency_max / nullif({concurrency_limit}::float8, 0) AS concurrency_pct",
            f"{a}.dead_letter_errors AS dead_letter_errors",
            f"{a}.reports AS reports",
            f"100.0::float8 * {a}.cold_starts / nullif({a}.reports, 0) AS cold_pct",
        ]
    )
