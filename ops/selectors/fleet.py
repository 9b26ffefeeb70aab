"""The fleet overview's reads: every function's numbers for a range and what is on fire.

The whole table is one SQL statement whatever the number of functions: filter the inventory,
total each function's series over the range (whole days from the day roll-up, the partial days
at the edges from the finer tables: ``ops.selectors.fleet_totals``), join the DLQ depth
and the price, compute the ratios, rank by the requested sort, and return the requested page
plus the rows that are on fire. Trends, onsets and deploys for those rows are one query each.

On fire is the now state (``ops.rules.now``): the same statement aggregates each function's
last complete minutes and judges them with the rules' SQL; the range changes the table's
totals and trends, never which functions are on fire. The fire rows' onsets, chronic marks and
deploys come from ``ops.selectors.now``, which ranks new problems above chronic ones.
"""

from __future__ import annotations

from django.db import connection

from ops.models import DLQ_ROLES, SeriesKind
from ops.models.telemetry import DAY_TOTAL_COLUMNS
from ops.rules.cost import cost_usd_sql
from ops.rules.episode import rank_key
from ops.rules.now import NOW_WINDOW, now_aggregates_sql, now_columns_sql
from ops.rules.sql import on_fire_sql
from ops.selectors.fleet_rows import FleetPage, FleetRow, _filter_sql, _price_values, _row
from ops.selectors.dlq_depth import arrivals_sql, depth_before_sql, growth_sql
from ops.selectors.headroom import account_concurrency_limit
from ops.selectors.inventory import FunctionFilters
from ops.selectors.now import NowInput, now_states
from ops.selectors.fleet_totals import fleet_totals_params, fleet_totals_sql, range_has_days
from ops.selectors.telemetry import EST_MS, known_until_sql, series_buckets
from ops.selectors.timerange import TimeRange

PAGE_SIZE = 50
MAX_ON_FIRE = 20
# ≤ 25 trend buckets: hourly on a 24 h range, so trends read the small hour roll-up
TREND_POINTS = 25

# sort key in the URL → SQL expression over the ranked rows
SORTS = {
    "name": "name",
    "invocations": "invocations",
    "error_rate": "error_rate",
    "throttles": "throttles",
    "p99_pct": "p99_pct",
    "cold_pct": "cold_pct",
    "concurrency": "concurrency_pct",
    "dlq": "dlq_depth",
    "cost": "cost_usd",
}
DEFAULT_SORT = "-error_rate"

# The range totals are what the day roll-up's covering index carries (ops.models.telemetry).
_TOTAL_COLUMNS = DAY_TOTAL_COLUMNS


def parse_sort(raw: str | None) -> str:
    raw = (raw or "").strip()
    return raw if raw.lstrip("-") in SORTS else DEFAULT_SORT


def fleet_page(
    *, time_range: TimeRange, filters: FunctionFilters, sort: str = DEFAULT_SORT, page: int = 1, per_page: int = PAGE_SIZE
) -> FleetPage:
    """One page of the fleet table plus the on-fire rows (2 queries for all rows, whatever N;
    then one for trends and one for deploys)."""
    sort = parse_sort(sort)
    desc = sort.startswith("-")
    order_col = SORTS[sort.lstrip("-")]
    order = f"r.{order_col} {'DESC' if desc else 'ASC'} NULLS LAST, r.name, r.id"
    where, params = _filter_sql(filters)
    prices_sql, price_params = _price_values()
    page = max(1, page)
    limit = account_concurrency_limit()
    cost_sql = cost_usd_sql(
        invocations="t.invocations",
        billed_gb_s="t.billed_gb_s",
        estimated_ms=f"t.{EST_MS}",
        memory_mb="fn.memory_mb",
        request_usd="p.req",
        gb_second_usd="p.gbs",
    )
    known_sql = known_until_sql(function="f", series_id="s.id")
    now_agg_sql = now_aggregates_sql(table="m")
    now_columns = now_columns_sql(
        agg="a", timeout_s="fn.timeout_s", concurrency_limit=f"coalesce(fn.reserved_concurrency, %(limit)s)"
    )
    # Range totals: whole days from the day roll-up, the edges from the finer tables.
    stat_sql = fleet_totals_sql(
        columns=_TOTAL_COLUMNS,
        source="(SELECT sid FROM fn WHERE sid IS NOT NULL)",
        with_days=range_has_days(start=time_range.start, end=time_range.end),
    )
    sql = f"""
WITH fn AS MATERIALIZED (
  SELECT f.id, f.name, a.name AS account, f.region, f.runtime, f.architecture, f.memory_mb, f.timeout_s,
         f.reserved_concurrency, s.id AS sid, {known_sql} AS known_until
  FROM ops_function f
  JOIN ops_account a ON a.id = f.account_id
  LEFT JOIN ops_series s ON s.function_id = f.id AND s.kind = %(series_kind)s AND s.qualifier = ''
  WHERE {where}
),
tot AS MATERIALIZED ({stat_sql}),
nowagg AS MATERIALIZED (
  -- the now window: the last few minutes before each function's known-until (ops.rules.now)
  SELECT fn.id, a.*
  FROM fn CROSS JOIN LATERAL (
    SELECT {now_agg_sql} FROM ops_minutestat m
    WHERE m.series_id = fn.sid AND m.ts >= fn.known_until - %(now_window)s AND m.ts < fn.known_until
  ) a
  WHERE fn.known_until IS NOT NULL
),
dlq AS (
  -- the latest depth, and how much it grew since the range began (a DLQ filling up is on
  -- fire; old messages nobody redrove show in the table but do not page anyone)
  SELECT fq.function_id, sum(q.visible_max) AS depth,
         sum({growth_sql('q.visible_max', 'b.visible_max', 'ar.n')}) AS growth,
         -- the same over the now window
         sum(nq.visible_max) AS now_depth, sum({growth_sql('nq.visible_max', 'nb.visible_max', 'nar.n')}) AS now_growth
  FROM ops_functionqueue fq
  JOIN fn ON fn.id = fq.function_id
  -- the depth: the newest of the AWS/SQS metric and the DLQ poller's read (ops.selectors.dlq_depth)
  CROSS JOIN LATERAL (SELECT {depth_before_sql('fq.queue_id', '%(end)s')} AS visible_max) q
  CROSS JOIN LATERAL (SELECT {depth_before_sql('fq.queue_id', '%(start)s')} AS visible_max) b
  CROSS JOIN LATERAL (SELECT {depth_before_sql('fq.queue_id', 'fn.known_until')} AS visible_max) nq
  CROSS JOIN LATERAL (SELECT {depth_before_sql('fq.queue_id', 'fn.known_until - %(now_window)s')} AS visible_max) nb
  -- new message ids the DLQ poller saw (they count even when the depth stayed flat)
  CROSS JOIN LATERAL (SELECT {arrivals_sql('fq.queue_id', '%(start)s', '%(end)s')} AS n) ar
  CROSS JOIN LATERAL (SELECT {arrivals_sql('fq.queue_id', 'fn.known_until - %(now_window)s', 'fn.known_until')} AS n) nar
  WHERE fq.role = ANY(%(dlq_roles)s)
  GROUP BY 1
),
nr AS (
  SELECT fn.id, {now_columns},
         dlq.now_depth::float8 AS dlq_depth, dlq.now_growth::float8 AS dlq_growth
  FROM fn
  JOIN nowagg a ON a.id = fn.id
  LEFT JOIN dlq ON dlq.function_id = fn.id
),
price AS ({prices_sql}),
r AS (
  SELECT fn.*, coalesce(t.invocations, 0) AS invocations, coalesce(t.errors, 0) AS errors,
         coalesce(t.throttles, 0) AS throttles, coalesce(t.async_events_dropped, 0) AS async_events_dropped,
         coalesce(t.cold_starts, 0) AS cold_starts, t.duration_p99, t.concurrency_max, t.iterator_age_max,
         dlq.depth AS dlq_depth, dlq.growth AS dlq_growth,
         100.0 * t.errors / nullif(t.invocations, 0) AS error_rate,
         100.0 * t.duration_p99 / (fn.timeout_s * 1000.0) AS p99_pct,
         100.0 * t.cold_starts / nullif(greatest(t.reports, 0), 0) AS cold_pct,
         coalesce(fn.reserved_concurrency, %(limit)s) AS concurrency_limit,
         100.0 * t.concurrency_max / nullif(coalesce(fn.reserved_concurrency, %(limit)s), 0) AS concurrency_pct,
         {cost_sql} AS cost_usd
  FROM fn
  LEFT JOIN tot t ON t.series_id = fn.sid
  LEFT JOIN dlq ON dlq.function_id = fn.id
  LEFT JOIN price p ON p.region = fn.region AND p.arch = fn.architecture
),
ranked AS (
  SELECT r.*, nx.now, coalesce(nx.on_fire, FALSE) AS on_fire,
    (SELECT max(known_until) FROM fn) AS as_of,
    row_number() OVER (ORDER BY {order}) AS rn,
    count(*) OVER () AS total
  FROM r
  LEFT JOIN (SELECT nr.id, to_jsonb(nr) AS now, {on_fire_sql(table="nr")} AS on_fire FROM nr) nx ON nx.id = r.id
),
fire AS (
  -- a first cut by the now window's numbers; the page ranks these by onset and baseline
  SELECT id, row_number() OVER (
    ORDER BY (now->>'error_rate')::float8 DESC NULLS LAST, (now->>'throttles')::float8 DESC NULLS LAST, name
  ) AS fire_rank
  FROM ranked WHERE on_fire
)
SELECT ranked.*, fire.fire_rank FROM ranked LEFT JOIN fire USING (id)
WHERE rn > %(offset)s AND rn <= %(offset)s + %(per_page)s OR fire.fire_rank <= %(max_fire)s
ORDER BY rn
"""
    params |= price_params
    params |= fleet_totals_params(start=time_range.start, end=time_range.end)
    params |= {
        "series_kind": SeriesKind.FUNCTION.value,
        "dlq_roles": [r.value for r in DLQ_ROLES],
        "limit": limit,
        "offset": (page - 1) * per_page,
        "per_page": per_page,
        "max_fire": MAX_ON_FIRE,
        "now_window": NOW_WINDOW,
    }
    with connection.cursor() as cur:
        cur.execute(sql, params)
        names = [c.name for c in cur.description]
        raw = [dict(zip(names, row)) for row in cur.fetchall()]

    total = int(raw[0]["total"]) if raw else 0
    rows, fire = [], []
    for rec in raw:
        row = _row(rec)
        if rec["fire_rank"] is not None and rec["fire_rank"] <= MAX_ON_FIRE:
            fire.append((rec["fire_rank"], row))
        if (page - 1) * per_page < rec["rn"] <= page * per_page:
            rows.append(row)
    last_page = max(1, -(-total // per_page))
    if page > last_page and (total or page > 1):  # past the end (e.g. a filter shrank the list)
        return fleet_page(time_range=time_range, filters=filters, sort=sort, page=last_page, per_page=per_page)
    fire_rows = [r for _, r in sorted(fire, key=lambda x: x[0])]
    _annotate(rows=rows, fire=fire_rows, time_range=time_range)
    fire_rows.sort(key=lambda r: rank_key(r.now.episode if r.now else None, name=r.name))
    as_of = raw[0]["as_of"] if raw else None
    return FleetPage(rows=rows, fire=fire_rows, total=total, page=page, per_page=per_page, sort=sort, as_of=as_of)


def _annotate(*, rows: list[FleetRow], fire: list[FleetRow], time_range: TimeRange) -> None:
    """Trends for the page's rows; for fire rows their now state (reasons, onset, chronic mark,
    the deploy just before)."""
    known = {r.series_id: r.known_until for r in rows + fire if r.series_id}
    if rows and known:
        # A coarse trend per row.
        data = series_buckets(
            series_ids=sorted({r.series_id for r in rows if r.series_id}),
            time_range=time_range,
            columns=("invocations", "errors", "throttles"),
            max_points=TREND_POINTS,
            known_until=known,
            days=True,  # 30-day trends: 2-day buckets, 30 day rows a series instead of 720 hours
        )
        for r in rows:
            r.trend = data.get(r.series_id)
    if not fire:
        return
    states = now_states(
        inputs=[
            NowInput(
                function_id=r.id,
                series_id=r.series_id,
                known_until=r.known_until,
                timeout_s=r.timeout_s,
                concurrency_limit=r.concurrency_limit,
                reserved_concurrency=r.reserved_concurrency,
                record=r.now_record,
            )
            for r in fire
        ]
    )
    for r in fire:
        r.now = states.get(r.id)


__all__ = ["FleetPage", "FleetRow", "fleet_page", "parse_sort"]
