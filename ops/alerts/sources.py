"""The evaluator's reads: every value a tick judges, in a few set-based queries (never one per
function), as per-minute series ending at each target's known-until instant.

- ``function_targets``: the functions rules may watch (not gone, account enabled) with their
  series and known-until (``ops.selectors.telemetry.known_until_sql``), one query.
- ``function_minutes``: their one-minute rows over the last ``n`` minutes before each one's
  known-until, one query; each minute becomes the rules' ``Record`` through
  ``ops.rules.now.now_record`` on that one row, so an alert reads the same columns, ratios and
  units as the pages.
- ``dlq_minutes``: DLQ depth and new messages at each minute's end, through the same SQL the
  now state uses (ops.selectors.dlq_depth), one query.
- ``cost_today``: each function's cost since 00:00 UTC up to its window, from the coarsest rows
  that cover it (``series_totals``), one query per UTC day involved (one, or two at midnight).
- ``region_minutes``: claimed concurrency per account × region, as headroom % left.
- ``poller_values``: 1 for each poll scope ops.pollers.health calls failing, else 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection

from ops.models import DLQ_ROLES, PollStatus, SeriesKind
from ops.pollers.health import poll_health
from ops.rules import now as now_rule
from ops.rules.cost import TOTAL_COLUMNS, bucket_estimated_ms, cost_of, total_cost
from ops.rules.evaluate import Record
from ops.selectors.dlq_depth import arrivals_sql, depth_before_sql
from ops.selectors.headroom import account_concurrency_limit
from ops.selectors.telemetry import known_until_sql, series_totals

MINUTE = timedelta(minutes=1)
# What one minute row must carry: the now record's columns and the cost rule's.
ROW_COLUMNS = tuple(dict.fromkeys(now_rule.COLUMNS + ("billed_gb_s", "duration_avg")))


@dataclass
class FunctionTarget:
    function_id: int
    name: str
    account_id: int
    account_number: str
    region: str
    tags: dict
    timeout_s: int
    memory_mb: int
    architecture: str
    reserved_concurrency: int | None
    series_id: int | None
    known_until: datetime | None
    # Filled by the reads below: minute start → row / record.
    rows: dict[datetime, dict] = field(default_factory=dict)
    records: dict[datetime, Record] = field(default_factory=dict)
    _starts: dict[int, list[datetime]] = field(default_factory=dict)

    def window_starts(self, n: int) -> list[datetime]:
        """The starts of the last ``n`` one-minute windows before known-until, oldest first."""
        assert self.known_until is not None
        if n not in self._starts:
            self._starts[n] = [self.known_until - MINUTE * (n - i) for i in range(n)]
        return self._starts[n]

    def record_at(self, ts: datetime, *, concurrency_limit: int) -> Record | None:
        """The minute's Record (None: no row, the minute has no data point)."""
        if ts in self.records:
            return self.records[ts]
        row = self.rows.get(ts)
        rec = None if row is None else now_rule.now_record(
            [row], timeout_s=self.timeout_s, concurrency_limit=self.reserved_concurrency or concurrency_limit,
            reserved_concurrency=self.reserved_concurrency)
        self.records[ts] = rec
        return rec


def function_targets() -> list[FunctionTarget]:
    """Every live function with its own series and known-until (one query)."""
    sql = f"""
SELECT f.id, f.name, f.account_id, a.account_id, f.region, f.tags, f.timeout_s, f.memory_mb, f.architecture,
       f.reserved_concurrency, s.id, CASE WHEN s.id IS NULL THEN NULL ELSE {known_until_sql(function='f', series_id='s.id')} END
FROM ops_function f
JOIN ops_account a ON a.id = f.account_id
LEFT JOIN ops_series s ON s.function_id = f.id AND s.kind = %(kind)s AND s.qualifier = ''
WHERE f.gone_at IS NULL AND a.enabled
ORDER BY f.id
"""
    with connection.cursor() as cur:
        cur.execute(sql, {"kind": SeriesKind.FUNCTION.value})
        # Django reads jsonb as text from a raw cursor
        return [FunctionTarget(*row[:5], json.loads(row[5]) if isinstance(row[5], str) else (row[5] or {}), *row[6:])
                for row in cur.fetchall()]


def function_minutes(targets: list[FunctionTarget], *, n: int) -> None:
    """Fill each target's ``rows`` with its minute rows of the last ``n`` minutes before its
    known-until (one query: one index range scan per series on (series, ts))."""
    known = [t for t in targets if t.series_id and t.known_until]
    if not known or n <= 0:
        return
    by_series = {t.series_id: t for t in known}
    cols = ", ".join(f"m.{c}" for c in ROW_COLUMNS)
    # LATERAL: one range scan on minutestat_natural_key (series, ts) per series; as a plain join
    # the planner hashes the whole table instead (measured: a seq scan of every minute row).
    sql = f"""
SELECT m.series_id, m.ts, {cols}
FROM unnest(%(sids)s::int[], %(kus)s::timestamptz[]) AS k(sid, ku)
CROSS JOIN LATERAL (SELECT * FROM ops_minutestat
                    WHERE series_id = k.sid AND ts >= k.ku - %(n)s * interval '1 minute' AND ts < k.ku) m
"""
    with connection.cursor() as cur:
        cur.execute(sql, {"sids": [t.series_id for t in known], "kus": [t.known_until for t in known], "n": n})
        for sid, ts, *values in cur.fetchall():
            by_series[sid].rows[ts] = dict(zip(ROW_COLUMNS, values))


def dlq_minutes(targets: list[FunctionTarget], *, n: int) -> dict[int, tuple[list, list]]:
    """Per function with a DLQ: (depth, new messages) for each of its last ``n`` windows,
    summed over its DLQs; None where no queue has a sample yet (one query)."""
    known = [t for t in targets if t.known_until]
    if not known or n <= 0:
        return {}
    # One row per link × bound: the depth before the bound (the window's end) and the arrivals
    # the DLQ poller counted in the minute ending there. Bound 0 is the first window's start.
    sql = f"""
SELECT fq.function_id, fq.queue_id, b.i, {depth_before_sql('fq.queue_id', 'b.bound')},
       {arrivals_sql('fq.queue_id', "b.bound - interval '1 minute'", 'b.bound')}
FROM unnest(%(fids)s::int[], %(kus)s::timestamptz[]) AS k(fid, ku)
JOIN ops_functionqueue fq ON fq.function_id = k.fid AND fq.role = ANY(%(roles)s)
CROSS JOIN LATERAL (SELECT i, k.ku - (%(n)s - i) * interval '1 minute' AS bound
                    FROM generate_series(0, %(n)s) AS i) b
"""
    per: dict[int, dict[int, dict[int, tuple]]] = {}
    with connection.cursor() as cur:
        cur.execute(sql, {"fids": [t.function_id for t in known], "kus": [t.known_until for t in known], "n": n,
                          "roles": [r.value for r in DLQ_ROLES]})
        for fid, qid, i, depth, arrivals in cur.fetchall():
            per.setdefault(fid, {}).setdefault(qid, {})[i] = (depth, arrivals)
    out = {}
    for fid, queues in per.items():
        depths: list[float | None] = []
        growths: list[float | None] = []
        for i in range(1, n + 1):
            d_sum = g_sum = None
            for samples in queues.values():
                depth, arrivals = samples.get(i, (None, 0))
                if depth is None:
                    continue
                before = samples.get(i - 1, (None, 0))[0]
                # ops.selectors.dlq_depth.growth_sql, per minute
                rise = float(depth) - float(before or 0)
                growth = max(rise, float(arrivals)) if arrivals and arrivals > 0 else rise
                d_sum = (d_sum or 0.0) + float(depth)
                g_sum = (g_sum or 0.0) + growth
            depths.append(d_sum)
            growths.append(g_sum)
        out[fid] = (depths, growths)
    return out


def cost_today(targets: list[FunctionTarget], *, n: int) -> dict[int, list[float | None]]:
    """Per function: cost since 00:00 UTC of its day up to the end of each of its last ``n``
    windows (USD). The part before the windows comes from ``series_totals`` (hour, 5-minute
    and minute rows, exact to the minute); each window adds its own minute's cost."""
    known = [t for t in targets if t.series_id and t.known_until]
    out: dict[int, list[float | None]] = {}
    by_day: dict[tuple[datetime, datetime], list[FunctionTarget]] = {}
    for t in known:
        first = t.known_until - MINUTE * n
        day = t.known_until.replace(hour=0, minute=0, second=0, microsecond=0)
        if t.known_until == day:  # known up to midnight exactly: the day that just ended
            day -= timedelta(days=1)
        by_day.setdefault((day, max(first, day)), []).append(t)
    for (day, until), group in by_day.items():
        totals = series_totals(series_ids=[t.series_id for t in group], start=day, end=until,
                               columns=TOTAL_COLUMNS) if until > day else {}
        for t in group:
            base = total_cost(region=t.region, architecture=t.architecture, memory_mb=t.memory_mb,
                              totals=totals.get(t.series_id, {})).usd if until > day else 0.0
            running, values = base, []
            for ts in t.window_starts(n):
                row = t.rows.get(ts)
                if ts >= day and row is not None:
                    est = bucket_estimated_ms(duration_avg=row["duration_avg"], invocations=row["invocations"],
                                              reports=row["reports"])
                    running += cost_of(region=t.region, architecture=t.architecture, memory_mb=t.memory_mb,
                                       invocations=row["invocations"], billed_gb_s=row["billed_gb_s"],
                                       estimated_ms=est).usd
                values.append(running if ts >= day else None)
            out[t.function_id] = values
    return out


@dataclass
class ScopeTarget:
    """A target not about one function: an account × region, or a poll source there."""

    scope_key: str
    account_id: int
    region: str
    known_until: datetime | None
    values: list[float | None]  # oldest first, one per window


def region_minutes(*, n: int) -> list[ScopeTarget]:
    """Headroom (% of the account concurrency limit left) per account × region over the last
    ``n`` minutes before its newest RegionStat minute (one query; each lateral is a range scan
    on regionstat_natural_key)."""
    limit = account_concurrency_limit()
    sql = """
SELECT a.id, a.account_id, r.region, last.ts, w.ts, coalesce(w.claimed_concurrency_max, w.concurrency_max)
FROM ops_account a
CROSS JOIN unnest(a.regions) AS r(region)
CROSS JOIN LATERAL (SELECT max(ts) AS ts FROM ops_regionstat
                    WHERE account_id = a.id AND region = r.region) last
LEFT JOIN LATERAL (SELECT ts, claimed_concurrency_max, concurrency_max FROM ops_regionstat
                   WHERE account_id = a.id AND region = r.region
                     AND ts > last.ts - %(n)s * interval '1 minute' AND ts <= last.ts) w ON true
WHERE a.enabled AND last.ts IS NOT NULL
"""
    found: dict[tuple[int, str], tuple[str, datetime, dict]] = {}
    with connection.cursor() as cur:
        cur.execute(sql, {"n": n})
        for acc_id, number, region, last_ts, ts, claimed in cur.fetchall():
            entry = found.setdefault((acc_id, region), (number, last_ts + MINUTE, {}))
            if ts is not None:
                entry[2][ts] = None if claimed is None else 100.0 - 100.0 * float(claimed) / limit
    out = []
    for (acc_id, region), (number, known, values) in sorted(found.items()):
        starts = [known - MINUTE * (n - i) for i in range(n)]
        out.append(ScopeTarget(scope_key=f"{number}:{region}", account_id=acc_id, region=region, known_until=known,
                               values=[values.get(ts) for ts in starts]))
    return out


def poller_values(*, n: int, now: datetime) -> list[ScopeTarget]:
    """1.0 for a poll scope that ops.pollers.health calls failing, else 0.0 (one query). The
    health already waits several cadences before it says failing, so each of the ``n`` windows
    carries the same present verdict."""
    out = []
    for status in PollStatus.objects.select_related("account").filter(account__enabled=True):
        failing = 1.0 if poll_health(status, now=now).failing else 0.0
        out.append(ScopeTarget(scope_key=f"{status.source}:{status.account.account_id}:{status.region}",
                               account_id=status.account_id, region=status.region,
                               known_until=now.replace(second=0, microsecond=0), values=[failing] * n))
    return out
