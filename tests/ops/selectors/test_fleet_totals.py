"""The fleet overview's range totals from day rows + edges equal the finer tables' totals.

Same data, two statements: the overview as it reads now (``ops.selectors.fleet_totals``: whole
days from ``DayStat``, the partial days from hour / 5-minute / minute rows) and as it read before
(``ops.selectors.telemetry.totals_sql`` over hour / 5-minute / minute rows only), and the rows'
trends likewise (2-day buckets on 30 d read day rows). Every column of every row, trends
included, must be the same on 24 h, 7 d and 30 d.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from ops.models import DayStat, HourStat, MinuteStat
from ops.pollers import rollup
from ops.selectors import fleet
from ops.selectors.fleet import fleet_page
from ops.selectors.inventory import FunctionFilters
from ops.selectors.telemetry import series_buckets, totals_params, totals_sql
from ops.selectors.timerange import TimeRange
from tests.factories import FunctionFactory, function_series

pytestmark = pytest.mark.django_db

DAYS = 32  # a little more than the longest preset, so its head edge has rows before it

# Fields a FleetRow gets from the range totals (the rest are inventory and the now state, which
# the change does not touch; they are compared too, through asdict).
COUNTS = ("invocations", "errors", "throttles", "async_events_dropped", "cold_starts")


def _load_minutes(series_ids: list[int], *, start, end) -> None:
    """Minute rows for each series over [start, end), in time order like a poller's, with the
    variety the totals must survive: errors and throttles in bursts, REPORT lines missing from
    some minutes (the cost estimate), p99 and iterator age absent in some."""
    with connection.cursor() as cur:
        cur.execute("SELECT setseed(0.17)")
        cur.execute(
            """
INSERT INTO ops_minutestat (series_id, ts, invocations, errors, throttles, dead_letter_errors,
  destination_delivery_failures, async_events_received, async_events_dropped, recursive_invocations_dropped,
  pc_spillover_invocations, duration_avg, duration_max, duration_p99, concurrency_max, iterator_age_max,
  reports, cold_starts, init_duration_sum, billed_duration_sum, billed_gb_s, log_errors)
SELECT s.id, t.ts, v.inv,
  CASE WHEN random() < 0.01 THEN v.inv / 2 ELSE 0 END,
  CASE WHEN random() < 0.005 THEN 3 ELSE 0 END, 0, 0, 0,
  CASE WHEN random() < 0.002 THEN 1 ELSE 0 END, 0, 0,
  20 + 30 * random(), 200 * random(),
  CASE WHEN random() < 0.1 THEN NULL ELSE 100 + 400 * random() END,
  1 + 10 * random(),
  CASE WHEN s.id %% 2 = 0 THEN 1000 * random() END,
  CASE WHEN random() < 0.2 THEN 0 ELSE v.inv END, (random() < 0.05)::int, 0, v.inv * 30.0,
  v.inv * 0.03 * random(), 0
FROM unnest(%(ids)s::bigint[]) AS s(id)
CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 minute', interval '1 minute') t(ts)
CROSS JOIN LATERAL (SELECT (random() * 20)::bigint AS inv) v
ORDER BY t.ts, s.id
""",
            {"ids": series_ids, "start": start, "end": end},
        )


@pytest.fixture
def estate():
    """Four functions: one with the whole history, one new (10 days of data), one whose last
    two days are not rolled up yet (the day roll-up has not run since), one with no data."""
    now = timezone.now()
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - timedelta(days=DAYS)
    fns = [FunctionFactory(name=f"t-{i}", memory_mb=(128, 512, 1024, 2048)[i]) for i in range(4)]
    series = [function_series(f) for f in fns]
    _load_minutes([series[0].id, series[2].id], start=start, end=end)
    _load_minutes([series[1].id], start=end - timedelta(days=10, minutes=7), end=end)
    rollup.rollup_range(start=start, end=end + timedelta(hours=1))
    # CloudWatch keeps minutes 15 days (and so does retention): older ranges read roll-ups.
    MinuteStat.objects.filter(ts__lt=now - timedelta(days=15)).delete()
    last_day = rollup.floor_to(now, rollup.DAY)
    DayStat.objects.filter(series=series[2], ts__gte=last_day - timedelta(days=2)).delete()
    return now, fns


def _old_totals(*, columns, source, with_days=True):
    return totals_sql(columns=columns, source=source)


def _old_params(*, start, end):
    params = totals_params(series_ids=[], start=start, end=end)
    params.pop("ids")
    return params


def _same(a, b, path=""):
    """Equal, floats to 1e-12 relative: sums of floats in a different order (days then edges)
    differ in the last bits, never more."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12), (path, a, b)
    else:
        assert a == b, (path, a, b)


def _both(rng, monkeypatch):
    after = fleet_page(time_range=rng, filters=FunctionFilters(), sort="name")
    with monkeypatch.context() as m:
        m.setattr(fleet, "fleet_totals_sql", _old_totals)
        m.setattr(fleet, "fleet_totals_params", _old_params)
        m.setattr(fleet, "series_buckets", lambda **kw: series_buckets(**{**kw, "days": False}))
        before = fleet_page(time_range=rng, filters=FunctionFilters(), sort="name")
    return after, before


# One data set for the three ranges (building it is most of the test's time).
def test_overview_figures_from_days_equal_the_finer_tables(estate, monkeypatch):
    now, fns = estate
    for key in ("24h", "7d", "30d"):
        _same_page(key, *_both(TimeRange.preset(key, now=now), monkeypatch))
    _the_30_day_read_takes_days_not_hours(now, fns)


def _same_page(key, after, before):
    assert [r.name for r in after.rows] == ["t-0", "t-1", "t-2", "t-3"]
    for a, b in zip(after.rows, before.rows):
        for col in COUNTS:
            assert getattr(a, col) == getattr(b, col), (key, a.name, col)  # counts: exactly
        _same(asdict(a), asdict(b), f"{key}:{a.name}")
        assert a.trend is not None and len(a.trend) == len(b.trend)
    busy, new, lagging, quiet = after.rows
    assert busy.invocations > 0 and busy.errors > 0 and busy.duration_p99 is not None
    assert new.invocations > 0 and lagging.invocations > 0
    assert quiet.invocations == 0 and quiet.duration_p99 is None and quiet.cost_usd == 0
    if key != "24h":
        assert busy.cost_usd > 0


def _the_30_day_read_takes_days_not_hours(now, fns):
    """What makes it fast: ~30 day entries a series instead of ~720 hour rows (EXPLAIN's rows)."""
    rng = TimeRange.preset("30d", now=now)
    sql = fleet.fleet_totals_sql(columns=("invocations", "errors"), source="(SELECT %(sid)s::bigint)")
    params = fleet.fleet_totals_params(start=rng.start, end=rng.end) | {"sid": fns[0].series.get().id}
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        plan = cur.fetchone()[0][0]["Plan"]

    def scans(node):
        yield node
        for child in node.get("Plans", []):
            yield from scans(child)

    rows_by_table = {}
    for n in scans(plan):
        if "Relation Name" in n:
            rows_by_table[n["Relation Name"]] = rows_by_table.get(n["Relation Name"], 0) + n["Actual Rows"]
    assert 28 <= rows_by_table["ops_daystat"] <= 30
    # The hour rows read are the partial days' (fewer than 2 × 24), not the range's ~720.
    assert rows_by_table.get("ops_hourstat", 0) < 2 * 24 + 2
    assert HourStat.objects.filter(series__function=fns[0], ts__gte=rng.start).count() > 700
