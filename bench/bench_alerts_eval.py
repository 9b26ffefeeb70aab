"""Evaluation time per tick: 1,000 functions × the default rule pack, on 3 hours of minute rows.

    DATABASE_URL=postgres://…/lambdaops_bench python -m bench.bench_alerts_eval [--functions 1000]
        [--ticks 10]

1. A scratch account with N functions (previous bench data removed), each with its function
   series and 3 hours of minute rows (one INSERT … SELECT generate_series), a DLQ for every
   tenth function with a depth per minute, region concurrency, and the pack installed.
   About 5 % of the functions are failing (error rate, throttles), so a tick writes flips.
2. ``--ticks`` ticks, each one minute of data later than the last (known-until moves, the way
   the metrics poller moves it), timed around ``alerts_evaluate`` (the whole tick: reads, the
   state machine and the writes).
The first tick also inserts every state row; it is reported apart. Target: ≤ 5 s per tick.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import timedelta

from bench._setup import django_ready, scratch_estate

HISTORY_MINUTES = 180
ACCOUNT_ID = "999999999913"


def build(functions: int, ticks: int):
    from django.db import connection
    from django.utils import timezone

    from ops.alerts.pack import rule_pack_install
    from ops.models import AlertRule, AlertTick, Function, FunctionQueue, Queue, Series

    account = scratch_estate(functions=functions, account_id=ACCOUNT_ID)
    # Only the pack: other rules a developer made in this database would skew the number.
    AlertRule.objects.exclude(builtin="").delete()
    AlertRule.objects.filter(builtin="").delete()
    rule_pack_install()
    AlertTick.objects.all().delete()
    fns = list(Function.objects.filter(account=account).order_by("id"))
    Series.objects.bulk_create([Series(function=f, kind="function", qualifier="") for f in fns])
    now = timezone.now().replace(second=0, microsecond=0)
    start = now - timedelta(minutes=HISTORY_MINUTES)
    # Data stops `ticks` minutes before now; each tick publishes one more minute.
    first_known = now - timedelta(minutes=ticks)
    Function.objects.filter(account=account).update(metrics_known_until=first_known)
    queues = [Queue(account=account, region="us-east-1", name=f"bench-dlq-{i:05d}",
                    url=f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT_ID}/bench-dlq-{i:05d}",
                    arn=f"arn:aws:sqs:us-east-1:{ACCOUNT_ID}:bench-dlq-{i:05d}", last_seen=now)
              for i in range(0, functions, 10)]
    Queue.objects.bulk_create(queues)
    queues = list(Queue.objects.filter(account=account).order_by("id"))
    FunctionQueue.objects.bulk_create([FunctionQueue(function=fns[i * 10], queue=q, role="lambda_dlq")
                                       for i, q in enumerate(queues)])
    t0 = time.monotonic()
    with connection.cursor() as cur:
        cur.execute(
            """
INSERT INTO ops_minutestat (series_id, ts, invocations, errors, throttles, dead_letter_errors,
  destination_delivery_failures, async_events_received, async_events_dropped, recursive_invocations_dropped,
  pc_spillover_invocations, duration_avg, duration_max, duration_p50, duration_p90, duration_p99, concurrency_max,
  reports, cold_starts, init_duration_sum, billed_duration_sum, billed_gb_s, log_errors)
SELECT s.id, t, 100, CASE WHEN s.id %% 20 = 0 THEN 12 ELSE (s.id + extract(minute FROM t)::int) %% 2 END,
  CASE WHEN s.id %% 37 = 0 THEN 3 ELSE 0 END, 0, 0, 0, 0, 0, 0, 40, 900, 30, 80, 200 + s.id %% 5000, 4,
  100, 2, 0, 4000, 2.0, 0
FROM ops_series s JOIN ops_function f ON f.id = s.function_id
CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s::timestamptz, interval '1 minute') AS t
WHERE f.account_id = %(acct)s
""",
            {"start": start, "end": now - timedelta(minutes=1), "acct": account.pk},
        )
        rows = cur.rowcount
        cur.execute(
            """
INSERT INTO ops_queuestat (queue_id, ts, visible_max, sent)
SELECT q.id, t, CASE WHEN q.id %% 3 = 0 THEN extract(epoch FROM t - %(start)s)::int / 60 ELSE 2 END, 0
FROM ops_queue q CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s::timestamptz, interval '1 minute') t
WHERE q.account_id = %(acct)s
""",
            {"start": start, "end": now - timedelta(minutes=1), "acct": account.pk},
        )
        cur.execute(
            """
INSERT INTO ops_regionstat (account_id, region, ts, claimed_concurrency_max)
SELECT %(acct)s, 'us-east-1', t, 400 FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz,
                                                          interval '1 minute') t
""",
            {"start": start, "end": now - timedelta(minutes=1), "acct": account.pk},
        )
        cur.execute("ANALYZE ops_minutestat; ANALYZE ops_queuestat; ANALYZE ops_regionstat; ANALYZE ops_function")
    return account, first_known, rows, time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--functions", type=int, default=1000)
    ap.add_argument("--ticks", type=int, default=10)
    args = ap.parse_args()
    django_ready()
    from ops.alerts.evaluate import alerts_evaluate
    from ops.models import AlertFlip, AlertRule, AlertState, Function

    account, known, rows, load_s = build(args.functions, args.ticks)
    ms, flips, states, errors = [], [], [], []
    for i in range(args.ticks + 1):
        Function.objects.filter(account=account).update(metrics_known_until=known + timedelta(minutes=i))
        t0 = time.monotonic()
        result = alerts_evaluate()
        ms.append((time.monotonic() - t0) * 1000)
        flips.append(result.flips)
        states.append(result.states)
        errors += result.errors
    steady = sorted(ms[1:])
    out = {
        "functions": args.functions,
        "rules": AlertRule.objects.filter(enabled=True).count(),
        "minute_rows": rows,
        "load_s": round(load_s, 1),
        "states_per_tick": states[-1],
        "state_rows": AlertState.objects.count(),
        "flips": sum(flips),
        "flip_rows": AlertFlip.objects.count(),
        "first_tick_ms": round(ms[0], 1),
        "tick_ms_median": round(statistics.median(steady), 1),
        "tick_ms_max": round(steady[-1], 1),
        "target_ms": 5000,
        "ok": max(ms) <= 5000,
        "errors": errors[:5],
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
