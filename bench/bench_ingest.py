"""Ingest throughput: the pollers' bulk upsert vs a raw COPY of the same rows into the same table.

Run by hand (prints JSON):
    DATABASE_URL=postgres://…/lambdaops_bench python bench/bench_ingest.py [--series 1000 --minutes 200]

Same run, same table (ops_minutestat, emptied between steps), same rows:
1. raw COPY of the rows (the ceiling);
2. bulk_upsert into the empty table (a first poll: all inserts);
3. bulk_upsert of the same rows again (a re-read window, nothing changed: no new tuples);
4. bulk_upsert with every value changed (a re-read window where late points landed).
Goal (DESIGN.md): metric upserts ≥ 50 % of raw COPY.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import datetime, timedelta, timezone

from bench._setup import django_ready, scratch_estate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--minutes", type=int, default=200)
    ap.add_argument("--batch", type=int, default=50_000, help="rows per upsert call (a poll chunk's worth)")
    args = ap.parse_args()
    django_ready()

    from django.db import connection

    from ops.models import Function, Series
    from ops.pollers.rows import stat_defaults
    from ops.pollers.metrics.plan import COUNT_COLUMNS, METRIC_COLUMNS
    from ops.pollers.storage import bulk_upsert

    account = scratch_estate(functions=args.series)
    fns = list(Function.objects.filter(account=account).order_by("pk"))
    Series.objects.bulk_create([Series(function=f, kind="function", qualifier="") for f in fns])
    sids = list(Series.objects.filter(function__account=account).values_list("pk", flat=True))

    defaults = stat_defaults()
    cols = list(defaults)
    columns = ["series_id", "ts", *cols]
    # Recent minutes, inside the day partitions maintenance keeps (a fixed old date would land
    # in the default partition and measure that instead); partitions made if missing.
    from ops.pollers import partitions

    scheme = partitions.BY_TABLE["ops_minutestat"]
    t0 = partitions.period_floor(scheme=scheme, ts=datetime.now(timezone.utc)) - timedelta(minutes=args.minutes // 2)
    if partitions.table_is_partitioned(table=scheme.table):
        partitions.partitions_ensure(scheme=scheme, start=t0, end=t0 + timedelta(minutes=args.minutes))
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

    rows = make_rows()
    changed = make_rows(bump=1)
    n = len(rows)

    def empty() -> None:
        with connection.cursor() as cur:
            cur.execute("DELETE FROM ops_minutestat WHERE series_id = ANY(%s)", [sids])
            cur.execute("VACUUM ANALYZE ops_minutestat") if connection.get_autocommit() else None

    def timed(fn) -> float:
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t

    def copy_raw() -> None:
        with connection.cursor() as cur:
            with cur.cursor.copy(f"COPY ops_minutestat ({', '.join(columns)}) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row(r)

    def upsert(data) -> None:
        for i in range(0, len(data), args.batch):
            bulk_upsert(
                table="ops_minutestat",
                key=["series_id", "ts"],
                columns=columns,
                rows=data[i : i + args.batch],
                update=METRIC_COLUMNS,
                fk_guard=("series_id", "ops_series"),
            )

    empty()
    t_copy = timed(copy_raw)
    empty()
    t_insert = timed(lambda: upsert(rows))
    t_same = timed(lambda: upsert(rows))
    t_change = timed(lambda: upsert(changed))
    with connection.cursor() as cur:
        cur.execute("SELECT count(*), sum(invocations) FROM ops_minutestat WHERE series_id = ANY(%s)", [sids])
        count, total = cur.fetchone()
    expected_total = sum(r[2] for r in changed)
    empty()
    account.delete()

    def rate(t: float) -> int:
        return int(n / t)

    print(
        json.dumps(
            {
                "rows": n,
                "batch_rows": args.batch,
                "raw_copy_rows_per_s": rate(t_copy),
                "upsert_insert_rows_per_s": rate(t_insert),
                "upsert_unchanged_rows_per_s": rate(t_same),
                "upsert_changed_rows_per_s": rate(t_change),
                "ratio_insert_vs_copy": round(t_copy / t_insert, 3),
                "ratio_changed_vs_copy": round(t_copy / t_change, 3),
                "ratio_unchanged_vs_copy": round(t_copy / t_same, 3),
                "goal_ratio": 0.5,
                "final_rows_ok": count == n and total == expected_total,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
