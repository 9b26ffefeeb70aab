"""A DLQ in the sandbox with real messages in it, and the DlqMessage rows a peek would have
stored for them (the DLQ poller is not needed: each message's id, body and attributes are
recorded as SQS accepted them)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta

import boto3
from botocore.config import Config
from django.utils import timezone

from ops.models import Account, DlqMessage, DlqMessageShape, Function, FunctionQueue, Job, Queue, QueueRole, RedriveItem
from tests.factories import AccountFactory, FunctionFactory

ACCOUNT_ID = "123456789012"  # the sandbox's default account
REGION = "us-east-1"


def sqs_client():
    return boto3.client("sqs", region_name=REGION, config=Config(retries={"max_attempts": 1}))


def signature(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


@dataclass
class Dlq:
    account: Account
    queue: Queue
    url: str
    source: Queue | None = None
    source_url: str = ""
    function: Function | None = None
    messages: dict[str, DlqMessage] = field(default_factory=dict)  # message id → stored row

    def ids(self) -> set[str]:
        return set(self.messages)


def _queue_row(account: Account, name: str, url: str, *, dlq_arn: str = "") -> Queue:
    return Queue.objects.create(account=account, region=REGION, arn=f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}", url=url,
                                name=name, fifo=name.endswith(".fifo"), dlq_arn=dlq_arn, last_seen=timezone.now())


def make_dlq(*, role: str = QueueRole.SOURCE_DLQ, name: str = "orders-dlq", fifo: bool = False) -> Dlq:
    """An SQS DLQ and where its messages go back to: a source queue (SOURCE_DLQ) whose redrive
    policy names it, or a function (LAMBDA_DLQ / ON_FAILURE)."""
    c = sqs_client()
    suffix = ".fifo" if fifo else ""
    fifo_attrs = {"FifoQueue": "true"} if fifo else {}
    account = Account.objects.filter(account_id=ACCOUNT_ID).first() or AccountFactory(name="prod", account_id=ACCOUNT_ID)
    url = c.create_queue(QueueName=name + suffix, Attributes=fifo_attrs)["QueueUrl"]
    dlq = Dlq(account=account, queue=_queue_row(account, name + suffix, url), url=url)
    if role == QueueRole.SOURCE_DLQ:
        source_name = name.replace("-dlq", "") + "-queue" + suffix
        policy = json.dumps({"deadLetterTargetArn": dlq.queue.arn, "maxReceiveCount": "3"})
        dlq.source_url = c.create_queue(QueueName=source_name, Attributes={**fifo_attrs, "RedrivePolicy": policy})["QueueUrl"]
        dlq.source = _queue_row(account, source_name, dlq.source_url, dlq_arn=dlq.queue.arn)
        # As the inventory links them: the function reading the source queue, whose DLQ this is.
        dlq.function = FunctionFactory(account=account, region=REGION, name=name.replace("-dlq", "") + "-consumer",
                                       arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name.replace('-dlq', '')}-consumer")
        FunctionQueue.objects.create(function=dlq.function, queue=dlq.source, role=QueueRole.EVENT_SOURCE)
        FunctionQueue.objects.create(function=dlq.function, queue=dlq.queue, role=QueueRole.SOURCE_DLQ)
    else:
        dlq.function = FunctionFactory(account=account, region=REGION, name=name.replace("-dlq", ""),
                                       arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name.replace('-dlq', '')}")
        FunctionQueue.objects.create(function=dlq.function, queue=dlq.queue, role=role)
    return dlq


def put_messages(dlq: Dlq, bodies: list, *, group: str = "", error: str = "KeyError: 'id'", sent_at=None,
                 attributes: dict | None = None, shape: str = DlqMessageShape.SOURCE_MESSAGE, replayable: bool = True,
                 fifo_group: str = "g1") -> list[str]:
    """Send ``bodies`` (str, or anything JSON) to the DLQ and store each as a peek would. Returns their ids."""
    c = sqs_client()
    sent_at = sent_at or timezone.now() - timedelta(minutes=10)
    texts = [b if isinstance(b, str) else json.dumps(b) for b in bodies]
    ids: list[str] = []
    for start in range(0, len(texts), 10):
        chunk = texts[start:start + 10]
        entries = []
        for n, text in enumerate(chunk):
            e = {"Id": str(n), "MessageBody": text}
            if attributes:
                e["MessageAttributes"] = attributes
            if dlq.queue.fifo:
                e["MessageGroupId"] = fifo_group
                e["MessageDeduplicationId"] = signature(f"{start + n}-{text}")[:40]
            entries.append(e)
        resp = c.send_message_batch(QueueUrl=dlq.url, Entries=entries)
        assert not resp.get("Failed"), resp
        by_entry = {r["Id"]: r["MessageId"] for r in resp["Successful"]}
        now = timezone.now()
        rows = []
        for n, text in enumerate(chunk):
            message_id = by_entry[str(n)]
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            rows.append(DlqMessage(
                queue=dlq.queue, message_id=message_id, body=text.encode(), body_text=text, body_json=parsed,
                body_size=len(text.encode()), shape=shape, replayable=replayable,
                message_attributes={k: {"type": v["DataType"]} for k, v in (attributes or {}).items()},
                error_type=error.split(":")[0], error_message=error.partition(":")[2].strip(),
                group_signature=group or signature(error), sent_at=sent_at, first_seen_at=now, last_seen_at=now,
            ))
            ids.append(message_id)
        for row in DlqMessage.objects.bulk_create(rows):
            dlq.messages[row.message_id] = row
    return ids


def drain(url: str) -> list[dict]:
    """Every message now in a queue (received and deleted), with attributes."""
    c = sqs_client()
    out: list[dict] = []
    while True:
        got = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                MessageSystemAttributeNames=["All"], VisibilityTimeout=60).get("Messages", [])
        if not got:
            return out
        out.extend(got)
        c.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(got)])


def states(job: Job) -> dict[str, str]:
    return dict(RedriveItem.objects.filter(job=job).values_list("message_id", "state"))
