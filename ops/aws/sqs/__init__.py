"""SQS, one module per use: this one holds queue reads every part needs (attributes and redrive
policy for the inventory, URL, depth); ``peek`` the DLQ poller's non-destructive look at the
messages; ``messages`` the redrive's receive, re-send, delete, move tasks and purge."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ops.aws.client import Scope, cached_client, call, client


@dataclass(frozen=True)
class QueueInfo:
    arn: str
    url: str
    name: str
    fifo: bool
    dlq_arn: str
    max_receive_count: int | None
    retention_s: int | None
    visibility_timeout_s: int | None
    visible: int
    in_flight: int


def arn_parts(arn: str) -> tuple[str, str, str]:
    """(region, account id, name) of an SQS queue ARN."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        raise ValueError(f"not an SQS queue ARN: {arn!r}")
    return parts[3], parts[4], parts[5]


def queue_info(scope: Scope, arn: str) -> QueueInfo:
    _region, account_id, name = arn_parts(arn)
    c = client("sqs", scope)
    url = call(c, "GetQueueUrl", QueueName=name, QueueOwnerAWSAccountId=account_id)["QueueUrl"]
    attrs = call(c, "GetQueueAttributes", QueueUrl=url, AttributeNames=["All"]).get("Attributes", {})
    policy = {}
    if attrs.get("RedrivePolicy"):
        try:
            policy = json.loads(attrs["RedrivePolicy"])
        except ValueError:
            policy = {}

    def _int(key: str) -> int | None:
        try:
            return int(attrs[key])
        except (KeyError, ValueError):
            return None

    return QueueInfo(
        arn=arn,
        url=url,
        name=name,
        fifo=name.endswith(".fifo"),
        dlq_arn=policy.get("deadLetterTargetArn", ""),
        max_receive_count=int(policy["maxReceiveCount"]) if policy.get("maxReceiveCount") else None,
        retention_s=_int("MessageRetentionPeriod"),
        visibility_timeout_s=_int("VisibilityTimeout"),
        visible=_int("ApproximateNumberOfMessages") or 0,
        in_flight=_int("ApproximateNumberOfMessagesNotVisible") or 0,
    )

# The attributes a depth read asks for: the three counts, nothing billed beyond the call.
_DEPTH_ATTRIBUTES = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                     "ApproximateNumberOfMessagesDelayed"]
# Error codes that mean the queue itself is gone (deleted while a job or a poll worked on it).
QUEUE_GONE_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NonExistentQueue"})


@dataclass(frozen=True)
class QueueDepth:
    visible: int
    in_flight: int
    delayed: int


def queue_missing(err: Exception) -> bool:
    return getattr(err, "code", "") in QUEUE_GONE_CODES


def queue_url(scope: Scope, arn: str) -> str:
    _region, account_id, name = arn_parts(arn)
    return call(client("sqs", scope), "GetQueueUrl", QueueName=name, QueueOwnerAWSAccountId=account_id)["QueueUrl"]


def queue_depth(scope: Scope, url: str) -> QueueDepth:
    # The redrive loop asks every EMPTY_WAIT_S while it waits for in-flight messages; a client
    # built per call costs more than the call, so the kept one serves.
    attrs = call(cached_client("sqs", scope), "GetQueueAttributes", QueueUrl=url,
                 AttributeNames=_DEPTH_ATTRIBUTES).get("Attributes", {})

    def _n(key: str) -> int:
        try:
            return max(0, int(attrs.get(key, 0)))
        except (TypeError, ValueError):
            return 0

    return QueueDepth(visible=_n(_DEPTH_ATTRIBUTES[0]), in_flight=_n(_DEPTH_ATTRIBUTES[1]),
                      delayed=_n(_DEPTH_ATTRIBUTES[2]))



# Re-exported so callers keep one import (``from ops.aws import sqs``); below the shared names
# the submodules import from here.
from ops.aws.sqs.messages import (  # noqa: E402
    HANDLE_GONE_CODES,
    MOVE_VELOCITY_MAX,
    SQS_BATCH_MAX,
    BatchFailure,
    BatchOutcome,
    MoveTask,
    ReceivedMessage,
    SendEntry,
    messages_delete,
    messages_receive,
    messages_release,
    messages_send,
    move_task_cancel,
    move_task_start,
    move_tasks_list,
    queue_purge,
)
from ops.aws.sqs.peek import Peek, PeekedMessage, queue_peek  # noqa: E402
