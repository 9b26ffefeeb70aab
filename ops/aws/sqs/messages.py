"""The redrive's SQS calls: receive, re-send, delete, move tasks, purge (ops.actions.redrive)."""

from __future__ import annotations

from dataclasses import dataclass

from ops.aws.client import Scope, cached_client, call

# SQS's own limits: 10 entries per batch call, 20 s long poll, 12 h visibility, 500 msg/s moves.
SQS_BATCH_MAX = 10
MOVE_VELOCITY_MAX = 500


@dataclass(frozen=True)
class ReceivedMessage:
    message_id: str
    receipt_handle: str
    body: str
    md5_of_body: str
    # System attributes as SQS returned them (SentTimestamp, MessageGroupId, …).
    attributes: dict
    # Message attributes exactly as SQS returned them, ready to send again:
    # {name: {"DataType": …, "StringValue": …} or {"DataType": …, "BinaryValue": bytes}}.
    message_attributes: dict


@dataclass(frozen=True)
class SendEntry:
    id: str  # the batch entry id (unique within one call)
    body: str
    message_attributes: dict
    group_id: str = ""  # FIFO only
    deduplication_id: str = ""  # FIFO only


@dataclass(frozen=True)
class BatchFailure:
    id: str
    code: str
    message: str
    # SenderFault: the entry itself is wrong (retrying the same entry will not help).
    sender_fault: bool


@dataclass(frozen=True)
class BatchOutcome:
    # entry id → what SQS gave back (the new message id for a send; "" for a delete)
    succeeded: dict
    failed: tuple[BatchFailure, ...]


@dataclass(frozen=True)
class MoveTask:
    status: str  # RUNNING | COMPLETED | CANCELLING | CANCELLED | FAILED
    task_handle: str
    moved: int
    to_move: int | None
    failure_reason: str
    source_arn: str
    destination_arn: str


def _attribute_values(raw: dict) -> dict:
    """Message attributes as ReceiveMessage gives them → exactly what SendMessage takes."""
    out = {}
    for name, value in (raw or {}).items():
        kept = {"DataType": value["DataType"]}
        for key in ("StringValue", "BinaryValue"):
            if key in value:
                kept[key] = value[key]
        out[name] = kept
    return out


def messages_receive(scope: Scope, url: str, *, max_messages: int = SQS_BATCH_MAX, visibility_s: int = 60,
                     wait_s: int = 0) -> list[ReceivedMessage]:
    """One ReceiveMessage: up to 10 messages, invisible to others for ``visibility_s`` seconds."""
    response = call(
        cached_client("sqs", scope),
        "ReceiveMessage",
        QueueUrl=url,
        MaxNumberOfMessages=max(1, min(SQS_BATCH_MAX, max_messages)),
        VisibilityTimeout=visibility_s,
        WaitTimeSeconds=wait_s,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    return [
        ReceivedMessage(
            message_id=m["MessageId"],
            receipt_handle=m["ReceiptHandle"],
            body=m.get("Body", ""),
            md5_of_body=m.get("MD5OfBody", ""),
            attributes=dict(m.get("Attributes") or {}),
            message_attributes=_attribute_values(m.get("MessageAttributes") or {}),
        )
        for m in response.get("Messages", [])
    ]


def _outcome(response: dict, value_key: str | None) -> BatchOutcome:
    return BatchOutcome(
        succeeded={e["Id"]: (e.get(value_key, "") if value_key else "") for e in response.get("Successful", [])},
        failed=tuple(
            BatchFailure(id=e["Id"], code=e.get("Code", ""), message=e.get("Message", ""), sender_fault=bool(e.get("SenderFault")))
            for e in response.get("Failed", [])
        ),
    )


def messages_send(scope: Scope, url: str, entries: list[SendEntry]) -> BatchOutcome:
    """SendMessageBatch (≤ 10 entries): bodies and attributes as given; FIFO ids when set."""
    batch = []
    for e in entries:
        item = {"Id": e.id, "MessageBody": e.body}
        if e.message_attributes:
            item["MessageAttributes"] = e.message_attributes
        if e.group_id:
            item["MessageGroupId"] = e.group_id
        if e.deduplication_id:
            item["MessageDeduplicationId"] = e.deduplication_id
        batch.append(item)
    return _outcome(call(cached_client("sqs", scope), "SendMessageBatch", QueueUrl=url, Entries=batch), "MessageId")


def messages_delete(scope: Scope, url: str, handles: dict[str, str]) -> BatchOutcome:
    """DeleteMessageBatch: entry id → receipt handle (≤ 10)."""
    entries = [{"Id": i, "ReceiptHandle": h} for i, h in handles.items()]
    return _outcome(call(cached_client("sqs", scope), "DeleteMessageBatch", QueueUrl=url, Entries=entries), None)


def messages_release(scope: Scope, url: str, handles: dict[str, str], *, visibility_s: int = 0) -> BatchOutcome:
    """ChangeMessageVisibilityBatch: hand messages back (0 s: visible again at once)."""
    entries = [{"Id": i, "ReceiptHandle": h, "VisibilityTimeout": visibility_s} for i, h in handles.items()]
    return _outcome(call(cached_client("sqs", scope), "ChangeMessageVisibilityBatch", QueueUrl=url, Entries=entries), None)


def move_task_start(scope: Scope, *, source_arn: str, velocity: int | None, destination_arn: str = "") -> str:
    """StartMessageMoveTask; returns the task handle. Without a destination SQS moves each
    message back to the queue it came from."""
    params: dict = {"SourceArn": source_arn}
    if destination_arn:
        params["DestinationArn"] = destination_arn
    if velocity:
        params["MaxNumberOfMessagesPerSecond"] = max(1, min(MOVE_VELOCITY_MAX, int(velocity)))
    return call(cached_client("sqs", scope), "StartMessageMoveTask", **params)["TaskHandle"]


def move_tasks_list(scope: Scope, *, source_arn: str, limit: int = 10) -> list[MoveTask]:
    """ListMessageMoveTasks, newest first (SQS keeps the last 10 per source queue)."""
    response = call(cached_client("sqs", scope), "ListMessageMoveTasks", SourceArn=source_arn, MaxResults=max(1, min(10, limit)))
    out = []
    for r in response.get("Results", []):
        out.append(
            MoveTask(
                status=r.get("Status", ""),
                task_handle=r.get("TaskHandle", ""),
                moved=int(r.get("ApproximateNumberOfMessagesMoved") or 0),
                to_move=int(r["ApproximateNumberOfMessagesToMove"]) if r.get("ApproximateNumberOfMessagesToMove") is not None else None,
                failure_reason=r.get("FailureReason", ""),
                source_arn=r.get("SourceArn", source_arn),
                destination_arn=r.get("DestinationArn", ""),
            )
        )
    return out


def move_task_cancel(scope: Scope, *, task_handle: str) -> int:
    """CancelMessageMoveTask; returns how many messages had been moved."""
    response = call(cached_client("sqs", scope), "CancelMessageMoveTask", TaskHandle=task_handle)
    return int(response.get("ApproximateNumberOfMessagesMoved") or 0)


def queue_purge(scope: Scope, url: str) -> None:
    """PurgeQueue: every message goes (SQS allows one purge per queue per 60 s)."""
    call(cached_client("sqs", scope), "PurgeQueue", QueueUrl=url)


# A receipt handle that no longer names a message in flight: deleted by someone else, or its
# visibility ran out and someone received it again.
HANDLE_GONE_CODES = frozenset({"ReceiptHandleIsInvalid", "InvalidReceiptHandle", "MessageNotInflight",
                               "AWS.SimpleQueueService.MessageNotInflight"})
