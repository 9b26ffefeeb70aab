"""Page timings through Django's test client (server time, no network), as JSON.

    DATABASE_URL=postgres://…/lambdaops_bench python -m bench.bench_pages [--runs 30] [--build]

``--build`` first writes the scale fixture (bench/scale_fixture.py, 1,000 functions × 30 days).
For each page: a warm-up request, then ``--runs`` timed requests; reports p50/p95/max in ms,
the number of SQL queries per request, and the targets from DESIGN.md. Results also go to
bench/results/pages.json. Run by hand; never a timed assertion in the test suite.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

TARGETS_MS = {"function_7d": 150, "overview_24h": 250}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(q * (len(ordered) - 1)))))
    return ordered[k]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="page timings")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--build", action="store_true", help="write the scale fixture first")
    parser.add_argument("--functions", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--cluster-rollups", action="store_true")
    parser.add_argument("--only", default="", help="comma-separated page names to time (default: all)")
    args = parser.parse_args(argv)

    from bench.scale_fixture import build, setup_django

    setup_django()
    fixture = (
        build(functions=args.functions, days=args.days, cluster_rollups=args.cluster_rollups) if args.build else None
    )

    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from ops.models import Function, Series
    from ops.services.users import user_create

    user = User.objects.filter(username="bench").first() or user_create(
        username="bench", password="bench-password-1", role="viewer"
    )
    client = Client()
    client.force_login(user)
    versioned = Series.objects.filter(kind="version").values_list("function_id", flat=True).first()
    fn_id = versioned or Function.objects.values_list("id", flat=True).first()
    n_functions = Function.objects.count()
    pages = {
        "overview_24h": "/?range=24h",
        "overview_24h_by_name_p3": "/?range=24h&sort=name&page=3",
        "overview_7d": "/?range=7d",
        "overview_30d": "/?range=30d",
        "function_7d": f"/functions/{fn_id}/?range=7d",
        "function_24h": f"/functions/{fn_id}/?range=24h",
        "function_30d": f"/functions/{fn_id}/?range=30d",
        "function_charts_partial_6h": f"/functions/{fn_id}/charts?range=6h",
        "api_fleet_24h": "/api/v1/fleet?range=24h",
        "api_series_errors_30d": f"/api/v1/functions/{fn_id}/series?metric=errors&range=30d",
    }
    if args.only:
        pages = {k: v for k, v in pages.items() if k in args.only.split(",")}
    results = {}
    for name, url in pages.items():
        resp = client.get(url)  # warm-up (plans, caches)
        assert resp.status_code == 200, (url, resp.status_code)
        times = []
        queries = 0
        for _ in range(args.runs):
            with CaptureQueriesContext(connection) as ctx:
                t0 = time.perf_counter()
                resp = client.get(url)
                _ = resp.content
                times.append((time.perf_counter() - t0) * 1000)
            queries = len(ctx.captured_queries)
        results[name] = {
            "url": url,
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(percentile(times, 0.95), 1),
            "max_ms": round(max(times), 1),
            "queries": queries,
            "bytes": len(resp.content),
            **({"target_p95_ms": TARGETS_MS[name], "ok": percentile(times, 0.95) <= TARGETS_MS[name]}
               if name in TARGETS_MS else {}),
        }
    out = {"functions": n_functions, "runs": args.runs, "fixture": fixture, "pages": results}
    text = json.dumps(out, indent=2)
    results_dir = Path(__file__).resolve().parent / "results"
    results_dir.mkdir(exist_ok=True)
    (results_dir / "pages.json").write_text(text + "\n")
    print(text)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
