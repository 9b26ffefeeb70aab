"""Benchmark the product's redrive loop against the in-process sandbox.

    DATABASE_URL=… python bench/bench_redrive.py [--messages 1000] [--big 10000] [--fault-rate 0.05] [--big-rate 500]

1. ``default``: ``--messages`` messages redriven at the default rate limit
   (REDRIVE_RATE_PER_SECOND): messages per second achieved;
2. ``faults``: ``--big`` messages with ``--fault-rate`` of SendMessageBatch calls failing
   (ServiceUnavailable), paced at ``--big-rate``: the final state of every message, and the
   check that none is lost — each one is either in the source queue (redriven) or still in the
   DLQ (failed or left), never both, never neither. ``--per-entry`` fails single entries of a
   batch instead of whole calls; ``--attempts 1`` turns every injected failure into a failed message.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._setup import django_ready  # noqa: E402

ACCOUNT_ID, REGION = "123456789012", "us-east-1"  # the sandbox's default account


def _sqs():
    import boto3
    from botocore.config import Config

    return boto3.client("sqs", region_name=REGION, config=Config(retries={"max_attempts": 1}))


def _queues(tag: str):
    """A DLQ and the source queue whose redrive policy names it, in the sandbox and as rows."""
    from django.utils import timezone

    from ops.models import Account, Function, FunctionQueue, Queue, QueueRole

    c = _sqs()
    account, _ = Account.objects.get_or_create(account_id=ACCOUNT_ID, defaults={"name": "bench-redrive", "regions": [REGION]})
    dlq_name, src_name = f"bench-{tag}-dlq", f"bench-{tag}-queue"
    dlq_url = c.create_queue(QueueName=dlq_name)["QueueUrl"]
    dlq_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{dlq_name}"
    src_url = c.create_queue(QueueName=src_name, Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})})["QueueUrl"]
    now = timezone.now()
    dlq = Queue.objects.create(account=account, region=REGION, arn=dlq_arn, url=dlq_url, name=dlq_name, last_seen=now)
    src = Queue.objects.create(account=account, region=REGION, arn=f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{src_name}",
                               url=src_url, name=src_name, dlq_arn=dlq_arn, last_seen=now)
    # Redrive acts only on a known function's DLQ: a function reading the source queue, whose
    # DLQ this is (as the inventory poller links them).
    fn = Function.objects.create(account=account, region=REGION, name=f"bench-{tag}-fn",
                                 arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:bench-{tag}-fn", memory_mb=128,
                                 timeout_s=30, last_seen=now)
    FunctionQueue.objects.create(function=fn, queue=src, role=QueueRole.EVENT_SOURCE)
    FunctionQueue.objects.create(function=fn, queue=dlq, role=QueueRole.SOURCE_DLQ)
    return dlq, dlq_url, src_url


def _fill(dlq, url: str, n: int) -> dict[str, str]:
    """n messages in the DLQ, stored as a peek would; returns message id → body."""
    from django.utils import timezone

    from ops.models import DlqMessage

    c = _sqs()
    bodies: dict[str, str] = {}
    rows = []
    now = timezone.now()
    for start in range(0, n, 10):
        entries = [{"Id": str(i), "MessageBody": json.dumps({"n": start + i, "pad": "x" * 200})} for i in range(min(10, n - start))]
        resp = c.send_message_batch(QueueUrl=url, Entries=entries)
        for ok in resp["Successful"]:
            body = entries[int(ok["Id"])]["MessageBody"]
            bodies[ok["MessageId"]] = body
            rows.append(DlqMessage(queue=dlq, message_id=ok["MessageId"], body=body.encode(), body_text=body,
                                   body_size=len(body), sent_at=now, first_seen_at=now, last_seen_at=now))
    DlqMessage.objects.bulk_create(rows, batch_size=2000)
    return bodies


def _drain(url: str) -> list[dict]:
    c = _sqs()
    out: list[dict] = []
    while True:
        got = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=120).get("Messages", [])
        if not got:
            return out
        out.extend(got)
        c.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])


def _redrive(dlq, *, rate: float | None) -> tuple[object, float]:
    from ops.actions.runner import job_run
    from ops.models import Job
    from ops.selectors.redrive import RedriveSelection
    from ops.services.redrive import dlq_redrive_request

    result = dlq_redrive_request(queue=dlq, selection=RedriveSelection(), user=None, idempotency_key=uuid.uuid4().hex, rate=rate)
    t = time.perf_counter()
    job_run(job_id=result.job.pk)
    took = time.perf_counter() - t
    return Job.objects.get(pk=result.job.pk), took


def _accounting(job, bodies: dict[str, str], dlq_url: str, src_url: str) -> dict:
    from ops.models import RedriveItem

    states = dict(RedriveItem.objects.filter(job=job).values_list("message_id", "state"))
    in_source = Counter(m["Body"] for m in _drain(src_url))
    in_dlq = {m["MessageId"] for m in _drain(dlq_url)}
    redriven = {i for i, s in states.items() if s == "redriven"}
    lost = [i for i in bodies if not (bodies[i] in in_source or i in in_dlq)]
    both = [i for i in bodies if bodies[i] in in_source and i in in_dlq]
    return {
        "states": dict(Counter(states.values())),
        "every_id_has_one_item": set(states) == set(bodies),
        "redriven_all_in_source": all(bodies[i] in in_source for i in redriven),
        "not_redriven_all_in_dlq": all(i in in_dlq for i in set(bodies) - redriven),
        "lost": len(lost),
        "in_both_places": len(both),
        "duplicates_in_source": sum(v - 1 for v in in_source.values()),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--messages", type=int, default=1000)
    p.add_argument("--big", type=int, default=10_000)
    p.add_argument("--fault-rate", type=float, default=0.05)
    p.add_argument("--big-rate", type=float, default=500.0)
    p.add_argument("--per-entry", action="store_true", help="fail single batch entries instead of whole calls")
    p.add_argument("--attempts", type=int, default=None, help="REDRIVE_SEND_ATTEMPTS for this run")
    args = p.parse_args()
    if args.attempts:
        os.environ["REDRIVE_SEND_ATTEMPTS"] = str(args.attempts)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    from sandbox.testing import add_fault, clear_faults, start_server

    server = start_server()
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint
    django_ready()
    from django.conf import settings

    from ops.tasks import actions

    actions.job_run.delay = lambda job_id: None  # this process runs the job itself
    out: dict = {"default_rate_limit_per_s": settings.REDRIVE_RATE_PER_SECOND}
    try:
        dlq, dlq_url, src_url = _queues(uuid.uuid4().hex[:6])
        bodies = _fill(dlq, dlq_url, args.messages)
        job, took = _redrive(dlq, rate=None)
        out["default"] = {"messages": args.messages, "seconds": round(took, 2),
                          "messages_per_s": round(args.messages / took, 1), "status": job.status,
                          **_accounting(job, bodies, dlq_url, src_url)}

        dlq, dlq_url, src_url = _queues(uuid.uuid4().hex[:6])
        bodies = _fill(dlq, dlq_url, args.big)
        add_fault(server, service="sqs", operation="SendMessageBatch", error="ServiceUnavailable", rate=args.fault_rate,
                  per_entry=args.per_entry)
        try:
            job, took = _redrive(dlq, rate=args.big_rate)
        finally:
            clear_faults(server)
        out["faults"] = {"messages": args.big, "send_fault_rate": args.fault_rate, "per_entry": args.per_entry,
                         "send_attempts": settings.REDRIVE_SEND_ATTEMPTS, "rate_limit_per_s": args.big_rate,
                         "seconds": round(took, 2), "messages_per_s": round(args.big / took, 1), "status": job.status,
                         **_accounting(job, bodies, dlq_url, src_url)}
    finally:
        server.stop()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
