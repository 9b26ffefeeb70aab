"""How long a DLQ peek holds messages, and what it costs, against an in-process sandbox.

    SECRET_KEY=… python -m bench.bench_dlq_peek [--messages 200] [--hold 5]

Fills one standard queue with ``--messages`` messages (JSON bodies with attributes), then runs
the poller's peek (ops.aws.sqs.queue_peek) once: the time it held messages invisible (the whole
walk, receive to hand-back), receives, messages seen, whether it drained the queue, and the
queue's visible / in-flight counts right after it returned (they must equal the depth and 0).
No database. Prints one JSON object. The sandbox's ReceiveMessage slows as a queue grows
(about a second per call at 600 messages, against tens of milliseconds on SQS), so the walk's
rate here is a floor, not what AWS gives.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--hold", type=float, default=5.0)
    ap.add_argument("--max", type=int, default=1000)
    args = ap.parse_args()

    import boto3
    import django

    from sandbox.testing import start_server

    server = start_server()
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint
    django.setup()
    from ops.aws import sqs as aws_sqs
    from ops.aws.client import Scope

    try:
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="bench-dlq")["QueueUrl"]
        for i in range(0, args.messages, 10):
            sqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(j), "MessageBody": json.dumps({"n": i + j, "detail": {"orderId": i + j}}),
                 "MessageAttributes": {"ErrorMessage": {"DataType": "String", "StringValue": "KeyError: 'id'"}}}
                for j in range(min(10, args.messages - i))])
        scope = Scope(account_id="123456789012", region="us-east-1")
        t0 = time.monotonic()
        peek = aws_sqs.queue_peek(scope, url, max_messages=args.max, visibility_s=30, hold_s=args.hold)
        held_s = time.monotonic() - t0
        after = aws_sqs.queue_depth(scope, url)
        print(json.dumps({
            "messages": args.messages, "hold_budget_s": args.hold, "held_s": round(held_s, 3),
            "receives": peek.receives, "seen": len(peek.messages), "drained": peek.drained, "stopped": peek.stopped,
            "messages_per_s": round(len(peek.messages) / held_s, 1) if held_s else None,
            "visible_after": after.visible, "in_flight_after": after.in_flight,
            "counts_restored": after.visible == args.messages and after.in_flight == 0,
        }))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
