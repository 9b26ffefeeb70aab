"""Benchmark the sandbox: seed, backfill, and a full 500-query / 24 h GetMetricData call.

    python bench/bench_sandbox.py [--days 1] [--small]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from sandbox.testing import backfill, ledger_totals, seed_estate, start_server  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--days", type=float, default=1.0)
    p.add_argument("--small", action="store_true")
    args = p.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    out: dict = {}
    server = start_server()
    try:
        t = time.perf_counter()
        estate = seed_estate(server, small=args.small)
        out["seed_s"] = round(time.perf_counter() - t, 2)
        out["functions"] = len(estate.functions)
        end = datetime.now(timezone.utc).replace(second=0, microsecond=0)
        t = time.perf_counter()
        counts = backfill(server, days=args.days, end=end)
        out["backfill_days"] = args.days
        out["backfill_s"] = round(time.perf_counter() - t, 2)
        out["backfill_counts"] = counts
        out["ledger_invocations"] = ledger_totals(server)["invocations"]

        # 500 queries over the busiest region, 24 h at 60 s: one full call (100,800 points) + all pages
        prod = [f for f in estate.functions if f.account == "123456789012" and f.region == "us-east-1"]
        metrics = [("Invocations", "Sum"), ("Errors", "Sum"), ("Throttles", "Sum"), ("Duration", "p99"),
                   ("Duration", "Average"), ("ConcurrentExecutions", "Maximum")]
        queries = []
        while len(queries) < 500:
            for f in prod:
                for m, stat in metrics:
                    if len(queries) < 500:
                        queries.append({"Id": f"q{len(queries)}", "MetricStat": {"Metric": {
                            "Namespace": "AWS/Lambda", "MetricName": m,
                            "Dimensions": [{"Name": "FunctionName", "Value": f.name}]}, "Period": 60, "Stat": stat}})
        cw = boto3.client("cloudwatch", endpoint_url=server.endpoint, region_name="us-east-1",
                          config=Config(retries={"total_max_attempts": 1}, read_timeout=300))
        import urllib.request

        def raw_call(next_token=None):
            # time the server alone: a raw JSON-protocol request, no client-side parsing
            body = {"StartTime": (end - timedelta(days=1)).timestamp(), "EndTime": end.timestamp(),
                    "MetricDataQueries": queries}
            if next_token:
                body["NextToken"] = next_token
            req = urllib.request.Request(server.endpoint + "/", data=json.dumps(body).encode(), method="POST", headers={
                "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "GraniteServiceVersion20100801.GetMetricData",
                "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261123/us-east-1/monitoring/aws4_request, "
                                 "SignedHeaders=host, Signature=x"})
            t0 = time.perf_counter()
            data = json.loads(urllib.request.urlopen(req, timeout=300).read())
            return time.perf_counter() - t0, data

        first_s, data = raw_call()
        out["gmd_500q_24h_first_call_server_s"] = round(first_s, 3)
        out["gmd_first_call_points"] = sum(len(r["Values"]) for r in data["MetricDataResults"])
        pages, total_s, points, token = 1, first_s, out["gmd_first_call_points"], data.get("NextToken")
        while token:
            s, data = raw_call(token)
            pages += 1
            total_s += s
            points += sum(len(r["Values"]) for r in data["MetricDataResults"])
            token = data.get("NextToken")
        out["gmd_500q_24h_all_pages_server_s"] = round(total_s, 3)
        out["gmd_pages"] = pages
        out["gmd_points"] = points
        t = time.perf_counter()
        res = cw.get_metric_data(StartTime=end - timedelta(days=1), EndTime=end, MetricDataQueries=queries)
        out["gmd_500q_24h_first_call_boto3_s"] = round(time.perf_counter() - t, 3)
        assert sum(len(r["Values"]) for r in res["MetricDataResults"]) == out["gmd_first_call_points"]
        xray = boto3.client("xray", endpoint_url=server.endpoint, region_name="us-east-1",
                            config=Config(retries={"total_max_attempts": 1}, read_timeout=300))
        for label, expr in (("xray_6h_all_first_s", None), ("xray_6h_fault_s", "fault")):
            kw = {"StartTime": end - timedelta(hours=6), "EndTime": end}
            if expr:
                kw["FilterExpression"] = expr
            t = time.perf_counter()
            n = sum(len(p["TraceSummaries"]) for p in xray.get_paginator("get_trace_summaries").paginate(**kw))
            out[label] = round(time.perf_counter() - t, 3)
            out[label.replace("_s", "_traces")] = n
        logs = boto3.client("logs", endpoint_url=server.endpoint, region_name="us-east-1",
                            config=Config(retries={"total_max_attempts": 1}, read_timeout=300))
        busiest = max(prod, key=lambda f: f.rate).name
        t = time.perf_counter()
        qid = logs.start_query(logGroupName=f"/aws/lambda/{busiest}", startTime=int((end - timedelta(days=1)).timestamp()),
                               endTime=int(end.timestamp()), queryString='filter @type = "REPORT" | stats count(*), '
                               'sum(@billedDuration), count(@initDuration), max(@maxMemoryUsed) by bin(1m)')["queryId"]
        rows = logs.get_query_results(queryId=qid)["results"]
        out["insights_24h_busiest_function_s"] = round(time.perf_counter() - t, 3)
        out["insights_rows"] = len(rows)
        import resource

        out["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    finally:
        server.stop()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
