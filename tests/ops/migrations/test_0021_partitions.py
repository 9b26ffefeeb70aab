"""Migration 0021 partitions the minute and five-minute tables by time, keeping every row."""

from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection

from tests.ops.migrations.executor import migrate_to, migrate_to_latest, two_functions

BEFORE = [("ops", "0018_alerts_rules")]
AFTER = [("ops", "0021_partitions")]
# Exact sums (numeric): a float sum depends on the order rows are read in.
SUMS = "count(*), sum(invocations), sum(errors), sum(billed_gb_s::numeric), max(duration_p99), count(duration_avg), max(id)"


def _figures():
    out = {}
    with connection.cursor() as cur:
        for table in ("ops_minutestat", "ops_fiveminutestat"):
            cur.execute(f"SELECT {SUMS} FROM {table}")
            out[table] = cur.fetchone()
    return out


def _homes(table):
    with connection.cursor() as cur:
        cur.execute(f"SELECT tableoid::regclass::text, count(*) FROM {table} GROUP BY 1")
        return dict(cur.fetchall())


@pytest.mark.django_db(transaction=True)
def test_conversion_keeps_every_row_and_every_figure():
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    try:
        old = migrate_to(BEFORE)
        _account, functions = two_functions(old, now=now)
        Series, MinuteStat, FiveMinuteStat = (old.get_model("ops", m) for m in ("Series", "MinuteStat", "FiveMinuteStat"))
        series = [Series.objects.create(function=f, kind="function", qualifier="") for f in functions]
        # Three days of a minute every 7 (both series), one row from long ago and one far ahead
        # (both outside any partition the migration makes), five-minute rows over five weeks.
        minutes = [now - timedelta(minutes=7 * k) for k in range(3 * 24 * 60 // 7)]
        minutes += [now - timedelta(days=400), now + timedelta(days=60)]
        MinuteStat.objects.bulk_create(
            MinuteStat(series=s, ts=ts, invocations=k % 50, errors=k % 3, billed_gb_s=k / 7, duration_avg=k % 11 or None,
                       duration_p99=float(k % 97))
            for i, s in enumerate(series) for k, ts in enumerate(minutes, start=i)
        )
        five = [now.replace(minute=now.minute - now.minute % 5) - timedelta(minutes=5 * 97 * k) for k in range(125)]
        FiveMinuteStat.objects.bulk_create(
            FiveMinuteStat(series=s, ts=ts, invocations=k, errors=1, billed_gb_s=0.5, duration_p99=float(k))
            for s in series for k, ts in enumerate(five)
        )
        before = _figures()
        assert before["ops_minutestat"][0] == 2 * len(minutes)

        migrate_to(AFTER)
        assert _figures() == before
        homes = _homes("ops_minutestat")
        assert homes.pop("ops_minutestat_default") == 2 * 2  # the two rows outside, of each series
        assert len(homes) >= 3 and all(name.startswith("ops_minutestat_p") for name in homes)  # a partition a day
        assert len(_homes("ops_fiveminutestat")) >= 5  # a partition a week
        with connection.cursor() as cur:
            # New rows continue the old ids, and the pollers' upsert key still merges.
            sql = ("INSERT INTO ops_minutestat (series_id, ts, invocations, errors, throttles, dead_letter_errors,"
                   " destination_delivery_failures, async_events_received, async_events_dropped,"
                   " recursive_invocations_dropped, pc_spillover_invocations, reports, cold_starts, init_duration_sum,"
                   " billed_duration_sum, billed_gb_s, log_errors) VALUES (%s, %s, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)"
                   " ON CONFLICT (series_id, ts) DO UPDATE SET invocations = ops_minutestat.invocations + 1 RETURNING id")
            cur.execute(sql, [series[0].pk, now + timedelta(minutes=1)])
            new_id = cur.fetchone()[0]
            assert new_id > before["ops_minutestat"][6]
            cur.execute(sql, [series[0].pk, now + timedelta(minutes=1)])
            cur.execute("SELECT count(*), sum(invocations) FROM ops_minutestat WHERE ts = %s", [now + timedelta(minutes=1)])
            assert cur.fetchone() == (1, 2)
            cur.execute("DELETE FROM ops_minutestat WHERE id = %s", [new_id])

        migrate_to(BEFORE)  # and back: one plain table again, the same figures
        assert _figures() == before
        assert _homes("ops_minutestat") == {"ops_minutestat": 2 * len(minutes)}
    finally:
        # Back to the latest layout without these rows: converting them again would leave the
        # partitions they called for (120 days back) to the tests that come after.
        with connection.cursor() as cur:
            cur.execute("TRUNCATE ops_minutestat, ops_fiveminutestat")
        migrate_to(BEFORE)
        migrate_to_latest()
