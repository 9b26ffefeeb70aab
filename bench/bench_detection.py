"""Detection lag, in real time: from a deploy-regression switch in the sandbox to the function on
the default (24 h) overview's on-fire list, and to the deploy named on its page.

    DATABASE_URL=postgres://…/lambdaops_bench python -m bench.bench_detection [--runs 3]
        [--metrics-seconds 60] [--inventory-seconds 300] [--timeout 600]

The demo estate (30 functions, both accounts and regions) runs in an in-process sandbox with
three hours of steady history, then live traffic at wall-clock speed (15-second slices). A
beat thread runs the pollers on the product's cadence (metrics every METRICS_POLL_SECONDS,
inventory every INVENTORY_POLL_SECONDS, CloudTrail changes every CHANGES_POLL_SECONDS, by
default) at a random phase; each run switches a different function with a live alias to a bad
build at a random moment and polls the overview's selector and the function page's selector
every second until both show it.
Target: p95 of the overview lag ≤ 2 metrics poll cycles + 15 s. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

from bench._setup import django_ready

HISTORY_MINUTES = 190


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, max(0, int(round(q * (len(values) - 1)))))], 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--metrics-seconds", type=int, default=None, help="default: METRICS_POLL_SECONDS")
    ap.add_argument("--inventory-seconds", type=int, default=None, help="default: INVENTORY_POLL_SECONDS")
    ap.add_argument("--timeout", type=float, default=600.0, help="give up on a run after this many seconds")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    django_ready()

    import os

    from django.conf import settings
    from django.db import connection

    from ops.models import Account, Function
    from ops.pollers.base import poll_run
    from ops.pollers.changes import caught_fire_unread, changes_poll
    from ops.pollers.inventory import inventory_poll
    from ops.pollers.metrics import metrics_poll
    from ops.selectors.fleet import fleet_page
    from ops.selectors.function import function_data
    from ops.selectors.inventory import FunctionFilters, function_header
    from ops.selectors.timerange import TimeRange
    from ops.services.accounts import account_upsert
    from sandbox import testing as sandbox
    from sandbox.runner import run_live

    metrics_s = args.metrics_seconds or settings.METRICS_POLL_SECONDS
    inventory_s = args.inventory_seconds or settings.INVENTORY_POLL_SECONDS
    changes_s = settings.CHANGES_POLL_SECONDS
    settings.METRICS_INITIAL_BACKFILL_MINUTES = HISTORY_MINUTES + 5
    rng = random.Random(args.seed)

    server = sandbox.start_server()
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint
    stop = threading.Event()
    out: dict = {"metrics_poll_s": metrics_s, "inventory_poll_s": inventory_s, "changes_poll_s": changes_s, "runs": []}
    try:
        estate = sandbox.seed_estate(server, small=False)
        Account.objects.filter(account_id__in=[a["account_id"] for a in estate.accounts]).delete()
        for acct in estate.accounts:
            account_upsert(name=acct["name"], account_id=acct["account_id"], regions=list(acct["regions"]),
                           role_arn=acct.get("role_arn") or "", external_id=acct.get("external_id") or "")
        end = datetime.now(timezone.utc).replace(second=0, microsecond=0)
        sandbox.generate(server, start=end - timedelta(minutes=HISTORY_MINUTES), minutes=HISTORY_MINUTES,
                         scenario="steady", seed=args.seed)

        def cycle(source: str) -> None:
            work = {"inventory": inventory_poll, "metrics": metrics_poll, "changes": changes_poll}[source]
            for account in Account.objects.filter(account_id__in=[a["account_id"] for a in estate.accounts]):
                for region in account.regions:
                    poll_run(source=source, account=account, region=region, work=work)
                    # as the metrics task does: a function that caught fire runs the changes poller at once
                    if source == "metrics" and caught_fire_unread(account=account, region=region,
                                                                  now=datetime.now(timezone.utc)):
                        poll_run(source="changes", account=account, region=region, work=changes_poll)

        cycle("inventory")
        cycle("metrics")
        traffic = threading.Thread(
            target=run_live, kwargs={"endpoint_or_server": server, "speed": 1.0, "seed": args.seed,
                                     "slice_seconds": 15, "stop": stop.is_set}, daemon=True)
        traffic.start()

        def beat() -> None:
            phase = time.monotonic() + rng.uniform(0, metrics_s)
            next_m, next_i = phase, phase + rng.uniform(0, inventory_s)
            next_c = phase + rng.uniform(0, changes_s)
            try:
                while not stop.is_set():
                    now = time.monotonic()
                    if now >= next_i:
                        cycle("inventory")
                        next_i += inventory_s
                    if now >= next_m:
                        cycle("metrics")
                        next_m += metrics_s
                    if now >= next_c:  # CloudTrail: exact deploy times, or the first-invocation fallback
                        cycle("changes")
                        next_c += changes_s
                    stop.wait(0.2)
            finally:
                connection.close()

        beat_thread = threading.Thread(target=beat, daemon=True)
        beat_thread.start()

        targets = [f for f in estate.functions if f.kind == "api" and f.traffic_alias and f.rate >= 5]
        for run in range(args.runs):
            spec = targets[run % len(targets)]
            time.sleep(rng.uniform(5, 60))  # switch at a random moment of the poll cycle
            t_switch = time.monotonic()
            at = datetime.now(timezone.utc)
            scenario = sandbox.set_scenario(server, "deploy-regression", function=spec.name, account=spec.account,
                                            region=spec.region)
            fn = Function.objects.get(name=spec.name, account__account_id=spec.account, region=spec.region)
            fire_s = deploy_s = None
            while time.monotonic() - t_switch < args.timeout and (fire_s is None or deploy_s is None):
                if fire_s is None:
                    fp = fleet_page(time_range=TimeRange.preset("24h"), filters=FunctionFilters())
                    if any(r.id == fn.pk for r in fp.fire):
                        fire_s = time.monotonic() - t_switch
                if deploy_s is None:
                    fd = function_data(function=function_header(pk=fn.pk), time_range=TimeRange.preset("6h"))
                    d = fd.now.deploy or fd.what_changed.deploy
                    if d is not None and d.to_version == str(scenario["version"]):
                        deploy_s = time.monotonic() - t_switch
                time.sleep(1.0)
            out["runs"].append({"function": f"{spec.name} ({spec.account[-4:]}/{spec.region})",
                                "switched_at": at.strftime("%H:%M:%S"),
                                "on_fire_s": round(fire_s, 1) if fire_s is not None else None,
                                "deploy_named_s": round(deploy_s, 1) if deploy_s is not None else None})
            print(json.dumps(out["runs"][-1]), file=sys.stderr)
        fire = [r["on_fire_s"] for r in out["runs"] if r["on_fire_s"] is not None]
        deploy = [r["deploy_named_s"] for r in out["runs"] if r["deploy_named_s"] is not None]
        target = 2 * metrics_s + 15
        out.update(
            on_fire_p50_s=_pct(fire, 0.5), on_fire_p95_s=_pct(fire, 0.95),
            deploy_named_p50_s=_pct(deploy, 0.5), deploy_named_p95_s=_pct(deploy, 0.95),
            on_fire_mean_s=round(statistics.mean(fire), 1) if fire else None,
            missed=sum(1 for r in out["runs"] if r["on_fire_s"] is None or r["deploy_named_s"] is None),
            target_p95_s=target,
            on_fire_meets_target=bool(fire) and len(fire) == len(out["runs"]) and _pct(fire, 0.95) <= target,
            deploy_meets_target=bool(deploy) and len(deploy) == len(out["runs"]) and _pct(deploy, 0.95) <= target,
        )
    finally:
        stop.set()
        time.sleep(1.0)
        server.stop()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
