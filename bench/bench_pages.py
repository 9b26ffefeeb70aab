"""Page timings through Django's test client (server time, no network), as JSON.

    DATABASE_URL=postgres://…/lambdaops_bench python -m bench.bench_pages [--sizes 1000x30,3000x7] [--runs 20]

For each size N×D (functions × days) in ``--sizes``: write the scale fixture (bench/scale_fixture.py;
it empties the telemetry tables first), then for each page a warm-up request and ``--runs``
timed ones: p50/p95/max in ms, SQL queries per request, bytes, and the target. The overview's
big statement is also run under EXPLAIN (ANALYZE, BUFFERS): shared buffers touched and heap
fetches of its index-only scans (≈ 0 once the visibility map is current). With two sizes or
more, ``ratio_to_first`` gives each page's p95 against the first size's, next to the ratio of
function counts: cost grows linearly when the two are close (or the first is the larger).

``make bench`` runs the default sizes (100×7 and 300×7: about 6 minutes to build, 8 with the timings, on this loaded machine) so it
passes on an empty database; ``bench_pages_scale`` (``python -m bench.run bench_pages_scale``)
runs the issue's sizes, 1,000 × 30 days and 3,000 × 7 days (about an hour here).
``--reuse`` times what the database holds instead of building (one size). ``--no-vacuum``
builds without the vacuum after the load (the previous layout's empty visibility map).
Results also go to bench/results/pages.json (or ``--out``). Run by hand; never a timed
assertion in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

# DESIGN.md and issue 15: at 1,000 functions × 30 days.
TARGETS_MS = {
    "overview_24h": 150,
    "overview_7d": 250,
    "overview_30d": 400,
    **{f"function_{r}": 150 for r in ("1h", "6h", "24h", "7d", "30d")},
}
DEFAULT_SIZES = "100x7,300x7"
# Django's test client sends Host: testserver.
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
SCALE_SIZES = "1000x30,3000x7"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(q * (len(ordered) - 1)))))
    return ordered[k]


def _sizes(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        n, _, d = part.strip().partition("x")
        out.append((int(n), int(d)))
    return out


def _plan_totals(sql: str) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS) of one statement, JIT off as the pages run it: buffers touched
    (shared hit + read, the whole plan) and heap fetches summed over its index-only scans."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL jit = off")
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql)
        doc = cur.fetchone()[0]
    if isinstance(doc, str):
        doc = json.loads(doc)
    root = doc[0]["Plan"]
    heap_fetches = 0
    index_only = 0
    stack = [root]
    while stack:
        node = stack.pop()
        if node.get("Node Type") == "Index Only Scan":
            index_only += 1
            heap_fetches += int(node.get("Heap Fetches", 0))
        stack.extend(node.get("Plans", []))
    return {
        "exec_ms": round(doc[0].get("Execution Time", 0.0), 1),
        "buffers": int(root.get("Shared Hit Blocks", 0)) + int(root.get("Shared Read Blocks", 0)),
        "buffers_read": int(root.get("Shared Read Blocks", 0)),
        "heap_fetches": heap_fetches,
        "index_only_scans": index_only,
    }


def time_pages(*, runs: int, only: str = "") -> dict:
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
    if fn_id is None:
        raise SystemExit("no functions in the database: build the fixture (drop --reuse)")
    pages = {
        "overview_24h": "/?range=24h",
        "overview_24h_by_name_p3": "/?range=24h&sort=name&page=3",
        "overview_7d": "/?range=7d",
        "overview_30d": "/?range=30d",
        **{f"function_{r}": f"/functions/{fn_id}/?range={r}" for r in ("1h", "6h", "24h", "7d", "30d")},
        "function_charts_partial_6h": f"/functions/{fn_id}/charts?range=6h",
        "api_fleet_24h": "/api/v1/fleet?range=24h",
        "api_series_errors_30d": f"/api/v1/functions/{fn_id}/series?metric=errors&range=30d",
    }
    if only:
        pages = {k: v for k, v in pages.items() if k in only.split(",")}
    results = {}
    for name, url in pages.items():
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as warm:
            resp = client.get(url)  # warm-up (plans, caches)
        assert resp.status_code == 200, (url, resp.status_code)
        times = []
        queries = 0
        for _ in range(runs):
            # The log keeps 9,000 queries; once full, a capture's slice of it reads empty.
            connection.queries_log.clear()
            with CaptureQueriesContext(connection) as ctx:
                t0 = time.perf_counter()
                resp = client.get(url)
                _ = resp.content
                times.append((time.perf_counter() - t0) * 1000)
            queries = len(ctx.captured_queries)
        p95 = percentile(times, 0.95)
        results[name] = {
            "url": url,
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(p95, 1),
            "max_ms": round(max(times), 1),
            "queries": queries,
            "bytes": len(resp.content),
            **({"target_p95_ms": TARGETS_MS[name], "ok": p95 <= TARGETS_MS[name]} if name in TARGETS_MS else {}),
        }
        if name.startswith("overview_"):
            # the fleet statement is the request's longest SQL by far
            biggest = max(warm.captured_queries, key=lambda q: len(q["sql"]))["sql"]
            results[name]["fleet_statement"] = _plan_totals(biggest)
    return {"functions": Function.objects.count(), "runs": runs, "pages": results}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="page timings")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="functions x days, comma-separated")
    parser.add_argument("--reuse", action="store_true", help="time what the database holds; build nothing")
    parser.add_argument("--cluster-rollups", action="store_true")
    parser.add_argument("--no-vacuum", action="store_true", help="build without the vacuum after the load")
    parser.add_argument("--only", default="", help="comma-separated page names to time (default: all)")
    parser.add_argument("--out", default="pages.json", help="file name under bench/results/")
    args = parser.parse_args(argv)

    from bench.scale_fixture import build, setup_django

    setup_django()
    t0 = time.monotonic()
    sizes = {}
    if args.reuse:
        sizes["as_stored"] = {"fixture": None, **time_pages(runs=args.runs, only=args.only)}
    else:
        for n, d in _sizes(args.sizes):
            fixture = build(functions=n, days=d, cluster_rollups=args.cluster_rollups, vacuum=not args.no_vacuum)
            sizes[f"{n}x{d}"] = {"fixture": fixture, **time_pages(runs=args.runs, only=args.only)}
    out: dict = {"sizes": sizes, "targets_p95_ms": TARGETS_MS}
    keys = list(sizes)
    if len(keys) > 1:
        first = sizes[keys[0]]
        out["ratio_to_first"] = {
            k: {
                "functions": round(sizes[k]["functions"] / max(first["functions"], 1), 2),
                "p95": {
                    page: round(v["p95_ms"] / first["pages"][page]["p95_ms"], 2)
                    for page, v in sizes[k]["pages"].items()
                    if first["pages"].get(page, {}).get("p95_ms")
                },
            }
            for k in keys[1:]
        }
    out["total_s"] = round(time.monotonic() - t0, 1)
    text = json.dumps(out, indent=2, default=str)
    results_dir = Path(__file__).resolve().parent / "results"
    results_dir.mkdir(exist_ok=True)
    (results_dir / args.out).write_text(text + "\n")
    print(text)
    sys.stdout.flush()
    return out


if __name__ == "__main__":
    main()
