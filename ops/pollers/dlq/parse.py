"""One peeked message → the DlqMessage columns: what it is, what failed. Pure, bounded.

The three shapes a function's failed events take:
- Lambda async DLQ (DeadLetterConfig): the original event as the body; Lambda adds the message
  attributes RequestID, ErrorCode and ErrorMessage.
- On-failure destination: an invocation record (requestContext with requestId, functionArn,
  condition, approximateInvokeCount; requestPayload; responseContext; responsePayload with
  errorType/errorMessage). A stream source's record carries shard positions
  (KinesisBatchInfo, DDBStreamBatchInfo, …) instead of the payload: shown, never replayable.
- Event-source DLQ (a queue's RedrivePolicy): the original queue message, as sent.
The body decides where it can (an invocation record says so itself); otherwise the queue's role.
The error group uses the log error groups' normalisation (ops.pollers.logs.errors), so a DLQ
group and a log group of the same error share one signature.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from ops.models import DlqMessageShape, QueueRole
from ops.pollers.logs.errors import TIMED_OUT, TYPED, normalise, signature

MAX_ERROR_MESSAGE = 2000
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL and surrogates: text Postgres refuses
_BATCH_INFO_SUFFIX = "BatchInfo"  # KinesisBatchInfo, DDBStreamBatchInfo, KafkaBatchInfo, …


@dataclass(frozen=True)
class Parsed:
    shape: str
    body_text: str
    body_json: object | None
    request_id: str = ""
    function_arn: str = ""
    condition: str = ""
    approximate_invoke_count: int | None = None
    error_code: str = ""
    error_type: str = ""
    error_message: str = ""
    group_signature: str = ""
    replayable: bool = True
    receive_count: int = 0
    sent_at: datetime | None = None


def body_decoded(body: bytes) -> str:
    """The body as text for search and display: Postgres text holds no NUL and no lone
    surrogate, so those become U+FFFD here (the ``body`` column keeps the exact bytes)."""
    text = body.decode("utf-8", "replace")
    return text.replace("\x00", "\ufffd")


def body_parsed(text: str) -> object | None:
    """The body as JSON when it is JSON that jsonb can hold, else None: a NUL (\\u0000) or a
    lone surrogate (\\ud800) escaped anywhere in a key or a value parses in Python, but
    Postgres refuses it, and one such message would fail the whole store."""
    stripped = text.lstrip()
    if not stripped or stripped[0] not in "{[":
        return None
    try:
        # strict=False: raw control characters inside strings (a producer's bug, common in
        # DLQs) still parse, so the body can be pretty-printed and searched by path
        doc = json.loads(text, strict=False)
    except (ValueError, RecursionError):
        return None
    return doc if _storable(doc) else None


def _storable(doc) -> bool:
    # Iterative, so a deeply nested body cannot hit the recursion limit here.
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if not _storable_text(key):
                    return False
                stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str) and not _storable_text(node):
            return False
    return True


def _storable_text(value: str) -> bool:
    return _UNSTORABLE.search(value) is None


def clean_text(value) -> str:
    """A string for a text column: NUL and lone surrogates (which Postgres refuses) become U+FFFD."""
    value = "" if value is None else str(value)
    # a Python str holds a valid pair as one code point, so any code point left in the range is lone
    return _UNSTORABLE.sub("\ufffd", value)


def error_of(text: str) -> tuple[str, str]:
    """(error type, normalised message) of an error message, as the log error groups read it."""
    text = (text or "").strip()
    if not text:
        return "", ""
    timed_out = TIMED_OUT.search(text)
    if timed_out:
        return "Task timed out", normalise(timed_out.group(0))
    first = text.split("\n", 1)[0]
    m = TYPED.match(first)
    if m:
        return m.group("type")[:200], normalise(m.group("msg") or "")
    return "", normalise(text)


def _attr(message_attributes: dict, name: str) -> str:
    attr = message_attributes.get(name) or {}
    return clean_text(attr.get("value", ""))


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _sent_at(attributes: dict) -> datetime | None:
    ms = _int(attributes.get("SentTimestamp"))
    if ms is None or ms <= 0:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _is_record(doc) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("requestContext"), dict) and (
        "responseContext" in doc or "requestPayload" in doc or _stream_info(doc) is not None
    )


def _stream_info(doc: dict) -> dict | None:
    for key, value in doc.items():
        if isinstance(key, str) and key.endswith(_BATCH_INFO_SUFFIX) and isinstance(value, dict):
            return value
    return None


def message_parse(*, body: bytes, attributes: dict, message_attributes: dict, roles: set[str]) -> Parsed:
    # Parsed before NUL is replaced for display: a body holding NUL is not stored as JSON
    # (jsonb refuses it) rather than stored altered.
    doc = body_parsed(body.decode("utf-8", "replace"))
    text = body_decoded(body)
    common = {
        "body_text": text,
        "body_json": doc,
        "receive_count": _int(attributes.get("ApproximateReceiveCount")) or 0,
        "sent_at": _sent_at(attributes),
    }
    if _is_record(doc):
        ctx = doc["requestContext"]
        response = doc.get("responsePayload") if isinstance(doc.get("responsePayload"), dict) else {}
        response_ctx = doc.get("responseContext") if isinstance(doc.get("responseContext"), dict) else {}
        stream = _stream_info(doc) is not None
        etype = clean_text(response.get("errorType") or "")[:200]
        emsg = clean_text(response.get("errorMessage") or "")
        if not etype and emsg:
            etype, _ = error_of(emsg)
        if not etype and not emsg:
            etype = clean_text(response_ctx.get("functionError") or ctx.get("condition") or "")[:200]
        norm = error_of(emsg)[1] if emsg else ""
        if etype == "" and norm == "":
            norm = normalise(clean_text(ctx.get("condition") or ""))
        return Parsed(
            shape=DlqMessageShape.STREAM_RECORD if stream else DlqMessageShape.INVOCATION_RECORD,
            request_id=clean_text(ctx.get("requestId") or "")[:64],
            function_arn=clean_text(ctx.get("functionArn") or "")[:255],
            condition=clean_text(ctx.get("condition") or "")[:64],
            approximate_invoke_count=_nonneg(ctx.get("approximateInvokeCount")),
            error_code=clean_text(response_ctx.get("statusCode") or "")[:64],
            error_type=etype,
            error_message=emsg[:MAX_ERROR_MESSAGE],
            group_signature=signature(etype, norm),
            replayable=not stream,
            **common,
        )
    lambda_error = _attr(message_attributes, "ErrorMessage")
    if QueueRole.LAMBDA_DLQ in roles or "RequestID" in message_attributes:
        etype, norm = error_of(lambda_error)
        return Parsed(
            shape=DlqMessageShape.ASYNC_EVENT,
            request_id=_attr(message_attributes, "RequestID")[:64],
            error_code=_attr(message_attributes, "ErrorCode")[:64],
            error_type=etype,
            error_message=lambda_error[:MAX_ERROR_MESSAGE],
            group_signature=signature(etype, norm),
            **common,
        )
    if QueueRole.SOURCE_DLQ in roles:
        # The original message: SQS keeps no error with it; one group "no error recorded".
        return Parsed(shape=DlqMessageShape.SOURCE_MESSAGE, group_signature=signature("", ""), **common)
    return Parsed(shape=DlqMessageShape.UNKNOWN, group_signature=signature("", ""), **common)


def _nonneg(value) -> int | None:
    n = _int(value)
    return n if n is not None and 0 <= n < 2**31 else None
