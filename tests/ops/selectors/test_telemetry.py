"""ops.selectors.telemetry against known rows: resolution, spikes, percentiles, roll-up fallback."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from ops.models import FiveMinuteStat, HourStat
from ops.selectors.telemetry import MAX_POINTS, bucket_step, chart_tiers, series_buckets, series_totals
from ops.selectors.timerange import RANGES, TimeRange
from tests.clock import hours_ago, iso_s
from tests.factories import FunctionFactory, function_series, minutes

NOW = hours_ago(1) + timedelta(seconds=30)  # half a minute into a whole hour
HOUR = NOW.replace(second=0)
KNOWN = HOUR + timedelta(hours=1)  # every minute of these ranges polled


def test_a_custom_range_given_with_an_offset_is_held_and_labelled_in_utc():
    start = HOUR - timedelta(hours=5)
    plus2 = timezone(timedelta(hours=2))
    r = TimeRange.custom(start.astimezone(plus2), (start + timedelta(hours=2)).astimezone(plus2), now=NOW)
    assert r.start.utcoffset() == timedelta(0)
    assert r.label == f"{start:%Y-%m-%d %H:%M} – {start + timedelta(hours=2):%Y-%m-%d %H:%M} UTC"
    assert r.as_query()["start"] == iso_s(start)


@pytest.mark.parametrize("key", list(RANGES))
def test_every_range_stays_under_the_point_limit(key):
    span = RANGES[key]
    step = bucket_step(span)
    assert step % chart_tiers(span)[0].step_s == 0
    assert span / step + 1 <= MAX_POINTS


def test_resolution_follows_the_range():
    assert [t.table for t in chart_tiers(RANGES["24h"])] == ["ops_minutestat"]
    assert chart_tiers(RANGES["7d"])[0].table == "ops_hourstat"
    assert chart_tiers(3 * 86400)[0].table == "ops_fiveminutestat"
    assert bucket_step(RANGES["1h"]) == 60


@pytest.mark.django_db
def test_single_minute_spike_survives_a_30_day_chart():
    s = function_series(FunctionFactory(metrics_known_until=KNOWN))
    rng = TimeRange.preset("30d", now=NOW)
    # one quiet minute per hour for 30 days, and one minute with 500 errors
    minutes(s, start=rng.start, count=720, step_s=3600, invocations=60, errors=1)
    spike_at = HOUR - timedelta(days=13, hours=4, minutes=47)
    minutes(s, start=spike_at, count=1, invocations=600, errors=500, duration_p99=2900.0)
    data = series_buckets(series_ids=[s.id], time_range=rng)[s.id]
    assert len(data) <= MAX_POINTS
    peak = max(range(len(data)), key=lambda i: data["errors"][i])
    assert data["errors"][peak] >= 500
    assert data.ts[peak] <= spike_at < data.ts[peak] + timedelta(seconds=data.step_s)
    assert max(p for p in data["duration_p99"] if p is not None) == 2900.0


@pytest.mark.django_db
def test_percentiles_take_the_max_within_a_bucket_never_the_mean():
    s = function_series(FunctionFactory(metrics_known_until=KNOWN))
    rng = TimeRange.preset("30d", now=NOW)
    start = HOUR - timedelta(days=3, hours=9)
    p99 = [100.0, 100.0, 900.0, 100.0, 100.0]
    minutes(s, start=start, count=5, duration_p99=lambda i: p99[i], invocations=lambda i: 10 * (i + 1),
            duration_avg=lambda i: [10.0, 10.0, 100.0, 10.0, 10.0][i])
    data = series_buckets(series_ids=[s.id], time_range=rng)[s.id]
    i = data.ts.index(start)  # hourly buckets on a 30-day chart
    assert data["duration_p99"][i] == 900.0
    assert data["invocations"][i] == 150
    # the average is weighted by invocations: (100+200+3000+400+500)/150
    assert data["duration_avg"][i] == pytest.approx(4200 / 150)


@pytest.mark.django_db
def test_rollups_are_used_where_present_and_minutes_fill_the_rest_without_double_counting():
    s = function_series(FunctionFactory(metrics_known_until=KNOWN))
    rng = TimeRange.preset("30d", now=NOW)
    start = HOUR - timedelta(hours=36)
    # minute rows for 36 hours (still retained), hour roll-ups for the first 24 of them
    minutes(s, start=start, count=36 * 60, invocations=1, errors=0)
    minutes(s, start=start, count=24, model=HourStat, step_s=3600, invocations=60, errors=0)
    totals = series_totals(series_ids=[s.id], start=rng.start, end=rng.end, columns=("invocations",))
    assert totals[s.id]["invocations"] == 36 * 60
    data = series_buckets(series_ids=[s.id], time_range=rng, columns=("invocations",))[s.id]
    assert sum(data["invocations"]) == 36 * 60
    assert set(data["invocations"]) <= {0, 60}


@pytest.mark.django_db
def test_totals_are_exact_at_unaligned_edges_with_all_three_tables():
    s = function_series(FunctionFactory(metrics_known_until=KNOWN))
    start = HOUR - timedelta(hours=36)
    minutes(s, start=start, count=6 * 60, invocations=1)
    minutes(s, start=start, count=4 * 12, model=FiveMinuteStat, step_s=300, invocations=5)
    minutes(s, start=start, count=3, model=HourStat, step_s=3600, invocations=60)
    a, b = start + timedelta(minutes=7), start + timedelta(hours=5, minutes=33)
    got = series_totals(series_ids=[s.id], start=a, end=b, columns=("invocations",))[s.id]["invocations"]
    assert got == (b - a).total_seconds() / 60


@pytest.mark.django_db
def test_five_minute_rollups_fill_a_7_day_gap_when_hours_are_missing():
    s = function_series(FunctionFactory(metrics_known_until=KNOWN))
    rng = TimeRange.preset("7d", now=NOW)
    start = HOUR - timedelta(days=3, hours=12)
    minutes(s, start=start, count=12, model=FiveMinuteStat, step_s=300, invocations=5, errors=lambda i: 7 if i == 4 else 0)
    data = series_buckets(series_ids=[s.id], time_range=rng, columns=("invocations", "errors"))[s.id]
    assert sum(data["invocations"]) == 60 and sum(data["errors"]) == 7


@pytest.mark.django_db
def test_minutes_past_the_known_until_are_unknown_not_zero():
    from django.utils import timezone

    fn = FunctionFactory()
    s = function_series(fn)
    now = timezone.now()
    rng = TimeRange.preset("1h", now=now)
    minutes(s, start=rng.start, count=50, invocations=10)
    # not published by the poller: the minute after the newest row stands in
    data = series_buckets(series_ids=[s.id], time_range=rng, columns=("invocations", "duration_p99"))[s.id]
    assert data["invocations"][:50] == [10.0] * 50
    assert data["invocations"][50:] == [None] * (len(data) - 50)
    # the poller stored five quiet minutes more: those are 0, the rest still unknown
    fn.metrics_known_until = rng.start + timedelta(minutes=55)
    fn.save(update_fields=["metrics_known_until"])
    data = series_buckets(series_ids=[s.id], time_range=rng, columns=("invocations", "duration_p99"))[s.id]
    assert data["invocations"][50:55] == [0] * 5 and data["duration_p99"][50:55] == [None] * 5
    assert data["invocations"][55:] == [None] * (len(data) - 55)
    # coarser buckets: the one the known-until falls in keeps its known minutes, later ones are unknown
    wide = TimeRange(key="custom", start=rng.start, end=rng.start + timedelta(hours=2))
    coarse = series_buckets(series_ids=[s.id], time_range=wide, columns=("invocations",), max_points=9)[s.id]
    assert coarse.step_s == 900 and sum(v or 0 for v in coarse["invocations"]) == 500
    known = rng.start + timedelta(minutes=55)
    for t, v in zip(coarse.ts, coarse["invocations"]):
        assert (v is None) == (t >= known), (t, v)
    # a series never polled and without rows is not known at all
    never = function_series(FunctionFactory())
    assert set(series_buckets(series_ids=[never.id], time_range=rng, columns=("invocations",))[never.id]["invocations"]) == {None}


@pytest.mark.django_db(transaction=True)  # autocommit, as in a request: the block is the transaction
def test_page_reads_run_without_jit_and_only_inside_the_block():
    from django.db import connection

    from ops.selectors.telemetry import reads_without_jit

    def jit():
        with connection.cursor() as cur:
            cur.execute("SHOW jit")
            return cur.fetchone()[0]

    before = jit()
    with reads_without_jit():
        assert jit() == "off"
        with reads_without_jit():  # nested: no second SET, still off
            assert jit() == "off"
    assert jit() == before
