"""Partition maintenance of the minute and five-minute tables (ops.pollers.partitions)."""

from datetime import timedelta

import pytest
from django.db import connection

from ops.models import FiveMinuteStat, MinuteStat, Series
from ops.pollers import partitions, rollup
from ops.pollers.partitions import BY_TABLE, partition_name, partitions_list, period_floor
from ops.pollers.rows import stat_defaults
from ops.pollers.storage import bulk_upsert
from tests.clock import this_hour
from tests.factories import FunctionFactory

pytestmark = pytest.mark.django_db(transaction=True)
MINUTE, FIVE = BY_TABLE["ops_minutestat"], BY_TABLE["ops_fiveminutestat"]


@pytest.fixture(autouse=True)
def partitions_as_found(transactional_db):
    """DDL outlives the test's data: put each table's partitions back as the migration made them."""
    before = {s.table: {p.name: p for p in partitions_list(table=s.table)} for s in (MINUTE, FIVE)}
    yield
    with connection.cursor() as cur:
        cur.execute("TRUNCATE ops_minutestat, ops_fiveminutestat")
    for scheme in (MINUTE, FIVE):
        now = {p.name for p in partitions_list(table=scheme.table)}
        for name in now - set(before[scheme.table]):
            partitions.partition_drop(name=name)
        for name in set(before[scheme.table]) - now:
            partitions.partition_make(scheme=scheme, lo=before[scheme.table][name].lo)


def _series():
    return Series.objects.create(function=FunctionFactory(), kind="function", qualifier="")


def _where(table, series, ts):
    with connection.cursor() as cur:
        cur.execute(f"SELECT tableoid::regclass::text FROM {table} WHERE series_id = %s AND ts = %s", [series.pk, ts])
        return [r[0] for r in cur.fetchall()]


def _upsert(series, ts, invocations):
    """One row through the pollers' own write path (COPY into a stage, INSERT … ON CONFLICT)."""
    values = {**stat_defaults(), "invocations": invocations}
    return bulk_upsert(
        table="ops_minutestat",
        key=["series_id", "ts"],
        columns=["series_id", "ts", *values],
        rows=[(series.pk, ts, *values.values())],
        update=["invocations"],
    )


def test_maintenance_makes_partitions_ahead_and_drops_only_those_past_retention():
    # Noon of the current day: the cutoff then falls inside a day, never on its boundary.
    now = period_floor(scheme=MINUTE, ts=this_hour()) + timedelta(hours=12)
    s = _series()
    cutoff = now - timedelta(days=15)
    partitions.partitions_ensure(scheme=MINUTE, start=now - timedelta(days=20), end=now)
    old, straddling, kept = now - timedelta(days=18), cutoff - timedelta(minutes=1), cutoff + timedelta(minutes=1)
    # a day whose every minute is past the cutoff, a minute past it in the day the cutoff falls
    # in, a minute still kept
    MinuteStat.objects.bulk_create([MinuteStat(series=s, ts=ts, invocations=1) for ts in (old, straddling, kept)])
    assert _where("ops_minutestat", s, old) == [partition_name(scheme=MINUTE, lo=period_floor(scheme=MINUTE, ts=old))]

    report = partitions.partitions_maintain(now=now)

    names = {p.name for p in partitions_list(table="ops_minutestat")}
    today = period_floor(scheme=MINUTE, ts=now)
    ahead = {partition_name(scheme=MINUTE, lo=today + timedelta(days=d)) for d in range(4)}
    assert ahead <= names  # today and 3 days ahead
    week = period_floor(scheme=FIVE, ts=now)
    assert {partition_name(scheme=FIVE, lo=week + timedelta(days=7 * w)) for w in range(3)} <= {
        p.name for p in partitions_list(table="ops_fiveminutestat")
    }
    bounds = {p.name: p for p in partitions_list(table="ops_minutestat") if not p.is_default}
    assert all(p.hi > cutoff for p in bounds.values())  # nothing whole past the cutoff is left
    dropped = set(report["ops_minutestat"]["dropped"])
    assert partition_name(scheme=MINUTE, lo=period_floor(scheme=MINUTE, ts=old)) in dropped
    assert partition_name(scheme=MINUTE, lo=period_floor(scheme=MINUTE, ts=cutoff)) not in dropped
    # The row a minute past the cutoff shares its day with kept rows: it stays until the day goes.
    assert sorted(MinuteStat.objects.filter(series=s).values_list("ts", flat=True)) == [straddling, kept]
    assert report["ops_minutestat"]["skipped"] == []

    again = partitions.partitions_maintain(now=now)  # nothing left to do
    assert again["ops_minutestat"] == {"made": [], "moved": 0, "dropped": [], "skipped": []}


def test_a_row_outside_every_partition_lands_in_the_default_and_maintenance_moves_it_out():
    now = this_hour()
    s = _series()
    ts = now - timedelta(days=5, minutes=7)
    name = partition_name(scheme=MINUTE, lo=period_floor(scheme=MINUTE, ts=ts))
    if name in {p.name for p in partitions_list(table="ops_minutestat")}:
        partitions.partition_drop(name=name)
    future = now + timedelta(days=40)  # past the horizon: waits in the default partition
    past = now - timedelta(days=16)  # past retention: deleted from the default partition
    for t, n in ((ts, 7), (future, 8), (past, 9)):
        assert _upsert(s, t, n) == 1  # accepted, not refused
    assert _where("ops_minutestat", s, ts) == ["ops_minutestat_default"]

    deleted = rollup.retention_apply(now=now)

    assert _where("ops_minutestat", s, ts) == [name]
    assert MinuteStat.objects.get(series=s, ts=ts).invocations == 7
    assert _where("ops_minutestat", s, future) == ["ops_minutestat_default"]
    assert not MinuteStat.objects.filter(series=s, ts=past).exists()
    assert deleted["ops_minutestat"] == 1  # the default partition's row past the cutoff
    moved = {p.name: p for p in partitions_list(table="ops_minutestat")}[name]
    assert moved.hi - moved.lo == timedelta(days=1)
    with connection.cursor() as cur:  # made with the autovacuum settings
        cur.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [name])
        assert "autovacuum_vacuum_insert_scale_factor=0.02" in cur.fetchone()[0]


def test_upserts_still_merge_on_the_natural_key():
    now = this_hour()
    s = _series()
    ts = now - timedelta(minutes=3)
    assert _upsert(s, ts, 5) == 1
    assert _upsert(s, ts, 5) == 0  # unchanged: no new row, no new tuple
    assert _upsert(s, ts, 6) == 1
    assert list(MinuteStat.objects.filter(series=s).values_list("ts", "invocations")) == [(ts, 6)]
    # The roll-up upserts into the partitioned five-minute table on the same key.
    bucket = rollup.floor_to(ts, timedelta(minutes=5))
    rollup.rollup_level(table="ops_fiveminutestat", start=bucket, end=bucket + timedelta(minutes=5))
    MinuteStat.objects.filter(series=s, ts=ts).update(invocations=9)
    rollup.rollup_level(table="ops_fiveminutestat", start=bucket, end=bucket + timedelta(minutes=5))
    assert list(FiveMinuteStat.objects.filter(series=s).values_list("ts", "invocations")) == [(bucket, 9)]
    # The ORM still writes and reads rows by the model's id.
    row = MinuteStat.objects.create(series=s, ts=ts + timedelta(minutes=1), invocations=2)
    assert MinuteStat.objects.get(pk=row.pk).invocations == 2


def test_a_lock_not_granted_in_time_skips_the_step_and_the_next_run_does_it(monkeypatch):
    import psycopg

    monkeypatch.setattr(partitions, "LOCK_TIMEOUT_MS", 200)
    now = this_hour()
    s = _series()
    ts = now - timedelta(days=6, minutes=3)
    name = partition_name(scheme=MINUTE, lo=period_floor(scheme=MINUTE, ts=ts))
    if name in {p.name for p in partitions_list(table="ops_minutestat")}:
        partitions.partition_drop(name=name)
    _upsert(s, ts, 4)
    reader = psycopg.connect(**connection.get_connection_params())  # a long read holding the default partition
    try:
        reader.execute("LOCK TABLE ops_minutestat_default IN ACCESS SHARE MODE")
        report = partitions.partitions_maintain(now=now)
        assert [x.split(":")[0] for x in report["ops_minutestat"]["skipped"]] == [f"move {ts:%Y-%m-%d}"]
        assert "lock timeout" in report["ops_minutestat"]["skipped"][0]
        assert _where("ops_minutestat", s, ts) == ["ops_minutestat_default"]  # left as it was
    finally:
        reader.close()
    report = partitions.partitions_maintain(now=now)
    assert report["ops_minutestat"]["skipped"] == [] and _where("ops_minutestat", s, ts) == [name]
