"""What one permission check costs: AWS calls per account × region and the time it takes, against
an in-process sandbox (a real AWS region answers each call in tens of milliseconds, so scale the
time by the calls rather than read it as AWS's).

Run by hand (prints JSON):
    DATABASE_URL=postgres://…/lambdaops_bench python bench/bench_permissions.py [--regions 2]
"""

from __future__ import annotations

import argparse
import json
import os
import time

from bench._setup import django_ready


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--regions", type=int, default=2)
    args = ap.parse_args()
    from sandbox.testing import EXTERNAL_ID, REGIONS, STAGING_ACCOUNT_ID, STAGING_ROLE_ARN, seed_estate, start_server

    server = start_server()
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint
    seed_estate(server, small=True)
    django_ready()
    from ops.aws import usage
    from ops.aws.permissions import checked_actions
    from ops.services.permissions import permission_check_run

    regions = (list(REGIONS) * args.regions)[: args.regions]
    usage.drain()
    t0 = time.perf_counter()
    report = permission_check_run(account_id=STAGING_ACCOUNT_ID, role_arn=STAGING_ROLE_ARN, external_id=EXTERNAL_ID,
                                  regions=regions)
    seconds = time.perf_counter() - t0
    calls = usage.drain()
    server.stop()
    print(json.dumps({
        "regions": len(regions),
        "actions_checked": len(checked_actions()),
        "aws_calls": sum(n for _, n, _ in calls),
        "assume_role_calls": sum(n for k, n, _ in calls if k.operation == "AssumeRole"),
        "seconds": round(seconds, 2),
        "ok": report.ok,
        "denied": len(report.denied()),
    }))


if __name__ == "__main__":
    main()
