"""The cost rule: one formula, the same answer from SQL, from totals, per bucket and per week."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from ops.costs import lambda_cost
from ops.rules.cost import Sql, bucket_costs, cost_of, cost_usd_sql, gb_seconds, total_cost
from ops.rules.rightsizing import rightsizing_of, suggested_memory_mb
from ops.selectors.fleet import fleet_page
from ops.selectors.function import function_data, function_series_map
from ops.selectors.points import function_metric_series
from ops.selectors.inventory import FunctionFilters, function_header
from ops.selectors.telemetry import series_buckets
from ops.selectors.timerange import TimeRange
from tests.factories import function_series, minutes
from tests.factories import FunctionFactory

US = "us-east-1"


def test_gb_seconds_and_the_estimate_where_report_lines_are_missing():
    assert gb_seconds(memory_mb=1024, billed_ms=1000) == 1.0
    assert gb_seconds(memory_mb=512, billed_ms=200) == pytest.approx(0.1)
    # REPORT's billed GB-s, plus Duration × invocations at the configured memory for the rest
    c = cost_of(region=US, architecture="x86_64", memory_mb=2048, invocations=1000, billed_gb_s=10.0, estimated_ms=5000)
    assert c.estimated_gb_s == 10.0 and c.estimated
    assert c.usd == pytest.approx(lambda_cost(region=US, architecture="x86_64", requests=1000, gb_seconds=20.0))
    exact = cost_of(region=US, architecture="arm64", memory_mb=2048, invocations=None, billed_gb_s=None, estimated_ms=0)
    assert (exact.usd, exact.estimated) == (0.0, False)
    assert str(Sql("a") + 1 * Sql("b") / 2) == "(a + ((1.0 * b) / 2.0))"


@pytest.mark.django_db
def test_the_sql_expression_is_the_python_rule():
    rng = random.Random(5)
    pools = ([0, 1, 999, 10**6], [0.0, 0.25, 1234.5], [0.0, 3.0, 7e6], [128, 1769, 10240])
    rows = [tuple(rng.choice(p) for p in pools) for _ in range(200)]
    req = lambda_cost(region=US, architecture="x86_64", requests=1, gb_seconds=0)
    gbs = lambda_cost(region=US, architecture="x86_64", requests=0, gb_seconds=1)
    expr = cost_usd_sql(
        invocations="t.n", billed_gb_s="t.billed", estimated_ms="t.est", memory_mb="t.mem",
        request_usd="%s", gb_second_usd="%s",
    )  # fmt: skip
    with connection.cursor() as cur:
        # the fleet's column types: numeric sums of bigints, float8 sums, an integer memory size
        cur.execute("CREATE TEMPORARY TABLE cost_rows (i int, n numeric, billed float8, est float8, mem integer)")
        cur.executemany("INSERT INTO cost_rows VALUES (%s, %s, %s, %s, %s)", [(i, *r) for i, r in enumerate(rows)])
        cur.execute(f"SELECT {expr} FROM cost_rows t ORDER BY i", [req, gbs])
        from_sql = [float(v) for (v,) in cur.fetchall()]
        cur.execute("DROP TABLE cost_rows")
    for (n, billed, est, mem), usd in zip(rows, from_sql):
        python = cost_of(
            region=US, architecture="x86_64", memory_mb=mem, invocations=n, billed_gb_s=billed, estimated_ms=est
        )
        assert usd == pytest.approx(python.usd, rel=1e-12, abs=1e-15)


@pytest.mark.django_db
def test_fleet_totals_buckets_and_the_api_agree_on_a_function_cost(client):
    """Minutes with REPORT lines and minutes without: the fleet's SQL column, the page's totals and
    the per-minute buckets summed all give the same dollars."""
    from tests.factories import make_user

    now = timezone.now().replace(second=0, microsecond=0)
    fn = FunctionFactory(memory_mb=1536, architecture="arm64", timeout_s=30)
    s = function_series(fn)
    start = now - timedelta(minutes=50)
    minutes(
        s, start=start, count=40, invocations=lambda i: 100 + i, duration_avg=lambda i: 20.0 + i,
        reports=lambda i: 0 if i % 3 == 0 else 100 + i, billed_gb_s=lambda i: 0 if i % 3 == 0 else 2.5 + i / 10,
    )  # fmt: skip
    rng = TimeRange.preset("1h", now=now)
    [row] = fleet_page(time_range=rng, filters=FunctionFilters()).rows
    fd = function_data(function=function_header(pk=fn.pk), time_range=rng, now=now)
    est_ms = sum((20.0 + i) * (100 + i) for i in range(40) if i % 3 == 0)
    billed = sum(2.5 + i / 10 for i in range(40) if i % 3)
    invocations = sum(100 + i for i in range(40))
    gb_s = billed + est_ms / 1000 * 1.5
    expected = lambda_cost(region=fn.region, architecture="arm64", requests=invocations, gb_seconds=gb_s)
    assert row.cost_usd == pytest.approx(expected, rel=1e-12)
    assert fd.totals.cost_usd == pytest.approx(expected, rel=1e-12) and fd.totals.cost_estimated
    fn_series, _ = function_series_map(function=fn)
    points = function_metric_series(function=fn, series=fn_series, metric="cost", time_range=rng)
    assert points.step_s == 60
    assert sum(v for v in points.values if v) == pytest.approx(expected, rel=1e-12)
    # the same buckets through the chart's path (every column read, as the page does)
    chart_data = series_buckets(series_ids=[s.id], time_range=rng)[s.id]
    assert points.values == bucket_costs(chart_data, region=fn.region, architecture="arm64", memory_mb=1536)
    rates = function_metric_series(function=fn, series=fn_series, metric="error_rate", time_range=rng)
    assert {v for v in rates.values if v is not None} == {0.0}
    assert total_cost(region=fn.region, architecture="arm64", memory_mb=1536, totals={}).usd == 0.0
    client.force_login(make_user())
    body = client.get(reverse("api-function-series", args=[fn.pk]), {"metric": "cost", "range": "1h"}).json()
    assert sum(v for _, v in body["points"] if v) == pytest.approx(expected, rel=1e-12)


def test_rightsizing_rule():
    assert [suggested_memory_mb(u) for u in (10, 102, 103, 310, 800)] == [128, 128, 256, 512, 1024]
    week = {"memory_used_max_mb": 300.0, "billed_gb_s": 7000.0, "est_duration_ms": 0, "invocations": 1e6}
    rs = rightsizing_of(totals=week, memory_mb=1024, region=US, architecture="x86_64")
    monthly = 7000.0 * 30 / 7
    now_usd = lambda_cost(region=US, architecture="x86_64", requests=0, gb_seconds=monthly)
    assert (rs.used_max_mb, rs.configured_mb, rs.suggested_mb) == (300.0, 1024, 384)
    assert rs.monthly_now_usd == pytest.approx(now_usd)
    assert rs.monthly_saving_usd == pytest.approx(now_usd * (1 - 384 / 1024)) and rs.worth_it
    # a peak over the size means add memory; no REPORT lines, no hint
    assert rightsizing_of(totals=week, memory_mb=256, region=US, architecture="x86_64").verdict == "add"
    assert rightsizing_of(totals={"memory_used_max_mb": None}, memory_mb=256, region=US, architecture="x86_64") is None
    # at 90 % of the size (or with out-of-memory kills) it says add memory, never "fits"
    full = rightsizing_of(totals=week | {"memory_used_max_mb": 921.6}, memory_mb=1024, region=US, architecture="x86_64")
    assert full.verdict == "add" and full.suggested_mb == 1536
    assert full.monthly_extra_usd == pytest.approx(now_usd * 0.5)
    below = rightsizing_of(totals=week | {"memory_used_max_mb": 921.5}, memory_mb=1024, region=US, architecture="x86_64")
    assert below.verdict == "fits" and below.suggested_mb == 1024
    oom = rightsizing_of(totals=week, memory_mb=1024, region=US, architecture="x86_64", oom_errors=3)
    assert oom.verdict == "add" and oom.oom_errors == 3 and oom.suggested_mb == 1536
    assert rightsizing_of(totals=week | {"memory_used_max_mb": 9000.0}, memory_mb=10240, region=US,
                          architecture="x86_64").suggested_mb == 10240  # Lambda's largest size
