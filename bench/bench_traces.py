"""Traces: X-Ray calls per poll cycle against the API's own limits, and the waterfall's server time.

Run by hand (prints JSON):
    DATABASE_URL=postgres://…/lambdaops_bench python -m bench.bench_traces [--minutes 60]

1. An in-process sandbox with the small estate and ``--minutes`` of traffic; the traces poller
   runs one cycle per budget (TRACES_PER_CYCLE) from an empty table. Counted by the product's
   own usage hooks: GetTraceSummaries pages (≤ 6 h window each, paginated), BatchGetTraces calls
   (expected: ceil(traces fetched / 5), the API's limit of 5 ids per call), and the estimated
   spend ($0.50 per million traces scanned or retrieved).
2. One stored trace of 2,000 subsegments: the waterfall page's server time (selector, layout
   and template, through Django's test client), p50/p95 over ``--runs`` requests, with the
   default row cap (TRACE_WATERFALL_ROWS) and with every row drawn.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from datetime import timedelta

from bench._setup import django_ready


def _calls_per_cycle(minutes: int, budgets: list[int]) -> dict:
    from django.conf import settings
    from django.utils import timezone

    from ops.aws import client as aws_client
    from ops.aws import usage
    from ops.costs.api import api_call_cost
    from ops.models import Account, PollStatus, Trace
    from ops.pollers.base import poll_run
    from ops.pollers.inventory import inventory_poll
    from ops.pollers.traces import poll as traces
    from ops.services.accounts import account_upsert
    from sandbox import testing as sandbox

    server = sandbox.start_server()
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint
    aws_client.forget_sessions()
    try:
        spec = sandbox.seed_estate(server, small=True)
        prod = next(a for a in spec.accounts if not a.get("role_arn"))
        Account.objects.filter(account_id=prod["account_id"]).delete()
        account_upsert(name=prod["name"], account_id=prod["account_id"], regions=["us-east-1"])
        account = Account.objects.get(account_id=prod["account_id"])
        start = (timezone.now() - timedelta(minutes=minutes + 2)).replace(second=0, microsecond=0)
        sandbox.generate(server, start=start, minutes=minutes, seed=3)
        poll_run(source="inventory", account=account, region="us-east-1", work=inventory_poll)
        settings.TRACES_INITIAL_BACKFILL_MINUTES = min(360, minutes + 5)
        out = []
        for budget in budgets:
            settings.TRACES_PER_CYCLE = budget
            Trace.objects.filter(function__account=account).delete()
            PollStatus.objects.filter(account=account, source="traces").delete()
            usage.drain_all()
            t0 = time.perf_counter()
            outcome = poll_run(source="traces", account=account, region="us-east-1", work=traces.traces_poll)
            elapsed = time.perf_counter() - t0
            rows = {k.operation: (n, u, x) for k, n, u, x in usage.drain_all() if k.service == "xray"}
            s_calls, _su, scanned = rows.get("GetTraceSummaries", (0, 0, 0.0))
            b_calls, ids, _bx = rows.get("BatchGetTraces", (0, 0, 0.0))
            fetched = Trace.objects.filter(function__account=account).count()
            cost = sum(
                api_call_cost(service="xray", operation=op, calls=n, units=u, bytes_scanned=x)
                for op, (n, u, x) in rows.items()
            )
            out.append({
                "budget": budget,
                "ok": outcome.ok,
                "traces_stored": fetched,
                "trace_ids_retrieved": ids,
                "batch_get_traces_calls": b_calls,
                "batch_get_traces_calls_minimum": math.ceil(ids / 5),
                "get_trace_summaries_calls": s_calls,
                "traces_scanned": int(scanned),
                "usd_per_cycle": round(cost, 6),
                "usd_per_day_at_60s": round(cost * 1440, 4),
                "seconds": round(elapsed, 3),
            })
        return {"window_minutes": settings.TRACES_INITIAL_BACKFILL_MINUTES, "cycles": out}
    finally:
        server.stop()
        os.environ.pop("AWS_ENDPOINT_URL", None)
        aws_client.forget_sessions()


def _waterfall(runs: int, subsegments: int) -> dict:
    from django.conf import settings
    from django.test import Client
    from django.utils import timezone

    from ops.models import Account, Function
    from ops.pollers.traces.parse import trace_parse
    from ops.pollers.traces.store import trace_store
    from tests.factories import make_user
    from tests.ops.pollers.traces.builders import huge_trace

    Account.objects.filter(account_id="999999999998").delete()
    account = Account.objects.create(name="bench-traces", account_id="999999999998", regions=["us-east-1"])
    fn = Function.objects.create(
        account=account, region="us-east-1", name="bench-waterfall", memory_mb=512, timeout_s=30,
        arn="arn:aws:lambda:us-east-1:999999999998:function:bench-waterfall", last_seen=timezone.now(),
    )
    tid, docs = huge_trace(fn_name=fn.name, fn_arn=fn.arn, start=time.time() - 600, subsegments=subsegments, n=77)
    parsed, _ = trace_parse(tid, [(d["id"], json.dumps(d)) for d in docs], max_nodes=settings.TRACE_MAX_SUBSEGMENTS)
    trace_store(parsed=parsed, function=fn, fetched_at=timezone.now())
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(username="bench-traces").delete()
    user = make_user("viewer", username="bench-traces")
    client = Client()
    client.force_login(user)
    out = {"subsegments": subsegments}
    for label, cap in (("capped", settings.TRACE_WATERFALL_ROWS), ("every_row", subsegments + 10)):
        settings.TRACE_WATERFALL_ROWS = cap
        times, size = [], 0
        for _ in range(runs + 2):
            t0 = time.perf_counter()
            resp = client.get(f"/traces/{tid}", HTTP_HOST="localhost")
            times.append((time.perf_counter() - t0) * 1000)
            assert resp.status_code == 200, resp.status_code
            size = len(resp.content)
        times = sorted(times[2:])  # the first two warm the template cache
        out[label] = {
            "rows_drawn": min(cap, subsegments + 2),
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[max(0, math.ceil(len(times) * 0.95) - 1)], 1),
            "html_kb": round(size / 1024, 1),
        }
    account.delete()
    user.delete()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=int, default=60)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--subsegments", type=int, default=2000)
    args = ap.parse_args()
    django_ready()
    result = {
        "calls_per_cycle": _calls_per_cycle(args.minutes, [50, 200, 1000]),
        "waterfall": _waterfall(args.runs, args.subsegments),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
