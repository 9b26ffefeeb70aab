"""SQS reads the inventory needs: queue attributes and redrive policies."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ops.aws.client import Scope, call, client


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
