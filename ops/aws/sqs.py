"""SQS reads: queue attributes and redrive policies (inventory), depth and a non-destructive peek (DLQ poller)."""

from __future__ import annotations

import base64
import json
import time
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


# --- DLQ reads: depth and a peek that hands every message back (ops/pollers/dlq) ---------------

# The attributes a depth read asks for: the three counts, nothing billed beyond the call.
_DEPTH_ATTRIBUTES = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                     "ApproximateNumberOfMessagesDelayed"]
_RECEIVE_MAX = 10  # ReceiveMessage's own limit per call
_MISSING = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


@dataclass(frozen=True)
class QueueDepth:
    visible: int
    in_flight: int
    delayed: int


@dataclass(frozen=True)
class PeekedMessage:
    message_id: str
    body: bytes  # exactly as SQS returned it (UTF-8; lone surrogates kept with surrogatepass)
    md5_of_body: str
    attributes: dict  # system attributes, str → str
    # {name: {"type": DataType, "value": str}} or {"type": …, "base64": str} for binary values
    # and for strings holding NUL (which Postgres' jsonb cannot store as text)
    message_attributes: dict


@dataclass(frozen=True)
class Peek:
    messages: tuple[PeekedMessage, ...]
    receives: int
    # The last receive came back empty: every visible message was handed to us (what "complete"
    # needs besides the count, judged by the caller against the depth).
    drained: bool
    stopped: str  # why the walk stopped, in words ("empty receive", "budget of 1,000 messages", …)
    release_failures: int  # handles ChangeMessageVisibility refused (the message was deleted meanwhile)


def queue_missing(err: Exception) -> bool:
    return getattr(err, "code", "") in _MISSING


def queue_url(scope: Scope, arn: str) -> str:
    _region, account_id, name = arn_parts(arn)
    return call(client("sqs", scope), "GetQueueUrl", QueueName=name, QueueOwnerAWSAccountId=account_id)["QueueUrl"]


def queue_depth(scope: Scope, url: str) -> QueueDepth:
    attrs = call(client("sqs", scope), "GetQueueAttributes", QueueUrl=url,
                 AttributeNames=_DEPTH_ATTRIBUTES).get("Attributes", {})

    def _n(key: str) -> int:
        try:
            return max(0, int(attrs.get(key, 0)))
        except (TypeError, ValueError):
            return 0

    return QueueDepth(visible=_n(_DEPTH_ATTRIBUTES[0]), in_flight=_n(_DEPTH_ATTRIBUTES[1]),
                      delayed=_n(_DEPTH_ATTRIBUTES[2]))


def _message_attributes(raw: dict) -> dict:
    out = {}
    for name, attr in (raw or {}).items():
        kind = str(attr.get("DataType", ""))
        if "BinaryValue" in attr and attr["BinaryValue"] is not None:
            out[name] = {"type": kind, "base64": base64.b64encode(bytes(attr["BinaryValue"])).decode("ascii")}
        else:
            value = str(attr.get("StringValue", ""))
            if "\x00" in value or _has_surrogate(value):
                encoded = value.encode("utf-8", "surrogatepass")
                out[name] = {"type": kind, "base64": base64.b64encode(encoded).decode("ascii"), "encoding": "utf-8"}
            else:
                out[name] = {"type": kind, "value": value}
    return out


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def _peeked(m: dict) -> PeekedMessage:
    body = m.get("Body", "")
    return PeekedMessage(
        message_id=str(m.get("MessageId", "")),
        body=body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body),
        md5_of_body=str(m.get("MD5OfBody", "")),
        attributes={str(k): str(v) for k, v in (m.get("Attributes") or {}).items()},
        message_attributes=_message_attributes(m.get("MessageAttributes") or {}),
    )


def queue_peek(scope: Scope, url: str, *, max_messages: int, visibility_s: int, hold_s: float) -> Peek:
    """Read up to ``max_messages`` messages and hand every one back (ChangeMessageVisibility 0).

    A receive is not free: each message goes in flight and its receive count rises. Handing a
    batch back at once would have the next receive return the same batch again (SQS serves the
    first visible messages), so the walk keeps what it received invisible for at most
    ``hold_s`` seconds and then returns all of it in batches of ten:
    1. receive ten with a ``visibility_s`` timeout (a worker killed mid-peek hands them back by
       itself when that runs out), every attribute and message attribute;
    2. stop at an empty receive (drained), a receive with only ids already seen, the message
       budget, or the hold budget;
    3. always — even when a receive failed — ChangeMessageVisibilityBatch(0) every handle held,
       so the queue's visible and in-flight counts are as they were the moment the peek returns.
    A release refused for one handle (the message was deleted meanwhile) is counted, not raised.
    """
    c = client("sqs", scope)
    held: list[str] = []
    seen: dict[str, PeekedMessage] = {}
    receives, drained, stopped = 0, False, ""
    t0 = time.monotonic()
    try:
        while True:
            if len(seen) >= max_messages:
                stopped = f"budget of {max_messages:,} messages"
                break
            if time.monotonic() - t0 >= hold_s:
                stopped = f"hold budget of {hold_s:g} s"
                break
            resp = call(c, "ReceiveMessage", QueueUrl=url, MaxNumberOfMessages=min(_RECEIVE_MAX, max_messages - len(seen)),
                        VisibilityTimeout=visibility_s, WaitTimeSeconds=0, AttributeNames=["All"],
                        MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"])
            receives += 1
            batch = resp.get("Messages") or []
            if not batch:
                drained, stopped = True, "empty receive"
                break
            new = 0
            for m in batch:
                if m.get("ReceiptHandle"):
                    held.append(m["ReceiptHandle"])
                mid = str(m.get("MessageId", ""))
                if mid and mid not in seen:
                    seen[mid] = _peeked(m)
                    new += 1
            if not new:
                stopped = "a receive returned only messages already seen"
                break
    finally:
        failures = _release(c, url, held)
    return Peek(messages=tuple(seen.values()), receives=receives, drained=drained, stopped=stopped,
                release_failures=failures)


def _release(c, url: str, handles: list[str]) -> int:
    failures = 0
    for i in range(0, len(handles), _RECEIVE_MAX):
        chunk = handles[i:i + _RECEIVE_MAX]
        entries = [{"Id": str(n), "ReceiptHandle": h, "VisibilityTimeout": 0} for n, h in enumerate(chunk)]
        try:
            resp = call(c, "ChangeMessageVisibilityBatch", QueueUrl=url, Entries=entries)
        except Exception:  # noqa: BLE001 - the visibility timeout hands them back by itself
            failures += len(chunk)
            continue
        failures += len(resp.get("Failed") or [])
    return failures
