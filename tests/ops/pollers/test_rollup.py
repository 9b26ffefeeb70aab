from datetime import timedelta

import pytest

from ops.models import ApiUsage, ErrorGroup, FiveMinuteStat, HourStat, LogLine, MinuteStat, Series
from ops.pollers import rollup
from tests.clock import hours_ago
from tests.factories import FunctionFactory

pytestmark = pytest.mark.django_db(transaction=True)
T0 = hours_ago(3)


def _series():
    return Series.objects.create(function=FunctionFactory(), kind="function", qualifier="")


def _minute(series, ts, **values):
    base = dict(invocations=0, errors=0, reports=0, billed_gb_s=0.0)
    return MinuteStat(series=series, ts=ts, **{**base, **values})


def test_five_minute_and_hour_rollups_follow_the_documented_rules():
    s = _series()
    MinuteStat.objects.bulk_create(
        [
            _minute(s, T0, invocations=10, errors=1, duration_avg=100.0, duration_max=300.0, duration_p99=250.0,
                    concurrency_max=3, reports=10, cold_starts=1, init_duration_sum=200.0, init_duration_max=200.0,
                    billed_gb_s=1.5, memory_used_max_mb=90, memory_size_mb=512),
            _minute(s, T0 + timedelta(minutes=1), invocations=30, errors=0, duration_avg=200.0, duration_max=500.0,
                    duration_p99=450.0, concurrency_max=7, reports=30, billed_gb_s=4.5, memory_used_max_mb=120, memory_size_mb=512),
            _minute(s, T0 + timedelta(minutes=4, seconds=0), invocations=0, duration_avg=None),
            _minute(s, T0 + timedelta(minutes=5), invocations=5, duration_avg=50.0, duration_p99=60.0),
        ]
    )
    assert rollup.rollup_range(start=T0, end=T0 + timedelta(hours=1)) > 0
    b0 = FiveMinuteStat.objects.get(series=s, ts=T0)
    assert (b0.invocations, b0.errors, b0.reports, b0.cold_starts) == (40, 1, 40, 1)
    assert b0.duration_avg == pytest.approx((10 * 100 + 30 * 200) / 40)  # weighted by invocations
    assert (b0.duration_max, b0.duration_p99, b0.concurrency_max) == (500.0, 450.0, 7)
    assert (b0.billed_gb_s, b0.memory_used_max_mb, b0.init_duration_max) == (pytest.approx(6.0), 120, 200.0)
    b1 = FiveMinuteStat.objects.get(series=s, ts=T0 + timedelta(minutes=5))
    assert (b1.invocations, b1.duration_avg, b1.duration_p99) == (5, 50.0, 60.0)
    h = HourStat.objects.get(series=s, ts=T0)
    assert h.invocations == 45 and h.duration_avg == pytest.approx((10 * 100 + 30 * 200 + 5 * 50) / 45)
    assert h.duration_p99 == 450.0  # max of the buckets' percentiles

    assert rollup.rollup_range(start=T0, end=T0 + timedelta(hours=1)) == 0  # nothing changed

    MinuteStat.objects.filter(series=s, ts=T0).update(invocations=20)  # a late point arrives
    rollup.rollup_range(start=T0, end=T0 + timedelta(hours=1))
    assert FiveMinuteStat.objects.get(series=s, ts=T0).invocations == 50
    assert HourStat.objects.get(series=s, ts=T0).invocations == 55


def test_rollup_buckets_align_to_the_clock_and_are_rebuilt_whole():
    s = _series()
    MinuteStat.objects.bulk_create(
        [_minute(s, T0 + timedelta(minutes=7), invocations=1), _minute(s, T0 + timedelta(minutes=9), invocations=2)]
    )
    rollup.rollup_range(start=T0 + timedelta(minutes=6), end=T0 + timedelta(minutes=8))
    assert list(FiveMinuteStat.objects.values_list("ts", "invocations")) == [(T0 + timedelta(minutes=5), 3)]
    assert list(HourStat.objects.values_list("ts", "invocations")) == [(T0, 3)]


def test_retention_mirrors_cloudwatch(settings):
    s = _series()
    now = T0
    MinuteStat.objects.bulk_create([_minute(s, now - timedelta(days=16)), _minute(s, now - timedelta(days=14))])
    # Five-minute rows go by whole weekly partitions: 63 + 7 days back is past the cutoff
    # whatever the weekday (one day past it may share a week with rows still kept).
    FiveMinuteStat.objects.create(series=s, ts=now - timedelta(days=71))
    FiveMinuteStat.objects.create(series=s, ts=now - timedelta(days=62))
    HourStat.objects.create(series=s, ts=now - timedelta(days=456))
    HourStat.objects.create(series=s, ts=now - timedelta(days=400))
    old_group = ErrorGroup.objects.create(
        function=s.function, signature="a", error_type="E", message="m", first_seen=now - timedelta(days=500), last_seen=now - timedelta(days=460)
    )
    LogLine.objects.create(function=s.function, ts=now - timedelta(days=20), stream="s", event_id="1", message="x", group=old_group)
    ApiUsage.objects.create(hour=now - timedelta(days=500), service="cloudwatch", operation="GetMetricData", account_id="1", region="r")
    deleted = rollup.retention_apply(now=now)
    assert deleted["ops_minutestat"] == 1 and deleted["ops_fiveminutestat"] == 1 and deleted["ops_hourstat"] == 1
    assert (MinuteStat.objects.count(), FiveMinuteStat.objects.count(), HourStat.objects.count()) == (1, 1, 1)
    assert not LogLine.objects.exists() and not ApiUsage.objects.exists()
    assert deleted["ops_errorgroup"] == 1 and not ErrorGroup.objects.exists()
