"""Lambda calls that change something or invoke: what the product's actions (rollback, canary,
emergency controls, DLQ re-delivery by async invoke) send to AWS. Reads stay in ops.aws.lambda_."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ops.aws.client import Scope, cached_client, call, client, paginate
from ops.aws.errors import AwsError
from ops.aws.lambda_ import AliasInfo, EventSourceInfo

# --- aliases, concurrency and event sources (rollback, canary, emergency controls) -------------
# GetAlias, UpdateAlias, GetFunctionConcurrency, PutFunctionConcurrency, DeleteFunctionConcurrency,
# GetEventSourceMapping, UpdateEventSourceMapping; and, for the confirm page's warnings,
# ListEventSourceMappings and GetPolicy.

NOT_FOUND = frozenset({"ResourceNotFoundException"})


def _alias(item: dict) -> AliasInfo:
    weights = ((item.get("RoutingConfig") or {}).get("AdditionalVersionWeights")) or {}
    return AliasInfo(
        name=item["Name"],
        arn=item["AliasArn"],
        version=item["FunctionVersion"],
        weights={str(k): float(v) for k, v in weights.items()},
        description=(item.get("Description") or "")[:256],
        revision_id=item.get("RevisionId", ""),
    )


def alias_get(scope: Scope, *, function: str, alias: str) -> AliasInfo | None:
    """GetAlias: the alias as Lambda has it now, or None when it no longer exists."""
    try:
        return _alias(call(client("lambda", scope), "GetAlias", FunctionName=function, Name=alias))
    except AwsError as err:
        if err.code in NOT_FOUND:
            return None
        raise


def alias_update(
    scope: Scope, *, function: str, alias: str, version: str, weights: dict[str, float], revision_id: str
) -> AliasInfo:
    """UpdateAlias guarded by RevisionId: Lambda refuses (PreconditionFailedException, 412) when
    the alias changed since ``revision_id`` was read. ``weights`` {} clears weighted routing."""
    resp = call(
        client("lambda", scope),
        "UpdateAlias",
        FunctionName=function,
        Name=alias,
        FunctionVersion=version,
        RoutingConfig={"AdditionalVersionWeights": {str(k): float(v) for k, v in weights.items()}},
        RevisionId=revision_id,
    )
    return _alias(resp)


def concurrency_get(scope: Scope, *, function: str) -> int | None:
    """GetFunctionConcurrency: the reserved concurrency, None when the function has none."""
    resp = call(client("lambda", scope), "GetFunctionConcurrency", FunctionName=function)
    value = resp.get("ReservedConcurrentExecutions")
    return int(value) if value is not None else None


def concurrency_put(scope: Scope, *, function: str, reserved: int) -> int:
    """PutFunctionConcurrency (0 throttles every invocation). Setting the same value twice is harmless."""
    resp = call(client("lambda", scope), "PutFunctionConcurrency", FunctionName=function,
                ReservedConcurrentExecutions=int(reserved))
    return int(resp.get("ReservedConcurrentExecutions", reserved))


def concurrency_delete(scope: Scope, *, function: str) -> None:
    """DeleteFunctionConcurrency: back to the account's unreserved pool (idempotent)."""
    call(client("lambda", scope), "DeleteFunctionConcurrency", FunctionName=function)


def _esm(item: dict) -> EventSourceInfo:
    dest = (item.get("DestinationConfig") or {}).get("OnFailure") or {}
    return EventSourceInfo(
        uuid=item["UUID"],
        source_arn=item.get("EventSourceArn", ""),
        state=item.get("State", ""),
        batch_size=item.get("BatchSize"),
        on_failure_arn=dest.get("Destination", "") or "",
    )


def esm_get(scope: Scope, *, uuid: str) -> EventSourceInfo | None:
    """GetEventSourceMapping, or None when the mapping no longer exists."""
    try:
        return _esm(call(client("lambda", scope), "GetEventSourceMapping", UUID=uuid))
    except AwsError as err:
        if err.code in NOT_FOUND:
            return None
        raise


def esm_update(scope: Scope, *, uuid: str, enabled: bool) -> EventSourceInfo:
    """UpdateEventSourceMapping(Enabled=…): stop or resume consuming the source."""
    return _esm(call(client("lambda", scope), "UpdateEventSourceMapping", UUID=uuid, Enabled=bool(enabled)))


@dataclass(frozen=True)
class Trigger:
    """Something that invokes the function, and which qualifier it invokes."""

    kind: str  # "event source" | "permission"
    source: str  # the source ARN, or the principal allowed to invoke
    qualifier: str  # "" = unqualified ($LATEST), an alias name or a version


def _qualifier(function_arn: str) -> str:
    parts = function_arn.split(":")
    return parts[7] if len(parts) > 7 else ""


def function_triggers(scope: Scope, *, function: str) -> tuple[Trigger, ...]:
    """Event source mappings (ListEventSourceMappings) and resource-policy permissions (GetPolicy,
    of the function and of each qualifier a mapping names) with the qualifier each invokes."""
    import json

    c = client("lambda", scope)
    out: list[Trigger] = []
    for item in paginate(c, "ListEventSourceMappings", "EventSourceMappings"):
        arn = item.get("FunctionArn", "")
        if arn.split(":")[6:7] == [function]:
            out.append(Trigger("event source", item.get("EventSourceArn", ""), _qualifier(arn)))
    try:
        policy = json.loads(call(c, "GetPolicy", FunctionName=function).get("Policy") or "{}")
    except AwsError as err:
        if err.code not in NOT_FOUND:
            raise
        policy = {}
    except ValueError:
        policy = {}
    for st in policy.get("Statement") or []:
        if not isinstance(st, dict) or st.get("Effect", "Allow") != "Allow":
            continue
        principal = st.get("Principal")
        if isinstance(principal, dict):
            principal = principal.get("Service") or principal.get("AWS") or ""
        resource = st.get("Resource") or ""
        out.append(Trigger("permission", str(principal), _qualifier(resource if isinstance(resource, str) else "")))
    return tuple(out)


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
