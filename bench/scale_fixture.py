"""Scale fixture: N functions × D days of minute data, plus 5-minute and hourly roll-ups.

Usage (point DATABASE_URL at a scratch database; the telemetry tables are emptied first):

    DATABASE_URL=postgres://…/lambdaops_bench python -m bench.scale_fixture --functions 1000 --days 30

Steps:
1. migrate, then replace the inventory with N functions over 2 accounts × 3 regions (aliases,
   deploy markers, a DLQ for every tenth function, error groups);
2. write the minute rows with one ``INSERT … SELECT generate_series`` in time-major order (the
   order pollers write in, so one series' minutes are spread over the heap as in production),
   with the unique index dropped during the load and rebuilt after; on the partitioned layout
   (migration 0021) the partitions for the whole range are made first (the fixture keeps more
   days than retention would: partition maintenance, when it next runs, drops what is past it)
   and the index is dropped and rebuilt on the parent, so on every partition;
3. build the 5-minute and hour roll-ups from the minute rows in SQL (sums for counts, max for
   percentiles and maxima, invocation-weighted duration average), up to the last whole bucket,
   then the day roll-up from the hours with the product's own code (ops.pollers.rollup);
4. region concurrency per minute and DLQ depth for the last day; optionally CLUSTER the
   roll-ups by (series, ts) (``--cluster-rollups``); VACUUM (ANALYZE) the telemetry tables,
   as the roll-up task does after its writes, so the visibility map is current and index-only
   scans stay index-only (``--no-vacuum`` leaves it empty, as a bulk load without one would:
   the previous layout's state); ANALYZE the rest.
Prints one JSON object: row counts and seconds per step.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import timedelta

TELEMETRY_TABLES = (
    "ops_minutestat",
    "ops_fiveminutestat",
    "ops_hourstat",
    "ops_daystat",
    "ops_regionstat",
    "ops_queuestat",
    "ops_errorminute",
    "ops_logline",
    "ops_errorgroup",
    "ops_series",
)
VERSIONED_FUNCTIONS = 10  # functions that also get two ExecutedVersion series


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    import django

    django.setup()


def _make_partitions(start, now) -> int:
    """Partitions for [start, the horizon) of each partitioned table, so the load never lands
    in a default partition; 0 on the unpartitioned layout (before migration 0021)."""
    from ops.pollers import partitions

    made = 0
    for scheme in partitions.SCHEMES:
        if partitions.table_is_partitioned(table=scheme.table):
            end = partitions.period_floor(scheme=scheme, ts=now) + scheme.period * (scheme.ahead + 1)
            made += len(partitions.partitions_ensure(scheme=scheme, start=start, end=end))
    return made


def build(
    *, functions: int, days: int, seed: float = 0.42, cluster_rollups: bool = False, migrate: bool = True,
    vacuum: bool = True,
) -> dict:
    """``migrate=False``: build on the schema as it is (bench_partitions builds on the layout
    before migration 0021, then converts it)."""
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from ops.pollers import rollup as rollups
    from ops.pollers.vacuum import telemetry_vacuum
    from ops.models import (
        Account,
        Alias,
        AliasChange,
        ErrorGroup,
        Function,
        FunctionQueue,
        FunctionVersion,
        PollStatus,
        Queue,
        Series,
    )

    timings: dict[str, float] = {}
    t0 = time.monotonic()
    if migrate:
        call_command("migrate", verbosity=0, interactive=False)
    now = timezone.now().replace(second=0, microsecond=0)
    start = now - timedelta(days=days)
    partitions_made = _make_partitions(start, now)

    with connection.cursor() as cur:
        cur.execute("TRUNCATE " + ", ".join(TELEMETRY_TABLES) + " CASCADE")
    with transaction.atomic():
        AliasChange.objects.all().delete()
        Alias.objects.all().delete()
        FunctionQueue.objects.all().delete()
        Queue.objects.all().delete()
        FunctionVersion.objects.all().delete()
        Function.objects.all().delete()
        PollStatus.objects.all().delete()
        Account.objects.filter(name__startswith="bench-").delete()
        regions = ["us-east-1", "eu-west-1", "ap-southeast-2"]
        accounts = [
            Account.objects.create(name=f"bench-{i}", account_id=f"{900000000000 + i}", regions=regions) for i in range(2)
        ]
        runtimes = ["python3.12", "nodejs20.x", "java21", ""]
        fns = []
        for i in range(functions):
            acct = accounts[i % 2]
            region = regions[(i // 2) % 3]
            name = f"svc-{i:04d}"
            fns.append(
                Function(
                    account=acct,
                    region=region,
                    name=name,
                    arn=f"arn:aws:lambda:{region}:{acct.account_id}:function:{name}",
                    runtime=runtimes[i % 4],
                    memory_mb=(128, 256, 512, 1024, 2048)[i % 5],
                    timeout_s=(3, 6, 15, 30, 60, 900)[i % 6],
                    architecture="arm64" if i % 3 == 0 else "x86_64",
                    reserved_concurrency=50 if i % 25 == 0 else None,
                    tags={"team": f"team-{i % 12}", "env": "prod"},
                    last_seen=now,
                )
            )
        fns = Function.objects.bulk_create(fns)
        for acct in accounts:
            for region in regions:
                PollStatus.objects.create(
                    source="metrics", account=acct, region=region, last_success_at=now, last_started_at=now
                )
        aliases = Alias.objects.bulk_create(
            [Alias(function=f, name="live", arn=f"{f.arn}:live", version="3", last_seen=now) for f in fns]
        )
        changes = []
        for k, a in enumerate(aliases):
            for d in range(1, days, 3 + k % 5):  # a deploy every few days
                changes.append(
                    AliasChange(
                        alias=a, function_id=a.function_id, at=start + timedelta(days=d, hours=k % 24),
                        from_version=str(d), to_version=str(d + 1), source="observed",
                    )
                )
        AliasChange.objects.bulk_create(changes, batch_size=5000)
        queues = []
        for f in fns[::10]:
            queues.append(
                Queue(account_id=f.account_id, region=f.region, name=f"{f.name}-dlq",
                      arn=f"arn:aws:sqs:{f.region}:{f.account.account_id}:{f.name}-dlq", last_seen=now)
            )
        queues = Queue.objects.bulk_create(queues)
        FunctionQueue.objects.bulk_create(
            [FunctionQueue(function=f, queue=q, role="lambda_dlq") for f, q in zip(fns[::10], queues)]
        )
        series = Series.objects.bulk_create([Series(function=f, kind="function", qualifier="") for f in fns])
        versions = Series.objects.bulk_create(
            [Series(function=f, kind="version", qualifier=v) for f in fns[:VERSIONED_FUNCTIONS] for v in ("2", "3")]
        )
        ErrorGroup.objects.bulk_create(
            [
                ErrorGroup(function=f, signature=f"{k:040x}", error_type="KeyError", message="'id'", count=100,
                           first_seen=start, last_seen=now, samples=[])
                for k, f in enumerate(fns)
            ]
        )
    timings["inventory_s"] = round(time.monotonic() - t0, 1)

    all_ids = [s.id for s in series] + [s.id for s in versions]
    t1 = time.monotonic()
    with connection.cursor() as cur:
        cur.execute("SELECT setseed(%s)", [seed])
        # On a partitioned table this drops (and below rebuilds) the index of every partition.
        cur.execute("ALTER TABLE ops_minutestat DROP CONSTRAINT IF EXISTS minutestat_natural_key")
        # Every series id comes from ops_series: skip the per-row foreign-key checks (tens of
        # millions of deferred trigger events) where the role may, as a restore does.
        cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        skip_fk = bool(cur.fetchone()[0])
        if skip_fk:
            cur.execute("SET session_replication_role = replica")
        # Per series: a base rate, a diurnal swing, rare error spikes (one minute in ~5,000
        # has a burst), percentiles that rise with load; REPORT-derived columns filled in.
        cur.execute(
            """
INSERT INTO ops_minutestat (
  series_id, ts, invocations, errors, throttles, dead_letter_errors, destination_delivery_failures,
  async_events_received, async_events_dropped, recursive_invocations_dropped, pc_spillover_invocations,
  duration_avg, duration_max, duration_p50, duration_p90, duration_p99, concurrency_max,
  reports, cold_starts, init_duration_sum, init_duration_max, billed_duration_sum, billed_gb_s,
  memory_used_max_mb, memory_size_mb, log_errors)
SELECT s.id, t.ts, v.inv,
       CASE WHEN random() < 0.0002 THEN (v.inv * 0.5)::bigint ELSE (v.inv * 0.001 * random())::bigint END,
       CASE WHEN random() < 0.0005 THEN 5 ELSE 0 END, 0, 0, 0, 0, 0, 0,
       v.base_ms, v.base_ms * 4, v.base_ms * 0.8, v.base_ms * 1.8, v.base_ms * (2.5 + random()),
       greatest(1, v.inv * v.base_ms / 60000.0),
       v.inv, (random() < 0.05)::int, 0, NULL, v.inv * v.base_ms, v.inv * v.base_ms / 1000.0 * s.mem / 1024.0,
       (s.mem * (0.3 + 0.2 * random()))::int, s.mem, 0
FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 minute', interval '1 minute') AS t(ts)
CROSS JOIN (
  SELECT se.id, f.memory_mb AS mem, (se.id %% 97) AS k
  FROM ops_series se JOIN ops_function f ON f.id = se.function_id WHERE se.id = ANY(%(ids)s)
) s
CROSS JOIN LATERAL (
  SELECT greatest(0, ((5 + s.k * 3) * (1.2 + sin(extract(epoch FROM t.ts) / 13751.0 + s.k))))::bigint AS inv,
         40.0 + s.k * 4 AS base_ms
) v

""",
            {"start": start, "end": now, "ids": all_ids},
        )
        minute_rows = cur.rowcount
        if skip_fk:
            cur.execute("SET session_replication_role = DEFAULT")
        timings["minute_insert_s"] = round(time.monotonic() - t1, 1)
        t2 = time.monotonic()
        cur.execute(
            "ALTER TABLE ops_minutestat ADD CONSTRAINT minutestat_natural_key UNIQUE (series_id, ts)"
        )
        timings["minute_index_s"] = round(time.monotonic() - t2, 1)

        def rollup(table: str, step: int) -> int:
            cur.execute(
                f"""
INSERT INTO {table} (
  series_id, ts, invocations, errors, throttles, dead_letter_errors, destination_delivery_failures,
  async_events_received, async_events_dropped, recursive_invocations_dropped, pc_spillover_invocations,
  duration_avg, duration_max, duration_p50, duration_p90, duration_p99, concurrency_max,
  iterator_age_max, async_event_age_max, pc_utilization_max,
  reports, cold_starts, init_duration_sum, init_duration_max, billed_duration_sum, billed_gb_s,
  memory_used_max_mb, memory_size_mb, log_errors)
SELECT series_id, date_bin(make_interval(secs => {step}), ts, 'epoch'::timestamptz) AS b,
  sum(invocations), sum(errors), sum(throttles), sum(dead_letter_errors), sum(destination_delivery_failures),
  sum(async_events_received), sum(async_events_dropped), sum(recursive_invocations_dropped),
  sum(pc_spillover_invocations),
  sum(duration_avg * invocations) / nullif(sum(invocations), 0), max(duration_max), max(duration_p50),
  max(duration_p90), max(duration_p99), max(concurrency_max), max(iterator_age_max), max(async_event_age_max),
  max(pc_utilization_max), sum(reports), sum(cold_starts), sum(init_duration_sum), max(init_duration_max),
  sum(billed_duration_sum), sum(billed_gb_s), max(memory_used_max_mb), max(memory_size_mb), sum(log_errors)
FROM ops_minutestat
WHERE ts < %(upto)s
GROUP BY series_id, b

""",
                {"upto": now - timedelta(seconds=(int(now.timestamp()) % step))},
            )
            return cur.rowcount

        t3 = time.monotonic()
        five_rows = rollup("ops_fiveminutestat", 300)
        timings["five_minute_rollup_s"] = round(time.monotonic() - t3, 1)
        t4 = time.monotonic()
        hour_rows = rollup("ops_hourstat", 3600)
        timings["hour_rollup_s"] = round(time.monotonic() - t4, 1)

        t_day = time.monotonic()
        day_rows = rollups.rollup_level(table="ops_daystat", start=start, end=now)
        timings["day_rollup_s"] = round(time.monotonic() - t_day, 1)

        t5 = time.monotonic()
        cur.execute(
            """
INSERT INTO ops_regionstat (account_id, region, ts, claimed_concurrency_max, unreserved_concurrency_max, concurrency_max)
SELECT a.id, r.region, t.ts, 300 + 200 * sin(extract(epoch FROM t.ts) / 13751.0), NULL, NULL
FROM ops_account a CROSS JOIN unnest(a.regions) AS r(region)
CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 minute', interval '1 minute') t(ts)
WHERE a.name LIKE 'bench-%%'
""",
            {"start": start, "end": now},
        )
        cur.execute(
            """
INSERT INTO ops_queuestat (queue_id, ts, visible_max, oldest_age_max_s, sent)
SELECT q.id, t.ts, (q.id %% 7) * 3, 60, 0
FROM ops_queue q CROSS JOIN generate_series(%(end)s::timestamptz - interval '1 day', %(end)s::timestamptz - interval '1 minute', interval '1 minute') t(ts)
""",
            {"end": now},
        )
        if cluster_rollups:
            # Models a roll-up job that rewrites closed periods series-major: one series' rows
            # share heap pages, so a fleet total touches ~1 page per series instead of ~1 per row.
            t6 = time.monotonic()
            cur.execute("CLUSTER ops_hourstat USING hourstat_natural_key")
            cur.execute("CLUSTER ops_fiveminutestat USING fiveminutestat_natural_key")
            timings["cluster_rollups_s"] = round(time.monotonic() - t6, 1)
        timings["rest_s"] = round(time.monotonic() - t5, 1)
    t7 = time.monotonic()
    if vacuum:
        vacuumed = telemetry_vacuum(tables=[t for t in TELEMETRY_TABLES if t != "ops_series"], analyze=True)
        timings["vacuum_analyze_s"] = round(time.monotonic() - t7, 1)
        timings["vacuum_s_by_table"] = vacuumed
    with connection.cursor() as cur:
        cur.execute("ANALYZE")  # inventory too: fresh tables without statistics get nested-loop plans
    timings["analyze_s"] = round(time.monotonic() - t7, 1)
    return {
        "functions": functions,
        "days": days,
        "series": len(all_ids),
        "minute_rows": minute_rows,
        "five_minute_rows": five_rows,
        "hour_rows": hour_rows,
        "day_rows": day_rows,
        "rollups_clustered": cluster_rollups,
        "partitions_made": partitions_made,
        "vacuumed": vacuum,
        "seconds": timings,
        "total_s": round(time.monotonic() - t0, 1),
    }


def upgrade() -> dict:
    """A fixture the previous layout built (no day rows, no vacuum): migrate, roll its days up
    from the hour rows and vacuum, so both layouts are timed on the same rows."""
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from ops.pollers import rollup as rollups
    from ops.pollers.vacuum import telemetry_vacuum

    t0 = time.monotonic()
    call_command("migrate", verbosity=0, interactive=False)
    with connection.cursor() as cur:
        cur.execute("SELECT min(ts) FROM ops_hourstat")
        first = cur.fetchone()[0]
    now = timezone.now()
    day_rows = rollups.rollup_level(table="ops_daystat", start=first or now, end=now)
    t1 = time.monotonic()
    vacuumed = telemetry_vacuum(tables=[t for t in TELEMETRY_TABLES if t != "ops_series"], analyze=True)
    return {
        "day_rows": day_rows,
        "seconds": {"migrate_and_days_s": round(t1 - t0, 1), "vacuum_analyze_s": round(time.monotonic() - t1, 1)},
        "vacuum_s_by_table": vacuumed,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--functions", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--cluster-rollups", action="store_true", help="store roll-ups series-major (CLUSTER)")
    parser.add_argument("--no-vacuum", action="store_true", help="leave the visibility map empty (no VACUUM)")
    parser.add_argument("--upgrade", action="store_true", help="bring an existing fixture to this layout; build nothing")
    args = parser.parse_args(argv)
    setup_django()
    if args.upgrade:
        print(json.dumps(upgrade(), indent=2))
        return
    out = build(
        functions=args.functions, days=args.days, cluster_rollups=args.cluster_rollups, vacuum=not args.no_vacuum
    )
    print(json.dumps(out, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
