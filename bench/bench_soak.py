"""Soak: the pollers under AWS faults and worker kills, then every (function, minute) cell
compared with the sandbox's ledger.

    DATABASE_URL=postgres://…/lambdaops_soak python -m bench.bench_soak            # 30 minutes
    DATABASE_URL=postgres://…/lambdaops_soak python -m bench.bench_soak --short    # about 8 minutes

Long: `make bench` leaves it out; `python -m bench.run --all` or `python -m bench.run bench_soak`
includes it. The database is migrated and the sandbox's accounts in it are replaced.

1. An in-process sandbox (small estate: two accounts, the second through AssumeRole, two
   regions) with live traffic at wall-clock speed; the accounts are added to the product.
2. Real processes, as `make demo` runs them: `celery beat` and a `pollers` worker (`-c 2`),
   against this database, Redis (REDIS_URL) and the sandbox (AWS_ENDPOINT_URL).
3. For ``--minutes``: CloudWatch and Logs answer 20 % of calls with throttling, 5 % with HTTP
   500 and hold 3 % for 25 s (past the 20 s read timeout); the worker is SIGKILLed every
   ``--kill-every`` seconds (while a poll is running, when one is) and started again.
   Every 5 s the poll states (ops.pollers.health, what /healthz answers) are sampled. boto3
   makes one attempt per call (``--aws-max-attempts``), so the faults reach the pollers rather
   than being absorbed by its retries; idle functions are read every minute like busy ones.
4. Faults off; the traffic stops at a minute boundary; the pollers run ``--settle`` seconds more.
5. Cells: for every (function, minute) of the traffic window, the stored invocations, errors and
   throttles against the ledger: missing = the ledger has a count and nothing is stored; wrong =
   both exist and differ (or something is stored where nothing ran). REPORT lines (logs) are
   compared as totals, as tests/integration/test_ledger.py does. Duplicate (series, minute)
   keys and lock errors in the worker's log are counted too.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench._setup import ROOT, django_ready

FAULTS = [  # (error, status, delay_ms, rate): rules are tried in order, each on what the last left
    ("Throttling", None, 0, 0.20),
    ("InternalFailure", 500, 0, 0.05),
    (None, None, 25_000, 0.03),
]


def _fault_rules() -> list[dict]:
    rules = []
    for service in ("cloudwatch", "logs"):
        left = 1.0
        for error, status, delay_ms, share in FAULTS:
            # Rules are tried in order: rate each on what the earlier ones left, so the shares hold.
            rules.append({"service": service, "operation": "*", "error": error, "status": status,
                          "delay_ms": delay_ms, "rate": min(1.0, share / left)})
            left -= share
    return rules


class Proc:
    """A celery process (beat or a worker) logging to one file across restarts."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logdir: Path) -> None:
        self.name, self.args, self.env = name, args, env
        self.log_path = logdir / f"{name}.log"
        self._log = open(self.log_path, "a")
        self.ready_seen = 0
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "dashboard", *self.args], cwd=ROOT,
                                     env=self.env, stdout=self._log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)  # prefork children follow (PR_SET_PDEATHSIG)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.output().count(" ready.") > self.ready_seen:
                self.ready_seen += 1
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n{self.output()[-2000:]}")
            time.sleep(0.5)
        raise RuntimeError(f"{self.name} did not become ready")


def _purge(queues=("pollers", "alerts", "actions")) -> None:
    from dashboard.celery import app

    with app.connection_for_write() as conn:
        for q in queues:
            conn.default_channel.queue_purge(q)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--minutes", type=float, default=30.0, help="how long the faults and kills last")
    p.add_argument("--kill-every", type=float, default=300.0, help="seconds between worker SIGKILLs")
    p.add_argument("--settle", type=float, default=240.0, help="seconds of clean polling before the comparison")
    p.add_argument("--aws-max-attempts", type=int, default=1,
                   help="boto3 attempts per call; 1 so every injected fault reaches the pollers")
    p.add_argument("--short", action="store_true", help="5 minutes, a kill every 75 s, 180 s to settle")
    args = p.parse_args()
    if args.short:
        args.minutes, args.kill_every, args.settle = 5.0, 75.0, 180.0
    os.environ.setdefault("SECRET_KEY", "bench-soak-only")
    django_ready()

    from django.conf import settings
    from django.db import connection
    from django.utils import timezone as dj_tz

    from ops.models import Account, MinuteStat, PollStatus, SeriesKind
    from ops.pollers.health import poll_health
    from ops.services.accounts import account_upsert
    from sandbox import testing as sandbox
    from sandbox.runner import run_live

    out: dict = {"minutes": args.minutes, "kill_every_s": args.kill_every, "settle_s": args.settle,
                 "aws_max_attempts": args.aws_max_attempts,
                 "faults": [dict(zip(("error", "status", "delay_ms", "share"), f)) for f in FAULTS]}
    server = sandbox.start_server()
    logdir = Path(tempfile.mkdtemp(prefix="soak-"))
    stop_traffic = threading.Event()
    procs: list[Proc] = []
    try:
        estate = sandbox.seed_estate(server, small=True)
        Account.objects.filter(account_id__in=[a["account_id"] for a in estate.accounts]).delete()
        for acct in estate.accounts:
            account_upsert(name=acct["name"], account_id=acct["account_id"], regions=list(acct["regions"]),
                           role_arn=acct.get("role_arn") or "", external_id=acct.get("external_id") or "")
        _purge()
        db = settings.DATABASES["default"]
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "AWS_ENDPOINT_URL": server.endpoint,
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "JOB_SWEEP_SECONDS": "3600", "PYTHONUNBUFFERED": "1", "TZ": "UTC",
            "AWS_MAX_ATTEMPTS": str(args.aws_max_attempts),
            # Every function every minute: a busy or idle one (read every 20 / 30 min by default)
            # would still be due when the comparison is made, which is cadence, not loss.
            "METRICS_BUSY_POLL_SECONDS": "60",
            "METRICS_IDLE_POLL_SECONDS": "60",
        }
        started = datetime.now(timezone.utc)
        traffic = threading.Thread(target=run_live, kwargs={"endpoint_or_server": server, "seed": 11,
                                                            "stop": stop_traffic.is_set}, daemon=True)
        traffic.start()
        procs.append(Proc("beat", ["beat", "-s", str(logdir / "beat-schedule"), "-l", "INFO"], env, logdir))
        worker = Proc("pollers", ["worker", "-Q", "pollers", "-c", "2", "-n", "soak-pollers@%h", "-l", "INFO"], env, logdir)
        procs.append(worker)
        worker.wait_ready()
        # Beat's first inventory tick comes one cadence after it starts: ask for one now, as the
        # first start does, and wait until every scope knows its functions.
        from dashboard.celery import app

        app.send_task("ops.tasks.pollers.poll_inventory_all", queue="pollers")
        scopes = sum(len(a["regions"]) for a in estate.accounts)
        deadline = time.monotonic() + 120
        while PollStatus.objects.filter(source="inventory", last_success_at__isnull=False).count() < scopes:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the first inventory polls did not finish:\n{worker.output()[-2000:]}")
            time.sleep(1)

        for rule in _fault_rules():
            sandbox.add_fault(server, **rule)
        samples: dict[str, Counter] = defaultdict(Counter)
        kills, mid_poll_kills = 0, 0
        fault_end = time.monotonic() + args.minutes * 60
        next_kill = time.monotonic() + args.kill_every

        def sample(phase: str) -> dict[str, str]:
            now = dj_tz.now()
            states = {}
            for st in PollStatus.objects.select_related("account"):
                h = poll_health(st, now=now)
                samples[f"{phase}:{st.source}"][h.state] += 1
                states[f"{st.source}:{st.account.name}/{st.region}"] = h.state
            return states

        while time.monotonic() < fault_end:
            if time.monotonic() >= next_kill:
                # Kill while a poll runs when one does (a row started after it last finished).
                # Polls take about a second once a minute: watch closely for up to a minute and a bit.
                for _ in range(700):
                    running = [s for s in PollStatus.objects.all() if s.last_started_at and s.last_started_at > max(
                        s.last_success_at or s.created_at, s.last_error_at or s.created_at)]
                    if running:
                        break
                    time.sleep(0.1)
                worker.kill()
                kills += 1
                mid_poll_kills += bool(running)
                worker.start()  # as compose's restart policy does
                worker.wait_ready()
                next_kill = time.monotonic() + args.kill_every
            sample("faults")
            time.sleep(5)
        rules = json.loads(urllib.request.urlopen(f"{server.endpoint}/_sandbox/faults", timeout=30).read())["rules"]
        out["fault_hits"] = {f"{r['service']}:{r['error'] or 'delay'}": r["hits"] for r in rules}
        sandbox.clear_faults(server)
        cleared = time.monotonic()
        # Stop the traffic at a minute boundary, so the last minute compared is whole.
        while datetime.now(timezone.utc).second > 50:
            time.sleep(1)
        stop_traffic.set()
        traffic.join(timeout=60)
        traffic_end = datetime.now(timezone.utc).replace(second=0, microsecond=0)
        ok_again_s = None
        settle_end = time.monotonic() + args.settle
        while time.monotonic() < settle_end:
            states = sample("settle")
            if ok_again_s is None and states and all(s == "ok" for s in states.values()):
                ok_again_s = round(time.monotonic() - cleared, 1)
            time.sleep(5)
        final = sample("final")
        for proc in procs:
            proc.stop()
        _purge()

        # --- the comparison --------------------------------------------------------------------
        window_start = (started + timedelta(minutes=1)).replace(second=0, microsecond=0)
        window_end = traffic_end  # exclusive
        truth: dict[tuple, dict] = {}
        for row in sandbox.ledger(server, start=window_start, end=window_end):
            key = (row["account"], row["region"], row["function"], row["minute"][:16])
            truth[key] = {k: row.get(k, 0) for k in ("invocations", "errors", "throttles")}
        stored: dict[tuple, dict] = {}
        rows = MinuteStat.objects.filter(series__kind=SeriesKind.FUNCTION, series__qualifier="", ts__gte=window_start,
                                         ts__lt=window_end).values_list(
            "series__function__account__account_id", "series__function__region", "series__function__name", "ts",
            "invocations", "errors", "throttles")
        for acct, region, fn, ts, inv, err, thr in rows:
            stored[(acct, region, fn, ts.astimezone(timezone.utc).isoformat()[:16])] = {
                "invocations": inv, "errors": err, "throttles": thr}
        missing, wrong, examples = 0, 0, []
        for key in set(truth) | set(stored):
            t = truth.get(key, {"invocations": 0, "errors": 0, "throttles": 0})
            s = stored.get(key)
            if not any(t.values()) and (s is None or not any(s.values())):
                continue
            if s is None:
                missing += 1
            elif any(float(s[k]) != float(t[k]) for k in t):
                wrong += 1
            else:
                continue
            if len(examples) < 5:
                examples.append({"cell": list(key), "ledger": t, "stored": s})
        all_truth = sandbox.ledger_totals(server)
        reports = MinuteStat.objects.filter(series__kind=SeriesKind.FUNCTION, series__qualifier="").values_list("reports", flat=True)
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) - count(DISTINCT (series_id, ts)) FROM ops_minutestat")
            duplicates = cur.fetchone()[0]
        worker_log = worker.output()
        out.update({
            "kills": kills,
            "kills_mid_poll": mid_poll_kills,
            "window": [window_start.isoformat(), window_end.isoformat()],
            "cells_with_traffic": sum(1 for v in truth.values() if any(v.values())),
            "cells_missing": missing,
            "cells_wrong": wrong,
            "cell_examples": examples,
            "ledger_invocations": all_truth.get("invocations", 0),
            "stored_report_lines": sum(reports),
            "duplicate_keys": duplicates,
            "lock_errors": len(re.findall(r"advisory|deadlock detected", worker_log)),
            "polls_skipped_as_running_elsewhere": worker_log.count("already running elsewhere"),
            "poll_states_sampled": {k: dict(v) for k, v in sorted(samples.items())},
            "all_ok_after_faults_cleared_s": ok_again_s,
            "final_states": final,
            "logs": str(logdir),
        })
    finally:
        stop_traffic.set()
        for proc in procs:
            proc.stop()
        server.stop()
    print(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
