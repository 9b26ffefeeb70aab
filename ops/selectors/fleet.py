"""The fleet overview's reads: every function's numbers for a range and what is on fire.

The whole table is one SQL statement whatever the number of functions: filter the inventory,
total each function's series over the range (``ops.selectors.telemetry``), join the DLQ depth
and the price, compute the ratios, rank by the requested sort, and return the requested page
plus the rows that are on fire. Trends, onsets and deploys for those rows are one query each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection

from ops.costs import lambda_cost
from ops.models import DLQ_ROLES, AliasChange, AliasChangeSource, Function, SeriesKind
from ops.rules.cost import cost_usd_sql
from ops.rules.episode import onset
from ops.rules.evaluate import Finding, Record, page_findings
from ops.rules.signals import ERROR_RATE
from ops.rules.sql import on_fire_sql
from ops.selectors.headroom import account_concurrency_limit
from ops.selectors.inventory import FunctionFilters
from ops.selectors.telemetry import EST_MS, SeriesData, series_buckets, totals_params, totals_sql
from ops.selectors.timerange import TimeRange

PAGE_SIZE = 50
MAX_ON_FIRE = 20
# ≤ 25 trend buckets: hourly on a 24 h range, so trends read the small hour roll-up
TREND_POINTS = 25
ONSET_POINTS = 181  # "since" to the minute on 1 h, 2 min on 6 h, 10 min on 24 h, hours beyond

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

_TOTAL_COLUMNS = (
    "invocations",
    "errors",
    "throttles",
    "async_events_dropped",
    "reports",
    "cold_starts",
    "billed_gb_s",
    "duration_p99",
    "concurrency_max",
    "iterator_age_max",
    EST_MS,
)


def parse_sort(raw: str | None) -> str:
    raw = (raw or "").strip()
    return raw if raw.lstrip("-") in SORTS else DEFAULT_SORT


@dataclass
class FleetRow:
    id: int
    name: str
    account: str
    region: str
    runtime: str
    architecture: str
    memory_mb: int
    timeout_s: int
    reserved_concurrency: int | None
    series_id: int | None
    invocations: float
    errors: float
    throttles: float
    async_events_dropped: float
    cold_starts: float
    duration_p99: float | None  # ms, max of the stored per-minute p99 in the range
    concurrency_max: float | None
    iterator_age_max: float | None  # ms
    dlq_depth: float | None  # latest visible messages summed over the function's DLQs
    dlq_growth: float | None  # how much that depth grew since the range began
    error_rate: float | None  # %
    p99_pct: float | None  # p99 as % of the timeout
    cold_pct: float | None  # % of invocations (REPORT lines) that were cold starts
    concurrency_limit: int
    concurrency_pct: float | None
    cost_usd: float
    on_fire: bool
    trend: SeriesData | None = None
    reasons: list[tuple[str, str]] = field(default_factory=list)  # (level, text)
    since: datetime | None = None
    baseline_rate: float | None = None
    deploy: AliasChange | None = None
    minutes_after_deploy: int | None = None
    spark: dict | None = None

    @property
    def level(self) -> str:
        levels = {lvl for lvl, _ in self.reasons}
        return "bad" if "bad" in levels else ("warn" if "warn" in levels else "ok")


@dataclass
class FleetPage:
    rows: list[FleetRow]
    fire: list[FleetRow]
    total: int
    page: int
    per_page: int
    sort: str

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def start_index(self) -> int:
        return 0 if not self.total else (self.page - 1) * self.per_page + 1

    @property
    def end_index(self) -> int:
        return min(self.total, self.page * self.per_page)

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _filter_sql(filters: FunctionFilters) -> tuple[str, dict]:
    where, params = [], {}
    if not filters.include_gone:
        where.append("f.gone_at IS NULL")
    if filters.q:
        where.append("f.name ILIKE %(q)s")
        params["q"] = "%" + filters.q.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
    if filters.account:
        where.append("a.name = %(account)s")
        params["account"] = filters.account
    if filters.region:
        where.append("f.region = %(region)s")
        params["region"] = filters.region
    if filters.runtime:
        where.append("f.runtime = %(runtime)s")
        params["runtime"] = filters.runtime
    if filters.tag:
        key, sep, value = filters.tag.partition("=")
        if sep:
            where.append("f.tags @> jsonb_build_object(%(tag_key)s::text, %(tag_value)s::text)")
            params |= {"tag_key": key, "tag_value": value}
        else:
            where.append("f.tags ? %(tag_key)s")
            params["tag_key"] = key
    return (" AND ".join(where) or "TRUE"), params


def _price_values() -> tuple[str, dict]:
    """Unit prices per (region, architecture) present in the inventory, from the cost model.
    ``lambda_cost`` is linear in requests and GB-seconds, so two calls give both unit prices."""
    pairs = sorted(set(Function.objects.values_list("region", "architecture").distinct()))
    if not pairs:
        return "SELECT NULL::text AS region, NULL::text AS arch, 0::float AS req, 0::float AS gbs", {}
    rows, params = [], {}
    for i, (region, arch) in enumerate(pairs):
        params |= {
            f"pr{i}": region,
            f"pa{i}": arch,
            f"pq{i}": lambda_cost(region=region, architecture=arch, requests=1, gb_seconds=0),
            f"pg{i}": lambda_cost(region=region, architecture=arch, requests=0, gb_seconds=1),
        }
        rows.append(f"(%(pr{i})s::text, %(pa{i})s::text, %(pq{i})s::float, %(pg{i})s::float)")
    return "SELECT * FROM (VALUES " + ", ".join(rows) + ") AS p(region, arch, req, gbs)", params


def fleet_page(
    *, time_range: TimeRange, filters: FunctionFilters, sort: str = DEFAULT_SORT, page: int = 1, per_page: int = PAGE_SIZE
) -> FleetPage:
    """One page of the fleet table plus the on-fire rows (2 queries for all rows, whatever N;
    then one for trends and one for deploys)."""
    sort = parse_sort(sort)
    desc = sort.startswith("-")
    order_col = SORTS[sort.lstrip("-")]
    order = f"{order_col} {'DESC' if desc else 'ASC'} NULLS LAST, name, id"
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
    stat_sql = totals_sql(columns=_TOTAL_COLUMNS, source="(SELECT sid FROM fn WHERE sid IS NOT NULL)")
    sql = f"""
WITH fn AS MATERIALIZED (
  SELECT f.id, f.name, a.name AS account, f.region, f.runtime, f.architecture, f.memory_mb, f.timeout_s,
         f.reserved_concurrency, s.id AS sid
  FROM ops_function f
  JOIN ops_account a ON a.id = f.account_id
  LEFT JOIN ops_series s ON s.function_id = f.id AND s.kind = %(series_kind)s AND s.qualifier = ''
  WHERE {where}
),
tot AS MATERIALIZED ({stat_sql}),
dlq AS (
  -- the latest depth, and how much it grew since the range began (a DLQ filling up is on
  -- fire; old messages nobody redrove show in the table but do not page anyone)
  SELECT fq.function_id, sum(q.visible_max) AS depth,
         sum(q.visible_max - coalesce(b.visible_max, 0)) AS growth
  FROM ops_functionqueue fq
  CROSS JOIN LATERAL (
    SELECT visible_max FROM ops_queuestat WHERE queue_id = fq.queue_id AND ts < %(end)s ORDER BY ts DESC LIMIT 1
  ) q
  LEFT JOIN LATERAL (
    SELECT visible_max FROM ops_queuestat WHERE queue_id = fq.queue_id AND ts < %(start)s ORDER BY ts DESC LIMIT 1
  ) b ON true
  WHERE fq.role = ANY(%(dlq_roles)s) AND fq.function_id IN (SELECT id FROM fn)
  GROUP BY 1
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
  SELECT r.*,
    {on_fire_sql(table="r")} AS on_fire,
    row_number() OVER (ORDER BY {order}) AS rn,
    count(*) OVER () AS total
  FROM r
),
fire AS (
  SELECT id, row_number() OVER (ORDER BY error_rate DESC NULLS LAST, throttles DESC, dlq_depth DESC NULLS LAST, name)
         AS fire_rank
  FROM ranked WHERE on_fire
)
SELECT ranked.*, fire.fire_rank FROM ranked LEFT JOIN fire USING (id)
WHERE rn > %(offset)s AND rn <= %(offset)s + %(per_page)s OR fire.fire_rank <= %(max_fire)s
ORDER BY rn
"""
    params |= price_params
    params |= totals_params(series_ids=[], start=time_range.start, end=time_range.end)
    params.pop("ids")
    params |= {
        "series_kind": SeriesKind.FUNCTION.value,
        "dlq_roles": [r.value for r in DLQ_ROLES],
        "limit": limit,
        "offset": (page - 1) * per_page,
        "per_page": per_page,
        "max_fire": MAX_ON_FIRE,
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
    return FleetPage(rows=rows, fire=fire_rows, total=total, page=page, per_page=per_page, sort=sort)


def _f(value) -> float | None:
    return float(value) if value is not None else None


def _row(rec: dict) -> FleetRow:
    return FleetRow(
        id=rec["id"],
        name=rec["name"],
        account=rec["account"],
        region=rec["region"],
        runtime=rec["runtime"],
        architecture=rec["architecture"],
        memory_mb=rec["memory_mb"],
        timeout_s=rec["timeout_s"],
        reserved_concurrency=rec["reserved_concurrency"],
        series_id=rec["sid"],
        invocations=float(rec["invocations"]),
        errors=float(rec["errors"]),
        throttles=float(rec["throttles"]),
        async_events_dropped=float(rec["async_events_dropped"]),
        cold_starts=float(rec["cold_starts"]),
        duration_p99=_f(rec["duration_p99"]),
        concurrency_max=_f(rec["concurrency_max"]),
        iterator_age_max=_f(rec["iterator_age_max"]),
        dlq_depth=_f(rec["dlq_depth"]),
        dlq_growth=_f(rec["dlq_growth"]),
        error_rate=_f(rec["error_rate"]),
        p99_pct=_f(rec["p99_pct"]),
        cold_pct=_f(rec["cold_pct"]),
        concurrency_limit=int(rec["concurrency_limit"]),
        concurrency_pct=_f(rec["concurrency_pct"]),
        cost_usd=float(rec["cost_usd"] or 0),
        on_fire=bool(rec["on_fire"]),
    )


def _judge(row: FleetRow) -> list[Finding]:
    findings = page_findings(Record.of(row))
    row.reasons = [(f.level.value, f.text) for f in findings]
    return findings


def _annotate(*, rows: list[FleetRow], fire: list[FleetRow], time_range: TimeRange) -> None:
    """Trends for the page's rows, and for fire rows their reasons, onset and the deploy just before."""
    wanted = {r.series_id for r in rows + fire if r.series_id}
    if not wanted:
        for r in fire:
            _judge(r)
        return
    # A coarse trend per row; the fire rows' onsets get a finer read below.
    data = series_buckets(
        series_ids=sorted(wanted), time_range=time_range, columns=("invocations", "errors", "throttles"), max_points=TREND_POINTS
    )
    for r in rows:
        r.trend = data.get(r.series_id)
    fire_ids = [r.id for r in fire]
    deploys: dict[int, list[AliasChange]] = {}
    fine: dict[int, SeriesData] = {}
    if fire_ids:
        # Onsets at full chart resolution (the trend's coarse buckets would blur "since").
        fine = series_buckets(
            series_ids=sorted({r.series_id for r in fire if r.series_id}),
            time_range=time_range,
            columns=("invocations", "errors", "throttles"),
            max_points=ONSET_POINTS,
        )
        for ch in (
            AliasChange.objects.filter(function_id__in=fire_ids, at__gte=time_range.start - timedelta(hours=1))
            .filter(at__lt=time_range.end)
            .exclude(source=AliasChangeSource.CREATED)
            .select_related("alias")
            .order_by("at")
        ):
            deploys.setdefault(ch.function_id, []).append(ch)
    for r in fire:
        findings = _judge(r)
        series = fine.get(r.series_id) if r.series_id else None
        if series is not None:
            r.since, baseline = onset(series)
            # "↑ from x %" only makes sense next to an error-rate reason
            if any(f.signal is ERROR_RATE for f in findings):
                r.baseline_rate = baseline
        if r.since is None:
            continue
        step = timedelta(seconds=series.step_s)
        before = [d for d in deploys.get(r.id, []) if d.at < r.since + step and r.since - d.at <= timedelta(hours=1)]
        if before:
            r.deploy = before[-1]
            r.minutes_after_deploy = max(0, round((r.since - r.deploy.at).total_seconds() / 60))


__all__ = ["FleetPage", "FleetRow", "fleet_page", "parse_sort"]
