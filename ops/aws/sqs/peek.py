"""The DLQ poller's peek: receive, then hand every message back (ops/pollers/dlq)."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass

from ops.aws.client import Scope, call, client

_RECEIVE_MAX = 10  # ReceiveMessage's own limit per call


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
