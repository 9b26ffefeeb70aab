"""AWS calls per metrics cycle for N functions, and the product's own CloudWatch spend per day.

Run by hand (prints JSON):
    DATABASE_URL=postgres://…/lambdaops_bench python bench/bench_metric_calls.py [--functions 1000]

CloudWatch is a botocore Stubber behind the product's own client factory, so the usage
counter (ops.aws.usage) counts exactly what would be sent and billed. Expected: GetMetricData
calls per cycle == 1 + ceil(function queries / 500): the scope's aggregates are read first, in a
call of their own, so the detection trigger is judged before the functions are chosen.
"""

from __future__ import annotations

import argparse
import json
import math
import time

from bench._setup import django_ready, scratch_estate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--functions", type=int, default=1000)
    args = ap.parse_args()
    django_ready()

    from botocore.stub import Stubber
    from django.conf import settings

    from ops.aws import client as aws_client
    from ops.aws import cloudwatch, usage
    from ops.models import MetricsCadence
    from ops.pollers.metrics import poll as metrics
    from ops.pollers.metrics import plan
    from ops.pollers.base import poll_run

    account = scratch_estate(functions=args.functions)
    made = []

    def stubbed(service, scope):
        c = aws_client.client(service, scope)  # the real factory: timeouts, retries, usage hooks
        stub = Stubber(c)
        for _ in range(10_000):
            stub.add_response("get_metric_data", {"MetricDataResults": []})
        stub.activate()
        made.append(stub)
        return c

    cloudwatch.client = stubbed
    usage.drain_all()
    t0 = time.perf_counter()
    outcome = poll_run(source="metrics", account=account, region="us-east-1", work=metrics.metrics_poll)
    elapsed = time.perf_counter() - t0
    counted = {(k.service, k.operation): (n, u) for k, n, u, _ in usage.drain_all()}
    calls, metrics_requested = counted.get(("cloudwatch", "GetMetricData"), (0, 0))

    specs = plan.function_specs(percentiles=settings.METRICS_PERCENTILES, stream=False, provisioned=False)
    per_fn = len(specs)
    queries = args.functions * per_fn + len(plan.REGION)
    expected = 1 + math.ceil(args.functions * per_fn / 500)
    planned = MetricsCadence.objects.get(account=account, region="us-east-1")
    projection = {"busy_s": planned.busy_s, "idle_s": planned.idle_s, "usd_per_day": planned.usd_per_day}
    base = settings.METRICS_POLL_SECONDS

    # Second cycle, one idle interval later: nothing was invoked, so every function is idle
    # and read with the probe set only.
    from datetime import timedelta

    later = metrics.now() + timedelta(seconds=settings.METRICS_IDLE_POLL_SECONDS)
    metrics.now = lambda: later
    poll_run(source="metrics", account=account, region="us-east-1", work=metrics.metrics_poll)
    idle_counted = {(k.service, k.operation): (n, u) for k, n, u, _ in usage.drain_all()}
    idle_calls, idle_metrics = idle_counted.get(("cloudwatch", "GetMetricData"), (0, 0))
    idle_queries = args.functions * len(plan.PROBE) + len(plan.REGION)
    idle_expected = 1 + math.ceil(args.functions * len(plan.PROBE) / 500)

    def scenario(busy_share: float) -> dict:
        busy = int(args.functions * busy_share)
        cad = plan.plan_cadence(
            busy_queries=busy * per_fn,
            idle_queries=(args.functions - busy) * len(plan.PROBE),
            fixed_queries=len(plan.REGION),
            budget_usd=settings.AWS_DAILY_BUDGET_USD * (1 - settings.DETECT_TRIGGER_RESERVE),
            base_s=base,
            busy_s=settings.METRICS_BUSY_POLL_SECONDS,
            idle_s=settings.METRICS_IDLE_POLL_SECONDS,
        )
        return {"busy_functions": busy, "busy_every_s": cad.busy_s, "idle_every_s": cad.idle_s, "usd_per_day": cad.usd_per_day}

    print(
        json.dumps(
            {
                "functions": args.functions,
                "queries_per_function": per_fn,
                "queries_per_cycle": queries,
                "getmetricdata_calls": calls,
                "expected_calls": expected,
                "calls_equal_1_plus_ceil_function_queries_over_500": calls == expected,
                "metrics_requested_counted": metrics_requested,
                "idle_cycle_queries": idle_queries,
                "idle_cycle_calls": idle_calls,
                "idle_cycle_expected_calls": idle_expected,
                "idle_cycle_metrics_requested_counted": idle_metrics,
                "cycle_seconds_with_stub": round(elapsed, 3),
                "poll_ok": outcome.ok,
                "spend_usd_per_day": {
                    "every_function_every_minute_no_budget": round(queries * 1440 * 0.01 / 1000, 2),
                    "default_settings_all_busy": scenario(1.0),
                    "default_settings_20pct_busy": scenario(0.2),
                    "default_settings_all_idle": scenario(0.0),
                    "budget_usd_per_day": settings.AWS_DAILY_BUDGET_USD,
                    "this_run_projection": projection,
                },
            },
            indent=2,
        )
    )
    account.delete()


if __name__ == "__main__":
    main()
