"""Rollback: from the confirmed POST to the alias verified, over repeated runs against the sandbox.

Run by hand (prints JSON; the confirm page needs collected static files, as `make bench` does):
    DATABASE_URL=postgres://…/lambdaops_bench python -m bench.bench_rollback [--runs 30]

An in-process sandbox holds the small estate; the inventory reads it once. Each run renders the
confirm page of orders-api:live (GET, not timed: it carries the RevisionId and the key), then
times the POST through the view, the job (run inline, as a worker would run it) and its
read-back, until the job says the alias is verified. Runs alternate between two versions, so
every run really moves the alias. Targets: p95 ≤ 2 s; per rollback exactly one mutating call
(UpdateAlias) plus the reads (GetAlias before and after).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time

os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

from bench._setup import django_ready  # noqa: E402

MUTATING = {"UpdateAlias", "PutFunctionConcurrency", "DeleteFunctionConcurrency", "UpdateEventSourceMapping",
            "PublishVersion", "CreateAlias", "DeleteAlias", "UpdateFunctionConfiguration", "UpdateFunctionCode"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    from sandbox.testing import PROD_ACCOUNT_ID, seed_estate, start_server

    server = start_server()
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint
    django_ready()
    from django.test import Client
    from django.urls import reverse

    from ops.actions import runner
    from ops.aws import usage
    from ops.models import Account, Alias, Job
    from ops.pollers.base import poll_run
    from ops.pollers.inventory import inventory_poll
    from ops.services.users import user_create
    from ops.tasks import actions

    seed_estate(server, small=True)
    Account.objects.filter(account_id=PROD_ACCOUNT_ID).delete()
    account = Account.objects.create(name="bench-rollback", account_id=PROD_ACCOUNT_ID, regions=["us-east-1"])
    assert poll_run(source="inventory", account=account, region="us-east-1", work=inventory_poll).ok
    alias = Alias.objects.get(function__account=account, function__name="orders-api", name="live")
    from django.contrib.auth.models import User

    User.objects.filter(username="bench-operator").delete()
    user = user_create(username="bench-operator", password="bench-password-42", role="operator")
    client = Client()
    client.force_login(user)
    actions.job_run.delay = lambda job_id: runner.job_run(job_id=job_id)  # the worker, inline
    url = reverse("alias-rollback", args=[alias.function_id, alias.pk])

    seconds, per_run, failures = [], [], []
    for i in range(args.runs):
        target = "2" if i % 2 == 0 else "1"
        html = client.get(f"{url}?to={target}").content.decode()
        key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)
        revision = re.search(r'name="revision_id" value="([^"]+)"', html).group(1)
        usage.drain_all()
        t0 = time.monotonic()
        resp = client.post(url, {"idempotency_key": key, "revision_id": revision, "to_version": target})
        job = Job.objects.get(idempotency_key=key)
        elapsed = time.monotonic() - t0
        calls: dict[str, int] = {}
        for k, n, _units in usage.drain():
            calls[k.operation] = calls.get(k.operation, 0) + n
        if resp.status_code != 302 or job.status != "succeeded":
            failures.append({"run": i, "status": resp.status_code, "job": job.status, "error": job.error})
            continue
        seconds.append(elapsed)
        per_run.append(calls)

    mutating = [sum(n for op, n in c.items() if op in MUTATING) for c in per_run]
    reads = [c.get("GetAlias", 0) for c in per_run]
    q = statistics.quantiles(seconds, n=20) if len(seconds) >= 2 else seconds * 19
    print(json.dumps({
        "benchmark": "rollback",
        "runs": args.runs,
        "succeeded": len(seconds),
        "failures": failures[:5],
        "post_to_verified_s": {"p50": round(statistics.median(seconds), 3) if seconds else None,
                               "p95": round(q[18], 3) if seconds else None,
                               "max": round(max(seconds), 3) if seconds else None},
        "target_p95_s": 2.0,
        "mutating_calls_per_rollback": sorted(set(mutating)),
        "update_alias_per_rollback": sorted({c.get("UpdateAlias", 0) for c in per_run}),
        "get_alias_per_rollback": sorted(set(reads)),
        "calls_of_one_rollback": per_run[0] if per_run else {},
        "target": "one UpdateAlias plus the read-back (GetAlias before and after)",
    }, indent=2))
    server.stop()


if __name__ == "__main__":
    main()
