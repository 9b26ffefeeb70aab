"""Detection through the account × region aggregates, against the sandbox: an error spike on one
function of a fleet of N → that function on the 24 h overview's on-fire list, and what the
metrics poller spends per busy and per idle function-month.

    DATABASE_URL=postgres://…/lambdaops_bench python -m bench.bench_trigger [--sizes 100,1000]
        [--spikes 3] [--busy-share 0.2] [--seed 1]

How time is simulated. The sandbox runs in this process; the metrics poller runs for real
against it over HTTP (GetMetricData, the no-dimension aggregates answered by the sandbox as the
sum over functions), with its clock (``ops.pollers.metrics.poll.now``) on a simulated timeline
that starts a few hours back, so every minute it stores lies in the real last 24 h and the
overview's own selector (``fleet_page``, 24 h) judges it as it would live. Each simulated minute:
the bench publishes the minutes whose publication time has come (each minute m appears in
CloudWatch at m + 90–150 s, random, as CloudWatch's ~2 min delay), runs one metrics poll at
minute + 10 s (the beat's cadence, METRICS_POLL_SECONDS = 60), then reads the overview. The
simulated clock moves on by the poll's and the overview's real duration too, so a slow poll at
1,000 functions counts against the lag.

The fleet: N functions, ``--busy-share`` of them invoked every minute (5–30 a minute, 1 % errors,
Poisson), the rest never invoked; one busy function per spike takes 40 a minute. A spike: that
function fails every invocation for 5 minutes. The lag is measured from the spike's first minute
being queryable in the sandbox to the function on the on-fire list (target ≤ 120 s), and from the
spike's start. Cost: every metric requested is counted by kind (aggregate, busy, idle) over a
steady hour without triggers, and the trigger's extra per busy function and trigger-hour.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone

from bench._setup import django_ready

ACCOUNT_ID = "123456789012"  # the sandbox's account for plain credentials
REGION = "us-east-1"
HISTORY_MINUTES = 70
STEADY_MINUTES = 60
SPIKE_MINUTES = 5
SPIKE_RATE = 40
BASE_ERROR_RATE = 0.01
PRICE = 0.01 / 1000
MONTH_MIN = 30 * 1440


def _poisson(rng: random.Random, lam: float) -> int:
    if lam > 30:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, max(0, int(round(q * (len(values) - 1)))))], 1)


class Fleet:
    """The bench's functions and the points it publishes into the sandbox's CloudWatch."""

    def __init__(self, *, size: int, busy_share: float, seed: int, store) -> None:
        self.rng = random.Random(seed * 1000 + size)
        self.names = [f"trig-{i:05d}" for i in range(size)]
        n_busy = max(4, int(size * busy_share))
        self.rates = {name: self.rng.choice([5, 8, 10, 15, 20, 30]) for name in self.names[:n_busy]}
        self.spikers = self.names[:3]
        for name in self.spikers:
            self.rates[name] = SPIKE_RATE
        self.store = store
        self.failing: dict[str, tuple[datetime, datetime]] = {}  # function → [start, end) of its spike

    @property
    def busy(self) -> set[str]:
        return set(self.rates)

    def publish(self, minute: datetime) -> None:
        m = int(minute.timestamp())
        for name, rate in self.rates.items():
            dims = {"FunctionName": name}
            n = _poisson(self.rng, rate)
            if not n:
                continue
            window = self.failing.get(name)
            errors = n if window and window[0] <= minute < window[1] else sum(
                1 for _ in range(n) if self.rng.random() < BASE_ERROR_RATE)
            s = self.store
            s.get_or_create("AWS/Lambda", "Invocations", dims).add_stats(m, 1.0, float(n), float(n), float(n))
            s.get_or_create("AWS/Lambda", "Errors", dims).add_stats(m, 1.0, float(errors), float(errors), float(errors))
            durations = [round(self.rng.lognormvariate(math.log(120), 0.4), 1) for _ in range(min(n, 20))]
            s.get_or_create("AWS/Lambda", "Duration", dims).add_values(m, durations, [n / len(durations)] * len(durations))
            s.get_or_create("AWS/Lambda", "ConcurrentExecutions", dims).add_values(m, [max(1.0, n * 0.12 / 60 * 3)], None)


def _run_size(*, size: int, busy_share: float, spikes: int, seed: int, server) -> dict:
    from django.conf import settings

    from ops.aws import cloudwatch
    from ops.models import Account, DetectTrigger, Function, MetricsCadence, RegionStat
    from ops.pollers.base import poll_run
    from ops.pollers.metrics import poll as metrics
    from ops.rules import trigger
    from ops.selectors.fleet import fleet_page
    from ops.selectors.inventory import FunctionFilters
    from ops.selectors.timerange import TimeRange
    from sandbox.fills.metrics import store_for

    server.reset()
    Account.objects.filter(account_id=ACCOUNT_ID).delete()
    account = Account.objects.create(name=f"bench-trigger-{size}", account_id=ACCOUNT_ID, regions=[REGION])
    fleet = Fleet(size=size, busy_share=busy_share, seed=seed, store=store_for(ACCOUNT_ID, REGION))
    stamp = datetime.now(timezone.utc)
    Function.objects.bulk_create([
        Function(account=account, region=REGION, name=n, arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{n}",
                 memory_mb=512, timeout_s=30, last_seen=stamp) for n in fleet.names
    ])
    ids = dict(Function.objects.filter(account=account).values_list("name", "id"))

    total_minutes = STEADY_MINUTES + spikes * (SPIKE_MINUTES + 25) + 5
    t0 = stamp.replace(second=0, microsecond=0) - timedelta(minutes=total_minutes + 5)
    pub_rng = random.Random(seed)
    published: set[datetime] = set()
    for k in range(HISTORY_MINUTES, 0, -1):
        m = t0 - timedelta(minutes=k)
        fleet.publish(m)
        published.add(m)
    queryable: dict[datetime, datetime] = {}  # minute → when it appears in CloudWatch

    def publish_until(t: datetime) -> None:
        m = t0 - timedelta(minutes=1)
        while m <= t:
            if m not in published:
                at = queryable.setdefault(m, m + timedelta(seconds=90 + pub_rng.uniform(0, 60)))
                if at <= t:
                    fleet.publish(m)
                    published.add(m)
            m += timedelta(minutes=1)

    counted = {"aggregate": 0, "busy": 0, "idle": 0}
    real = cloudwatch.metric_data

    def counting(scope, queries, **kw):
        for q in queries:
            fn = q.dimensions[0][1] if q.dimensions and q.dimensions[0][0] == "FunctionName" else None
            counted["aggregate" if fn is None else "busy" if fn in fleet.busy else "idle"] += 1
        return real(scope, queries, **kw)

    cloudwatch.metric_data = counting
    clock = {"t": t0 + timedelta(seconds=10)}
    metrics.now = lambda: clock["t"]
    poll_seconds: list[float] = []

    def poll() -> float:
        publish_until(clock["t"])
        t = time.monotonic()
        outcome = poll_run(source="metrics", account=account, region=REGION, work=metrics.metrics_poll)
        spent = time.monotonic() - t
        if not outcome.ok:
            print(json.dumps({"poll_failed": outcome.error_code, "warnings": list(outcome.warnings)}), file=sys.stderr)
        poll_seconds.append(spent)
        return spent

    def on_fire(name: str) -> tuple[bool, float]:
        t = time.monotonic()
        fp = fleet_page(time_range=TimeRange.preset("24h"), filters=FunctionFilters(), per_page=1)
        return any(r.id == ids[name] for r in fp.fire), time.monotonic() - t

    def step() -> None:
        clock["t"] = clock["t"].replace(second=10, microsecond=0) + timedelta(minutes=1)

    try:
        # The first run reads everything (backfill); then a steady hour, counted.
        poll()
        first_poll_s = poll_seconds[-1]
        counted.update(aggregate=0, busy=0, idle=0)
        for _ in range(STEADY_MINUTES):
            step()
            poll()
        steady = dict(counted)
        plan = MetricsCadence.objects.get(account=account, region=REGION)
        false_triggers = DetectTrigger.objects.filter(account=account).count()
        base_rows = list(
            RegionStat.objects.filter(account=account, region=REGION, ts__lt=clock["t"].replace(second=0))
            .order_by("-ts").values(*trigger.COLUMNS)[: trigger.BASELINE_MINUTES]
        )

        runs = []
        for i in range(spikes):
            name = fleet.spikers[i % len(fleet.spikers)]
            step()
            start = clock["t"].replace(second=0)
            fleet.failing[name] = (start, start + timedelta(minutes=SPIKE_MINUTES))
            counted.update(aggregate=0, busy=0, idle=0)
            trig_minutes = 0
            seen_at = trig_at = released_at = None
            for _ in range(SPIKE_MINUTES + 25):
                spent = poll()
                active = DetectTrigger.objects.filter(account=account, released_at=None).exists()
                trig_minutes += 1 if active else 0
                if trig_at is None and active:
                    trig_at = clock["t"] + timedelta(seconds=spent)
                if seen_at is None:
                    fire, took = on_fire(name)
                    if fire:
                        seen_at = clock["t"] + timedelta(seconds=spent + took)
                if trig_at is not None and released_at is None and not active:
                    released_at = clock["t"]
                if seen_at is not None and released_at is not None:
                    break
                step()
            spike_end = start + timedelta(minutes=SPIKE_MINUTES)
            runs.append({
                "function": name,
                "spike_start": start.strftime("%H:%M"),
                "queryable_after_s": round((queryable[start] - start).total_seconds(), 1),
                "on_fire_from_queryable_s": round((seen_at - queryable[start]).total_seconds(), 1) if seen_at else None,
                "on_fire_from_spike_start_s": round((seen_at - start).total_seconds(), 1) if seen_at else None,
                "trigger_from_queryable_s": round((trig_at - queryable[start]).total_seconds(), 1) if trig_at else None,
                "released_after_spike_end_s": round((released_at - spike_end).total_seconds()) if released_at else None,
                "trigger_minutes": trig_minutes,
                "queries_during": dict(counted),
            })
            print(json.dumps({"size": size, **runs[-1]}), file=sys.stderr)
            fleet.failing.pop(name, None)
    finally:
        cloudwatch.metric_data = real

    n_busy, n_idle = len(fleet.busy), size - len(fleet.busy)
    per_month = MONTH_MIN / STEADY_MINUTES * PRICE
    aggregate_month = steady["aggregate"] * per_month
    busy_month = steady["busy"] / n_busy * per_month
    idle_month = steady["idle"] / max(n_idle, 1) * per_month
    # The trigger's extra: what its minutes cost beyond the steady rate, per busy function-hour.
    trig_q = sum(r["queries_during"]["busy"] for r in runs)
    trig_min = sum(r["trigger_minutes"] for r in runs) or 1
    steady_busy_per_min = steady["busy"] / STEADY_MINUTES
    extra_per_fn_hour = max(0.0, (trig_q / trig_min - steady_busy_per_min)) * 60 * PRICE / n_busy
    busy_total = busy_month + aggregate_month / size
    lags = [r["on_fire_from_queryable_s"] for r in runs if r["on_fire_from_queryable_s"] is not None]
    med = statistics.median([r["errors"] for r in base_rows if r.get("errors") is not None]) if base_rows else None
    rule = next(r for r in trigger.RISES if r.signal == "errors")
    judged = trigger.rise_threshold(rule, [float(r["errors"]) for r in base_rows if r.get("errors") is not None])
    return {
        "functions": size,
        "busy_functions": n_busy,
        "idle_functions": n_idle,
        "first_poll_s": round(first_poll_s, 2),
        "poll_p50_s": _pct(poll_seconds, 0.5),
        "poll_max_s": round(max(poll_seconds), 2),
        "false_triggers_in_steady_hour": false_triggers,
        "fleet_errors_per_min_median": med,
        "errors_rule_threshold_per_min": round(judged[1], 1) if judged else None,
        "smallest_spike_detected_errors_per_min": round(judged[1] - judged[0], 1) if judged else None,
        "runs": runs,
        "on_fire_from_queryable_p50_s": _pct(lags, 0.5),
        "on_fire_from_queryable_max_s": max(lags) if lags else None,
        "missed": sum(1 for r in runs if r["on_fire_from_queryable_s"] is None),
        "meets_2_min": bool(lags) and len(lags) == len(runs) and max(lags) <= 120,
        "cadence": {"busy_s": plan.busy_s, "idle_s": plan.idle_s, "held_back": plan.held_back,
                    "percentiles": list(settings.METRICS_PERCENTILES)},
        "cost_usd_per_month": {
            "aggregates_per_scope": round(aggregate_month, 3),
            "busy_function": round(busy_total, 4),
            "idle_function": round(idle_month + aggregate_month / size, 4),
            "busy_function_excluding_triggers": round(busy_month, 4),
            "trigger_extra_per_busy_function_hour": round(extra_per_fn_hour, 5),
            "trigger_hours_per_month_within_0_45": round((0.45 - busy_total) / extra_per_fn_hour, 1) if extra_per_fn_hour else None,
        },
        "meets_cost_targets_excluding_triggers": busy_total <= 0.45 and idle_month + aggregate_month / size <= 0.08,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,1000")
    ap.add_argument("--spikes", type=int, default=3)
    ap.add_argument("--busy-share", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    django_ready()

    import logging
    import os

    from ops.models import Account
    from sandbox import testing as sandbox

    logging.getLogger("ops").setLevel(logging.WARNING)
    server = sandbox.start_server()
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint
    out: dict = {"sizes": {}, "time": "simulated (see the module docstring); poll and overview durations are real"}
    t = time.monotonic()
    try:
        for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
            out["sizes"][str(size)] = _run_size(size=size, busy_share=args.busy_share, spikes=args.spikes,
                                                seed=args.seed, server=server)
    finally:
        Account.objects.filter(account_id=ACCOUNT_ID).delete()
        server.stop()
    sizes = out["sizes"].values()
    out["wall_s"] = round(time.monotonic() - t, 1)
    out["meets_2_min_at_every_size"] = all(s["meets_2_min"] for s in sizes)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
