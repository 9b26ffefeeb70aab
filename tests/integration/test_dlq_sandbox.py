"""The sandbox's own failed events, end to end: inventory discovers the three kinds of DLQ and
links them; the DLQ poller stores exactly what the traffic generator sent (its ledger), each in
its shape; and the queues are left as they were."""

from collections import Counter
from datetime import timedelta

import boto3
import pytest
from django.utils import timezone

from ops.models import DlqMessage, FunctionQueue, Queue
from ops.pollers.base import poll_run
from ops.pollers.dlq import dlq_poll
from ops.pollers.inventory import inventory_poll
from ops.services.accounts import account_upsert
from sandbox import testing as sandbox

pytestmark = pytest.mark.django_db(transaction=True)
REGION = "us-east-1"


def test_sandbox_failed_events_are_discovered_stored_and_left_in_place(aws, sandbox_server):
    estate = sandbox.seed_estate(sandbox_server, small=True)
    prod = next(a for a in estate.accounts if a["account_id"] == sandbox.PROD_ACCOUNT_ID)
    account = account_upsert(name=prod["name"], account_id=prod["account_id"], regions=[REGION])
    start = (timezone.now() - timedelta(minutes=35)).replace(second=0, microsecond=0)
    sandbox.generate(sandbox_server, start=start, minutes=30, scenario="steady", seed=3)
    assert poll_run(source="inventory", account=account, region=REGION, work=inventory_poll).ok

    roles = {(link.function.name, link.queue.name, link.role) for link in FunctionQueue.objects.select_related("function", "queue")}
    assert ("email-sender", "email-sender-dlq", "lambda_dlq") in roles
    assert ("email-sender", "email-sender-failures", "on_failure") in roles
    assert ("payments-worker", "payments-queue", "event_source") in roles
    assert ("payments-worker", "payments-dlq", "source_dlq") in roles
    assert Queue.objects.get(name="payments-queue").dlq_arn == Queue.objects.get(name="payments-dlq").arn

    outcome = poll_run(source="dlq", account=account, region=REGION, work=dlq_poll)
    assert outcome.ok and outcome.items == 3, outcome

    sent = Counter()
    for row in sandbox.ledger(sandbox_server, account=sandbox.PROD_ACCOUNT_ID, region=REGION):
        if row["function"] == "payments-worker":
            sent["payments-dlq"] += row.get("dlq_messages_sent", 0)
        if row["function"] == "email-sender":
            sent["email-sender-dlq"] += row.get("dlq_messages_sent", 0)
            sent["email-sender-failures"] += row.get("destination_messages_sent", 0)
    assert sent["payments-dlq"] and sent["email-sender-dlq"] and sent["email-sender-failures"], sent
    sqs = boto3.client("sqs", region_name=REGION)
    for name, shape in (("payments-dlq", "source_message"), ("email-sender-dlq", "async_event"),
                        ("email-sender-failures", "invocation_record")):
        q = Queue.objects.get(name=name)
        stored = DlqMessage.objects.filter(queue=q)
        assert stored.count() == sent[name] == q.depth_visible, (name, q.peek_note)
        shapes = Counter(stored.values_list("shape", flat=True))
        assert set(shapes) == ({shape} if sent[name] else set()), (name, shapes)
        attrs = sqs.get_queue_attributes(QueueUrl=q.url, AttributeNames=["ApproximateNumberOfMessages",
                                                                          "ApproximateNumberOfMessagesNotVisible"])
        assert attrs["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0"
        assert int(attrs["Attributes"]["ApproximateNumberOfMessages"]) == sent[name]
    for m in DlqMessage.objects.filter(queue__name="email-sender-dlq"):
        assert m.request_id and m.error_code == "200" and m.error_type in ("KeyError", "Task timed out"), m.error_message
