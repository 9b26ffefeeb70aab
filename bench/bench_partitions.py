"""Partitioned telemetry: ingest vs COPY, retention by partition drop vs batched delete, and the
conversion of a scale fixture by migration 0021. Prints one JSON object.

    DATABASE_URL=postgres://…/lambdaops_bench python -m bench.bench_partitions \\
        [--series 1000 --minutes 200] [--day-series 1000] [--functions 200 --days 14] [--no-conversion]

All in one run, on this machine:
1. ingest: the same rows into the partitioned ops_minutestat as a raw COPY (the ceiling) and
   through the pollers' bulk upsert (first write, unchanged re-read, changed re-read), then the
   same upserts into a plain table laid out as before migration 0021 (primary key on id, unique
   (series_id, ts), BRIN on ts) — the previous layout. Goal: upserts ≥ 0.5 of a raw COPY.
2. retention of one day (``--day-series`` series × 1,440 minutes): dropping its partition, as
   partition maintenance does, vs the old batched DELETE of the same day from the plain table
   (which also holds the next day, as a live table would). Both tables are filled the same way.
3. conversion (unless --no-conversion): a scale fixture (``--functions`` × ``--days``) built in
   a scratch database <name>_partitions_scale on the layout before 0021 (dropped at the end),
   converted by the migration, timed; row counts and exact sums of both tables, and the range
   totals and chart buckets the pages read (fixed ranges of 1, 7 and all days), before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from datetime import timedelta
from urllib.parse import urlparse, urlunparse

from bench._setup import django_ready, scratch_estate

PLAIN = "bench_minutestat_plain"


def _plain_table(cur) -> None:
    """ops_minutestat as it was before 0021: one heap, a primary key on id, the natural key, BRIN."""
    cur.execute(f"DROP TABLE IF EXISTS {PLAIN}")
    cur.execute(f"CREATE TABLE {PLAIN} (LIKE ops_minutestat INCLUDING DEFAULTS INCLUDING IDENTITY)")
    cur.execute(f"ALTER TABLE {PLAIN} ADD PRIMARY KEY (id), ADD UNIQUE (series_id, ts)")
    cur.execute(f"CREATE INDEX ON {PLAIN} USING brin (ts)")


def ingest(args, sids) -> dict:
    from django.db import connection
    from django.utils import timezone

    from ops.pollers import partitions
    from ops.pollers.metrics.plan import COUNT_COLUMNS, METRIC_COLUMNS
    from ops.pollers.rows import stat_defaults
    from ops.pollers.storage import bulk_upsert

    scheme = partitions.BY_TABLE["ops_minutestat"]
    # Recent minutes across midnight, so rows are routed to two day partitions.
    t0 = partitions.period_floor(scheme=scheme, ts=timezone.now()) - timedelta(minutes=args.minutes // 2)
    partitions.partitions_ensure(scheme=scheme, start=t0, end=t0 + timedelta(minutes=args.minutes))
    defaults = stat_defaults()
    cols = list(defaults)
    columns = ["series_id", "ts", *cols]
    rnd = random.Random(7)

    def make_rows(bump: int = 0) -> list[tuple]:
        rows = []
        for m in range(args.minutes):
            ts = t0 + timedelta(minutes=m)
            for sid in sids:
                vals = dict(defaults)
                for c in METRIC_COLUMNS:
                    vals[c] = rnd.randint(0, 100) + bump if c in COUNT_COLUMNS else rnd.random() * 1000 + bump
                rows.append((sid, ts, *[vals[c] for c in cols]))
        return rows

    rows, changed = make_rows(), make_rows(bump=1)

    def empty(table: str) -> None:
        with connection.cursor() as cur:
            cur.execute(f"DELETE FROM {table} WHERE series_id = ANY(%s)", [sids])
            cur.execute(f"VACUUM ANALYZE {table}")

    def timed(fn) -> float:
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t

    def copy_raw(table: str) -> None:
        with connection.cursor() as cur:
            with cur.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row(r)

    def upsert(table: str, data) -> None:
        for i in range(0, len(data), args.batch):
            bulk_upsert(table=table, key=["series_id", "ts"], columns=columns, rows=data[i : i + args.batch],
                        update=METRIC_COLUMNS, fk_guard=("series_id", "ops_series"))

    out: dict = {"rows": len(rows), "batch_rows": args.batch}
    with connection.cursor() as cur:
        _plain_table(cur)
    for label, table in (("partitioned", "ops_minutestat"), ("plain", PLAIN)):
        empty(table)
        t_copy = timed(lambda: copy_raw(table))
        empty(table)
        t_insert = timed(lambda: upsert(table, rows))
        t_same = timed(lambda: upsert(table, rows))
        t_change = timed(lambda: upsert(table, changed))
        with connection.cursor() as cur:
            cur.execute(f"SELECT count(*), sum(invocations) FROM {table} WHERE series_id = ANY(%s)", [sids])
            count, total = cur.fetchone()
        empty(table)
        n = len(rows)
        out[label] = {
            "raw_copy_rows_per_s": int(n / t_copy),
            "upsert_insert_rows_per_s": int(n / t_insert),
            "upsert_unchanged_rows_per_s": int(n / t_same),
            "upsert_changed_rows_per_s": int(n / t_change),
            "ratio_insert_vs_copy": round(t_copy / t_insert, 3),
            "ratio_changed_vs_copy": round(t_copy / t_change, 3),
            "ratio_unchanged_vs_copy": round(t_copy / t_same, 3),
            "final_rows_ok": count == n and total == sum(r[2] for r in changed),
        }
    p, q = out["partitioned"], out["plain"]
    out["goal_ratio_vs_copy"] = 0.5
    out["ratio_partitioned_vs_plain_upsert_insert"] = round(p["upsert_insert_rows_per_s"] / q["upsert_insert_rows_per_s"], 3)
    out["ratio_partitioned_vs_plain_upsert_changed"] = round(p["upsert_changed_rows_per_s"] / q["upsert_changed_rows_per_s"], 3)
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE {PLAIN}")
    return out


def retention(args, sids) -> dict:
    from django.db import connection
    from django.utils import timezone

    from ops.pollers import partitions, rollup

    scheme = partitions.BY_TABLE["ops_minutestat"]
    sids = sids[: args.day_series]
    # Two whole days long past retention: the first is the one retention removes.
    day = partitions.period_floor(scheme=scheme, ts=timezone.now()) - timedelta(days=40)
    fill = (
        "INSERT INTO {t} (series_id, ts, invocations, errors, throttles, dead_letter_errors, destination_delivery_failures,"
        " async_events_received, async_events_dropped, recursive_invocations_dropped, pc_spillover_invocations,"
        " duration_avg, duration_p99, reports, cold_starts, init_duration_sum, billed_duration_sum, billed_gb_s, log_errors)"
        " SELECT s, t, 10, 0, 0, 0, 0, 0, 0, 0, 0, 50.0, 120.0, 10, 0, 0, 500, 0.5, 0"
        " FROM generate_series(%s::timestamptz, %s::timestamptz - interval '1 minute', interval '1 minute') t"
        " CROSS JOIN unnest(%s::bigint[]) s ORDER BY t, s"
    )
    partitions.partitions_ensure(scheme=scheme, start=day, end=day + timedelta(days=2))
    with connection.cursor() as cur:
        _plain_table(cur)
        for table in ("ops_minutestat", PLAIN):
            cur.execute(fill.format(t=table), [day, day + timedelta(days=2), sids])
            cur.execute(f"VACUUM ANALYZE {table}")
    name = partitions.partition_name(scheme=scheme, lo=day)
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {name}")
        day_rows = cur.fetchone()[0]
    t = time.perf_counter()
    partitions.partition_drop(name=name)
    drop_ms = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    deleted = rollup._delete_before(PLAIN, "ts", day + timedelta(days=1))
    delete_ms = (time.perf_counter() - t) * 1000
    with connection.cursor() as cur:
        cur.execute(f"SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = '{PLAIN}'")
        dead = cur.fetchone()[0]
        cur.execute(f"DROP TABLE {PLAIN}")
    partitions.partition_drop(name=partitions.partition_name(scheme=scheme, lo=day + timedelta(days=1)))
    return {
        "day_rows": day_rows,
        "deleted_rows": deleted,
        "partition_drop_ms": round(drop_ms, 1),
        "batched_delete_ms": round(delete_ms, 1),
        "ratio_delete_vs_drop": round(delete_ms / drop_ms, 1),
        "dead_tuples_left_by_delete": dead,
    }


# ---------------------------------------------------------------------------------------------
# Conversion, in its own database and process (Django binds one database per process)


def _scratch_url() -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    url = urlparse(os.environ.get("DATABASE_URL", f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"))
    return urlunparse(url._replace(path=f"{url.path}_partitions_scale"))


def _admin(sql: str) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(sql)


def conversion(args) -> dict:
    url = _scratch_url()
    name = urlparse(url).path.lstrip("/")
    _admin(f'DROP DATABASE IF EXISTS "{name}"')
    _admin(f'CREATE DATABASE "{name}"')
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.bench_partitions", "--convert-here",
             "--functions", str(args.functions), "--days", str(args.days)],
            env={**os.environ, "DATABASE_URL": url}, capture_output=True, text=True,
        )
        if proc.returncode != 0:
            return {"error": f"exit {proc.returncode}", "stderr": proc.stderr[-3000:]}
        return json.loads(proc.stdout)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}"')


def _figures(now) -> dict:
    """What the pages read, over fixed ranges: exact sums of both tables, every series' range
    totals (1 day, 7 days, everything) and one series' chart buckets at each range."""
    from django.db import connection

    from ops.models import Series
    from ops.selectors.telemetry import series_buckets, series_totals
    from ops.selectors.timerange import TimeRange

    out: dict = {}
    with connection.cursor() as cur:
        for table in ("ops_minutestat", "ops_fiveminutestat", "ops_hourstat"):
            cur.execute(f"SELECT count(*), sum(invocations), sum(errors), sum(billed_gb_s::numeric)::text,"
                        f" max(duration_p99) FROM {table}")
            count, inv, err, gbs, p99 = cur.fetchone()
            out[table] = [count, int(inv or 0), int(err or 0), gbs, p99]
    ids = list(Series.objects.order_by("pk").values_list("pk", flat=True))
    end = now.replace(second=0, microsecond=0)

    def rounded(d: dict) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in d.items()}

    for days in (1, 7, 400):
        start = end - timedelta(days=days)
        totals = series_totals(series_ids=ids, start=start, end=end)
        out[f"totals_{days}d"] = {str(k): rounded(v) for k, v in totals.items()}
        buckets = series_buckets(series_ids=ids[:1], time_range=TimeRange(key="custom", start=start, end=end))
        data = buckets[ids[0]]
        out[f"buckets_{days}d"] = {
            "ts": [t.isoformat() for t in data.ts],
            **{c: [round(v, 6) if isinstance(v, float) else v for v in vs] for c, vs in data.values.items()},
        }
    return out


def convert_here(args) -> dict:
    """In the scratch database: the layout before 0021, the fixture, then the migration."""
    import django
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("migrate", "ops", "0017_alerts", verbosity=0)  # the layout before 0021
    from bench.scale_fixture import build

    fixture = build(functions=args.functions, days=args.days, migrate=False)
    with connection.cursor() as cur:
        cur.execute("SELECT pg_total_relation_size('ops_minutestat') + pg_total_relation_size('ops_fiveminutestat')")
        size_before = cur.fetchone()[0]
    now = timezone.now()
    before = _figures(now)
    t = time.perf_counter()
    call_command("migrate", "ops", "0021_partitions", verbosity=0)
    convert_s = time.perf_counter() - t
    after = _figures(now)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*), coalesce(sum(pg_total_relation_size(inhrelid)), 0)::bigint FROM pg_inherits"
            " WHERE inhparent IN ('ops_minutestat'::regclass, 'ops_fiveminutestat'::regclass)"
        )
        parts, size_after = cur.fetchone()
    differing = sorted(k for k in before if before[k] != after[k])
    return {
        "fixture": {k: fixture[k] for k in ("functions", "days", "series", "minute_rows", "five_minute_rows")},
        "fixture_build_s": fixture["total_s"],
        "conversion_s": round(convert_s, 1),
        "rows_per_s": int((fixture["minute_rows"] + fixture["five_minute_rows"]) / convert_s),
        "partitions": parts,
        "bytes_before": size_before,
        "bytes_after": size_after,
        "tables_before": {k: before[k] for k in ("ops_minutestat", "ops_fiveminutestat")},
        "tables_after": {k: after[k] for k in ("ops_minutestat", "ops_fiveminutestat")},
        "figures_compared": sorted(before),
        "figures_differing": differing,
        "same_figures": not differing,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--minutes", type=int, default=200)
    ap.add_argument("--batch", type=int, default=50_000, help="rows per upsert call (a poll chunk's worth)")
    ap.add_argument("--day-series", type=int, default=1000, help="series in the day retention removes")
    ap.add_argument("--functions", type=int, default=200, help="scale fixture for the conversion")
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--no-conversion", action="store_true")
    ap.add_argument("--convert-here", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.convert_here:
        print(json.dumps(convert_here(args)))
        return
    django_ready()

    from ops.models import Function, Series

    account = scratch_estate(functions=max(args.series, args.day_series))
    fns = list(Function.objects.filter(account=account).order_by("pk"))
    Series.objects.bulk_create([Series(function=f, kind="function", qualifier="") for f in fns])
    sids = list(Series.objects.filter(function__account=account).order_by("pk").values_list("pk", flat=True))
    try:
        out = {
            "ingest": ingest(args, sids[: args.series]),
            "retention_one_day": retention(args, sids),
        }
    finally:
        account.delete()
    if not args.no_conversion:
        out["conversion"] = conversion(args)
    print(json.dumps(out, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
