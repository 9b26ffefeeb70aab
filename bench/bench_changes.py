"""The CloudTrail changes poller: calls, pacing and time for a burst of Lambda changes.

Run by hand (prints JSON):
    DATABASE_URL=postgres://…/lambdaops_bench python -m bench.bench_changes [--events 500]

An in-process sandbox records ``--events`` Lambda writes (configuration and concurrency changes
to 10 functions) as CloudTrail events (delivery delay 0); then the changes poller runs twice
through the product's own client factory. Expected: LookupEvents calls == ceil(events / 50)
(paced at 2 per second: at least (calls − 1) × 0.5 s), every event stored once, one re-read per
function named; the re-run re-reads the trailing window (here all of it: the same calls) and
stores nothing.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import time
import zipfile

from bench._setup import django_ready

FUNCTIONS = 10


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "def handler(e, c):\n    return e\n")
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=500)
    args = ap.parse_args()
    from sandbox.testing import cloudtrail_delay, start_server

    server = start_server()
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint
    django_ready()
    import boto3

    from ops.aws import usage
    from ops.models import Account, Change
    from ops.pollers.base import poll_run
    from ops.pollers.changes import changes_poll

    cloudtrail_delay(server, 0)
    kw = {"endpoint_url": server.endpoint, "region_name": "us-east-1"}
    role = boto3.client("iam", **kw).create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = boto3.client("lambda", **kw)
    for i in range(FUNCTIONS):
        lam.create_function(FunctionName=f"bench-{i}", Runtime="python3.12", Role=role, Handler="app.handler",
                            Code={"ZipFile": _zip()})
    writes = max(0, args.events - FUNCTIONS)
    for i in range(writes):
        name = f"bench-{i % FUNCTIONS}"
        if i % 2:
            lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1 + i % 50)
        else:
            lam.update_function_configuration(FunctionName=name, Timeout=3 + i % 60)

    Account.objects.filter(account_id="123456789012").delete()
    account = Account.objects.create(name="bench-trail", account_id="123456789012", regions=["us-east-1"])
    runs = []
    for _ in range(2):
        usage.drain_all()
        t0 = time.monotonic()
        outcome = poll_run(source="changes", account=account, region="us-east-1", work=changes_poll)
        seconds = time.monotonic() - t0
        calls: dict[str, int] = {}
        for key, n, _units in usage.drain():
            calls[key.operation] = calls.get(key.operation, 0) + n
        runs.append({"ok": outcome.ok, "stored": outcome.items, "seconds": round(seconds, 2), "calls": calls})
    events = FUNCTIONS + writes
    print(json.dumps({
        "events": events,
        "expected_lookup_calls": math.ceil(events / 50),
        "first_run": runs[0],
        "rerun": runs[1],
        "rows": Change.objects.filter(account=account).count(),
        "min_paced_seconds": (math.ceil(events / 50) - 1) * 0.5,
    }, indent=2))
    server.stop()


if __name__ == "__main__":
    main()
