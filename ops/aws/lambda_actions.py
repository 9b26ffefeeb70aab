"""Lambda calls that change something or invoke: what the product's actions (rollback, canary,
emergency controls, DLQ re-delivery by async invoke) send to AWS. Reads stay in ops.aws.lambda_."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ops.aws.client import Scope, cached_client, call


# --- DLQ re-delivery (ops.actions.redrive) ---------------------------------------------------------


@dataclass(frozen=True)
class AsyncInvocation:
    request_id: str
    status: int  # 202 when Lambda queued the event


def function_invoke_async(scope: Scope, *, function: str, payload: bytes, qualifier: str = "") -> AsyncInvocation:
    """Invoke with InvocationType=Event: Lambda queues the event and answers 202 at once (the
    function's own retries and DLQ/destinations apply again, as for the first delivery)."""
    params: dict = {"FunctionName": function, "InvocationType": "Event", "Payload": payload}
    if qualifier:
        params["Qualifier"] = qualifier
    response = call(cached_client("lambda", scope), "Invoke", **params)
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return AsyncInvocation(
        request_id=headers.get("x-amzn-requestid", "") or response.get("ResponseMetadata", {}).get("RequestId", ""),
        status=int(response.get("StatusCode") or 0),
    )


def payload_bytes(value) -> bytes:
    """A payload to invoke with: text as UTF-8, anything else as its JSON."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value, separators=(",", ":")).encode("utf-8")
