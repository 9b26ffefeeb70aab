"""Where a loop job re-delivers to, and how a received message becomes what is sent."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ops.aws import lambda_actions, sqs

# SendMessageBatch refuses a call whose entries add up to more than this (bytes).
BATCH_BYTES_MAX = 262_144


@dataclass(frozen=True)
class Target:
    """Where re-delivered messages go (from the job's parameters)."""

    kind: str  # "queue" | "invoke" | "delete"
    url: str = ""
    fifo: bool = False
    function: str = ""  # function ARN (unqualified)

    @classmethod
    def from_params(cls, data: dict) -> "Target":
        return cls(kind=data["kind"], url=data.get("url", ""), fifo=bool(data.get("fifo")), function=data.get("function", ""))


def invocation(message: sqs.ReceivedMessage, function_arn: str) -> tuple[bytes, str]:
    """(payload, qualifier) to re-invoke with: an on-failure invocation record gives its
    requestPayload and the version or alias it names; anything else is the original event."""
    try:
        body = json.loads(message.body)
    except ValueError:
        return message.body.encode("utf-8"), ""
    if isinstance(body, dict) and "requestPayload" in body and isinstance(body.get("requestContext"), dict):
        named = str(body["requestContext"].get("functionArn") or "")
        qualifier = named.split(":")[7] if named.count(":") >= 7 and named.rsplit(":", 1)[0] == function_arn else ""
        return lambda_actions.payload_bytes(body["requestPayload"]), qualifier
    return message.body.encode("utf-8"), ""


def _entry_bytes(m: sqs.ReceivedMessage) -> int:
    size = len(m.body.encode("utf-8"))
    for name, value in m.message_attributes.items():
        size += len(name) + len(value.get("DataType", ""))
        raw = value.get("StringValue", value.get("BinaryValue", b""))
        size += len(raw.encode("utf-8") if isinstance(raw, str) else raw)
    return size


def batches_by_size(messages: list[sqs.ReceivedMessage]) -> list[list[sqs.ReceivedMessage]]:
    out: list[list[sqs.ReceivedMessage]] = [[]]
    used = 0
    for m in messages:
        size = _entry_bytes(m)
        if out[-1] and used + size > BATCH_BYTES_MAX:
            out.append([])
            used = 0
        out[-1].append(m)
        used += size
    return [b for b in out if b]
