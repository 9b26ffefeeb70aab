"""The fleet overview's range totals: whole days from the day roll-up, the partial days at the
edges from the finer tables.

``ops.selectors.telemetry.totals_sql`` totals a range from hour, 5-minute and minute rows: on
30 days that is ~720 hour rows a series, read from a heap where one series' rows sit one per
page. Here, per series:

1. one index-only scan of ``ops_daystat`` over the whole days inside the range gives the days'
   sums and maxima and the span they cover, [d.lo, d.hi) (NULL when there is none: a range
   shorter than a day, or days not rolled up yet);
2. the head edge [start, d.lo) and the tail edge [d.hi, end) — each less than a day — are read
   exactly as ``totals_sql`` reads a range (hour rows inside the hour span, 5-minute rows
   outside it, minutes for the rest), with the coarse spans cut at the day span; with no day
   span the head edge is the whole range and the tail is empty;
3. one aggregate over the day part and the edge rows.

So 30 days is ~30 day entries (adjacent in the covering index) plus a few dozen edge rows a
series, and the figures are the ones ``totals_sql`` gives on the same data: a day row is its
hour rows' sums and maxima, and its ``est_duration_ms`` the cost estimate over those hour rows
(tests/ops/selectors/test_fleet_totals.py holds every overview column equal on 24 h, 7 d and
30 d). Only sum and maximum columns and the cost estimate (``EST_MS``) can be totalled here —
what the overview shows; a weighted average would need the day's weights.
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from ops.models.telemetry import DAY_TOTAL_COLUMNS, SUM_COLUMNS
from ops.rules.cost import ESTIMATE_INPUTS
from ops.selectors.telemetry import EST_MS, FIVE, HOUR, MAX_COLUMNS, MINUTE, ceil_to, floor_to

DAY_S = 86400
_EST = "est"  # the per-row cost estimate inside the union (see _edge_raw)


def _check(columns: Sequence[str]) -> None:
    for col in columns:
        if col != EST_MS and col not in DAY_TOTAL_COLUMNS:
            raise ValueError(f"{col!r} is not totalled from days (DAY_TOTAL_COLUMNS)")


def _edge_raw(columns: Sequence[str]) -> str:
    """The columns an edge row gives the union: the totalled ones, plus its cost estimate as
    the cost rule computes it per row (Duration avg × invocations where no REPORT line came)."""
    cols = [c for c in columns if c != EST_MS]
    if EST_MS in columns:
        avg, inv, reports = ESTIMATE_INPUTS
        cols.append(f"CASE WHEN {reports} = 0 THEN {avg} * {inv} END AS {_EST}")
    return ", ".join(cols)


def _day_raw(columns: Sequence[str]) -> str:
    """The day part as one union row: its sums and maxima (names as the edge rows')."""
    cols = []
    for col in columns:
        if col == EST_MS:
            cols.append(f"d.est_duration_ms AS {_EST}")
        else:
            cols.append(f"d.{col}")
    return ", ".join(cols)


def _day_agg(columns: Sequence[str]) -> str:
    parts = ["min(ts) AS lo", f"max(ts) + make_interval(secs => {DAY_S}) AS hi"]
    for col in columns:
        if col == EST_MS:
            parts.append("sum(est_duration_ms) AS est_duration_ms")
        elif col in SUM_COLUMNS:
            parts.append(f"sum({col}) AS {col}")
        else:
            parts.append(f"max({col}) AS {col}")
    return ", ".join(parts)


def _edge_pieces(*, raw: str, lo: str, hi: str, h_lo: str, h_hi: str, f_lo: str, f_hi: str, tag: str) -> tuple[str, list[str]]:
    """The lateral span probes and the union pieces of one edge [lo, hi) — the same cover as
    ``ops.selectors.telemetry._stat_sql``: hour rows in the hour span, 5-minute rows in the
    5-minute span outside it, minutes for the rest. A NULL bound matches no row, so an edge
    whose bounds are NULL (the tail when there are no days) reads nothing."""
    h, f = f"h{tag}", f"f{tag}"
    spans = (
        f"CROSS JOIN LATERAL (SELECT min(ts) AS lo, max(ts) + make_interval(secs => {HOUR.step_s}) AS hi"
        f" FROM {HOUR.table} WHERE series_id = s.id AND ts >= {h_lo} AND ts < {h_hi}) {h}\n"
        f"CROSS JOIN LATERAL (SELECT min(ts) AS lo, max(ts) + make_interval(secs => {FIVE.step_s}) AS hi"
        f" FROM {FIVE.table} WHERE series_id = s.id AND ts >= {f_lo} AND ts < {f_hi}) {f}"
    )
    def piece(table: str, ts_lo: str, ts_hi: str) -> str:
        # The bounds again as a condition on the outer row alone: Postgres checks such a
        # condition once per series before the scan (a one-time filter), so an empty piece —
        # most of them, on a range of whole hours and days — costs no index descent.
        return (
            f"SELECT {raw} FROM {table} WHERE ({ts_lo}) < ({ts_hi})"
            f" AND series_id = s.id AND ts >= {ts_lo} AND ts < {ts_hi}"
        )

    five_hi_of_head = f"least({f}.hi, coalesce({h}.lo, {f}.hi))"
    five_lo_of_tail = f"CASE WHEN {h}.hi IS NULL THEN {f}.hi ELSE greatest({f}.lo, {h}.hi) END"
    pieces = [
        piece(HOUR.table, f"{h}.lo", f"{h}.hi"),
        piece(FIVE.table, f"{f}.lo", five_hi_of_head),
        piece(FIVE.table, five_lo_of_tail, f"{f}.hi"),
        piece(MINUTE.table, lo, f"coalesce(least({h}.lo, {f}.lo), {hi})"),
        piece(MINUTE.table, f"coalesce(greatest({h}.hi, {f}.hi), {hi})", hi),
        # between the two spans (NULL unless both exist)
        piece(MINUTE.table, f"least({h}.hi, {f}.hi)", f"CASE WHEN {h}.lo IS NOT NULL THEN greatest({h}.lo, {f}.lo) END"),
    ]
    return spans, pieces


def fleet_totals_sql(
    *, columns: Sequence[str], source: str, with_days: bool = True, bucketed: bool = False
) -> str:
    """Totals per series over [``%(start)s``, ``%(end)s``) for the series ids ``source`` (a
    subquery of one column) yields; see the module docstring. ``with_days`` False (a range with
    no whole day in it) leaves the day probe and the tail edge out of the statement.

    ``bucketed``: per series and per bucket of ``%(step)s`` seconds from ``%(origin)s`` instead
    (the overview's trends on ranges whose buckets are whole days: day rows nest in them), so
    the day part is its rows rather than one aggregate."""
    _check(columns)
    raw = _edge_raw(columns) + (", ts" if bucketed else "")
    head_hi = "coalesce(d.lo, %(end)s)" if with_days else "%(end)s"
    head_spans, head = _edge_pieces(
        raw=raw,
        lo="%(start)s",
        hi=head_hi,
        h_lo="%(hour_lo)s",
        h_hi="coalesce(d.lo, %(hour_hi)s)" if with_days else "%(hour_hi)s",
        f_lo="%(five_lo)s",
        f_hi="coalesce(d.lo, %(five_hi)s)" if with_days else "%(five_hi)s",
        tag="1",
    )
    probes = [head_spans]
    pieces = list(head)
    if with_days:
        tail_spans, tail = _edge_pieces(
            raw=raw, lo="d.hi", hi="%(end)s", h_lo="d.hi", h_hi="%(hour_hi)s", f_lo="d.hi", f_hi="%(five_hi)s", tag="2"
        )
        probes.insert(
            0,
            f"CROSS JOIN LATERAL (SELECT {_day_agg(() if bucketed else columns)} FROM ops_daystat"
            " WHERE series_id = s.id AND ts >= %(day_lo)s AND ts < %(day_hi)s) d",
        )
        probes.append(tail_spans)
        if bucketed:  # the day rows themselves, each in its bucket
            day_cols = ", ".join(f"est_duration_ms AS {_EST}" if c == EST_MS else c for c in columns)
            pieces.insert(
                0, f"SELECT {day_cols}, ts FROM ops_daystat WHERE series_id = s.id AND ts >= d.lo AND ts < d.hi"
            )
        else:  # the days' own row (absent when the range holds no day row for this series)
            pieces.insert(0, f"SELECT {_day_raw(columns)} WHERE d.lo IS NOT NULL")
        pieces += tail
    union = "\n    UNION ALL ".join(pieces)
    aggs = []
    for col in columns:
        if col == EST_MS:
            aggs.append(f"coalesce(sum(r.{_EST}), 0) AS {EST_MS}")
        elif col in SUM_COLUMNS:
            aggs.append(f"coalesce(sum(r.{col}), 0) AS {col}")
        elif col in MAX_COLUMNS:
            aggs.append(f"max(r.{col}) AS {col}")
    probe_sql = "\n".join(probes)
    # Buckets come back as epoch seconds, as ops.selectors.telemetry's do.
    bucket = (
        ", extract(epoch FROM date_bin(make_interval(secs => %(step)s), r.ts, %(origin)s))::bigint AS bucket"
        if bucketed
        else ""
    )
    group = "GROUP BY 1, 2 ORDER BY 1, 2" if bucketed else "GROUP BY 1"
    return f"""
SELECT s.id AS series_id{bucket},
  {", ".join(aggs)}
FROM {source} AS s(id)
{probe_sql}
CROSS JOIN LATERAL (
    {union}
) r
{group}
"""


def fleet_totals_params(*, start: datetime, end: datetime) -> dict:
    """The statement's parameters: the range, and each coarse table's whole buckets inside it."""
    return {
        "start": start,
        "end": end,
        "day_lo": ceil_to(start, DAY_S),
        "day_hi": floor_to(end, DAY_S),
        "hour_lo": ceil_to(start, HOUR.step_s),
        "hour_hi": floor_to(end, HOUR.step_s),
        "five_lo": ceil_to(start, FIVE.step_s),
        "five_hi": floor_to(end, FIVE.step_s),
    }


def range_has_days(*, start: datetime, end: datetime) -> bool:
    """Whether [start, end) holds a whole UTC day (else the statement needs no day part)."""
    return ceil_to(start, DAY_S) < floor_to(end, DAY_S)


__all__ = ["fleet_totals_params", "fleet_totals_sql", "range_has_days"]
