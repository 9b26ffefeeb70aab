"""The day roll-up (DayStat): whole days from the hour rows, its retention, the vacuum after it."""

from datetime import timedelta

import pytest
from django.db import connection

from ops.models import DayStat, FiveMinuteStat, HourStat, MinuteStat, Series
from ops.pollers import rollup
from ops.pollers.vacuum import telemetry_vacuum
from tests.clock import this_hour
from tests.factories import FunctionFactory

TODAY = rollup.floor_to(this_hour(), rollup.DAY)
D1, D2 = TODAY - 2 * rollup.DAY, TODAY - rollup.DAY  # two complete days


def _series():
    return Series.objects.create(function=FunctionFactory(), kind="function", qualifier="")


def _minute(series, ts, **values):
    return MinuteStat(series=series, ts=ts, **{"invocations": 0, "reports": 0, **values})


@pytest.mark.django_db
def test_complete_days_roll_up_by_the_documented_rules_and_today_waits():
    s = _series()
    MinuteStat.objects.bulk_create(
        [
            # day 1 starts at 13:00 (a function deployed mid-day): its day holds what its hours hold
            _minute(s, D1 + timedelta(hours=13), invocations=10, errors=2, throttles=1, duration_avg=100.0,
                    duration_max=300.0, duration_p99=250.0, concurrency_max=3, reports=10, cold_starts=1,
                    billed_gb_s=1.5, memory_used_max_mb=90),
            # no REPORT lines this minute: the cost estimate is Duration avg × invocations
            _minute(s, D1 + timedelta(hours=20, minutes=3), invocations=30, duration_avg=200.0,
                    duration_max=500.0, duration_p99=450.0, concurrency_max=7, memory_used_max_mb=120),
            _minute(s, D2 + timedelta(hours=23, minutes=59), invocations=5, errors=5, duration_avg=50.0,
                    duration_p99=60.0, reports=5, billed_gb_s=0.25),
            _minute(s, TODAY + timedelta(minutes=1), invocations=7, reports=7),  # today: not over
        ]
    )
    rollup.rollup_range(start=D1, end=this_hour() + timedelta(hours=1))

    days = {d.ts: d for d in DayStat.objects.filter(series=s)}
    assert sorted(days) == [D1, D2]  # today has no day row until it is over
    d1 = days[D1]
    assert (d1.invocations, d1.errors, d1.throttles, d1.reports, d1.cold_starts) == (40, 2, 1, 10, 1)
    assert d1.duration_avg == pytest.approx((10 * 100 + 30 * 200) / 40)  # weighted by invocations
    assert (d1.duration_max, d1.duration_p99, d1.concurrency_max, d1.memory_used_max_mb) == (500.0, 450.0, 7, 120)
    assert d1.billed_gb_s == pytest.approx(1.5)
    # the estimate over its hours: the 20:00 hour had no REPORT line; the 13:00 hour had
    assert d1.est_duration_ms == pytest.approx(30 * 200.0)
    d2 = days[D2]
    assert (d2.invocations, d2.errors, d2.duration_p99, d2.est_duration_ms) == (5, 5, 60.0, 0)
    # a day row is exactly its hour rows summed
    hours = HourStat.objects.filter(series=s, ts__gte=D1, ts__lt=D2)
    assert sum(h.invocations for h in hours) == d1.invocations

    assert rollup.rollup_range(start=D1, end=TODAY) == 0  # re-rolling unchanged days writes nothing
    MinuteStat.objects.filter(series=s, ts=D2 + timedelta(hours=23, minutes=59)).update(invocations=9)  # late point
    rollup.rollup_range(start=D2 + timedelta(hours=23), end=TODAY)
    assert DayStat.objects.get(series=s, ts=D2).invocations == 9


@pytest.mark.django_db
def test_rollup_recent_rolls_the_days_not_rolled_yet():
    s = _series()
    MinuteStat.objects.bulk_create([_minute(s, D1 + timedelta(hours=5), invocations=4)])
    rollup.rollup_range(start=D1, end=D1 + timedelta(hours=6))  # minutes → hours → day
    DayStat.objects.all().delete()  # as if the roll-up never ran once the day was over
    rollup.rollup_recent()  # its trailing window is only the last hours, yet day 1 is rolled
    assert DayStat.objects.get(series=s, ts=D1).invocations == 4


@pytest.mark.django_db
def test_day_rows_go_with_the_hours(settings):
    s = _series()
    now = this_hour()
    DayStat.objects.create(series=s, ts=rollup.floor_to(now - timedelta(days=456), rollup.DAY))
    kept = DayStat.objects.create(series=s, ts=rollup.floor_to(now - timedelta(days=400), rollup.DAY))
    deleted = rollup.retention_apply(now=now)
    assert deleted["ops_daystat"] == 1
    assert list(DayStat.objects.values_list("id", flat=True)) == [kept.id]
    settings.HOUR_RETENTION_DAYS = 30
    assert rollup.retention_apply(now=now)["ops_daystat"] == 1 and not DayStat.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_rollup_task_leaves_the_tables_it_wrote_all_visible():
    """After the roll-up, the day read is index-only with no heap fetch (what the overview's
    30-day total relies on); inside a transaction the vacuum is skipped, not an error."""
    s = _series()
    MinuteStat.objects.bulk_create(
        [_minute(s, D1 + timedelta(minutes=i), invocations=1, reports=1) for i in range(0, 2 * 1440, 7)]
    )
    rollup.rollup_range(start=D1, end=TODAY)
    FiveMinuteStat.objects.filter(series=s).update(errors=0)  # dead tuples, pages not all-visible
    rollup.rollup_recent()
    with connection.cursor() as cur:
        cur.execute("SET enable_seqscan = off")
        cur.execute("SET enable_bitmapscan = off")
        cur.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) SELECT sum(invocations) FROM ops_daystat WHERE series_id = %s AND ts >= %s",
            [s.id, D1],
        )
        plan = cur.fetchone()[0][0]["Plan"]
        cur.execute("RESET enable_seqscan")
        cur.execute("RESET enable_bitmapscan")
    scan = plan["Plans"][0]
    assert (scan["Node Type"], scan["Heap Fetches"], scan["Actual Rows"]) == ("Index Only Scan", 0, 2)
    with connection.cursor() as cur:
        cur.execute("SELECT relallvisible > 0 FROM pg_class WHERE relname = 'ops_hourstat'")
        assert cur.fetchone()[0]

    from django.db import transaction

    with transaction.atomic():
        assert telemetry_vacuum(tables=["ops_daystat"]) == {}
