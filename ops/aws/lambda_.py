"""AWS Lambda control-plane reads: functions, versions, aliases, async config, event sources."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ops.aws.client import Scope, call, client, paginate
from ops.aws.errors import AwsError


@dataclass(frozen=True)
class FunctionInfo:
    arn: str
    name: str
    runtime: str
    package_type: str
    handler: str
    description: str
    memory_mb: int
    timeout_s: int
    architecture: str
    ephemeral_storage_mb: int
    last_modified: datetime | None
    code_size: int
    code_sha256: str
    dlq_target_arn: str


@dataclass(frozen=True)
class VersionInfo:
    version: str
    description: str
    code_sha256: str
    runtime: str
    memory_mb: int | None
    last_modified: datetime | None


@dataclass(frozen=True)
class AliasInfo:
    name: str
    arn: str
    version: str
    weights: dict[str, float]
    description: str
    revision_id: str


@dataclass(frozen=True)
class AsyncConfig:
    on_failure_arn: str = ""
    on_success_arn: str = ""
    max_event_age_s: int | None = None
    max_retries: int | None = None


@dataclass(frozen=True)
class EventSourceInfo:
    uuid: str
    source_arn: str
    state: str
    batch_size: int | None
    on_failure_arn: str


@dataclass(frozen=True)
class FunctionDetail:
    """What changes rarely and costs several calls: re-read when the function changes."""

    tags: dict[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    provisioned_concurrency: int | None = None
    versions: tuple[VersionInfo, ...] = ()
    async_config: AsyncConfig = AsyncConfig()


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        # Lambda: "2024-05-01T12:00:00.000+0000"
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None


def _function(item: dict) -> FunctionInfo:
    archs = item.get("Architectures") or ["x86_64"]
    return FunctionInfo(
        arn=item["FunctionArn"],
        name=item["FunctionName"],
        runtime=item.get("Runtime", ""),
        package_type=item.get("PackageType", "Zip"),
        handler=item.get("Handler", ""),
        description=item.get("Description", "")[:256],
        memory_mb=int(item.get("MemorySize", 128)),
        timeout_s=int(item.get("Timeout", 3)),
        architecture=archs[0],
        ephemeral_storage_mb=int((item.get("EphemeralStorage") or {}).get("Size", 512)),
        last_modified=_parse_time(item.get("LastModified")),
        code_size=int(item.get("CodeSize", 0)),
        code_sha256=item.get("CodeSha256", ""),
        dlq_target_arn=(item.get("DeadLetterConfig") or {}).get("TargetArn", ""),
    )


def functions_list(scope: Scope) -> list[FunctionInfo]:
    c = client("lambda", scope)
    return [_function(item) for item in paginate(c, "ListFunctions", "Functions")]


def _versions(c, name: str) -> tuple[VersionInfo, ...]:
    out = []
    for item in paginate(c, "ListVersionsByFunction", "Versions", FunctionName=name):
        if item.get("Version") == "$LATEST":
            continue
        out.append(
            VersionInfo(
                version=item["Version"],
                description=item.get("Description", "")[:256],
                code_sha256=item.get("CodeSha256", ""),
                runtime=item.get("Runtime", ""),
                memory_mb=item.get("MemorySize"),
                last_modified=_parse_time(item.get("LastModified")),
            )
        )
    return tuple(out)


def _aliases(c, name: str) -> tuple[AliasInfo, ...]:
    out = []
    for item in paginate(c, "ListAliases", "Aliases", FunctionName=name):
        weights = ((item.get("RoutingConfig") or {}).get("AdditionalVersionWeights")) or {}
        out.append(
            AliasInfo(
                name=item["Name"],
                arn=item["AliasArn"],
                version=item["FunctionVersion"],
                weights={str(k): float(v) for k, v in weights.items()},
                description=item.get("Description", "")[:256],
                revision_id=item.get("RevisionId", ""),
            )
        )
    return tuple(out)


def _optional(c, operation: str, **params) -> dict | None:
    """A read whose 'not configured' answer is ResourceNotFound, not an error."""
    try:
        return call(c, operation, **params)
    except AwsError as err:
        if err.code in {"ResourceNotFoundException", "ProvisionedConcurrencyConfigNotFoundException"} or (
            err.status == 404
        ):
            return None
        raise


def _async_config(c, name: str) -> AsyncConfig:
    resp = _optional(c, "GetFunctionEventInvokeConfig", FunctionName=name)
    if not resp:
        return AsyncConfig()
    dest = resp.get("DestinationConfig") or {}
    return AsyncConfig(
        on_failure_arn=(dest.get("OnFailure") or {}).get("Destination", "") or "",
        on_success_arn=(dest.get("OnSuccess") or {}).get("Destination", "") or "",
        max_event_age_s=resp.get("MaximumEventAgeInSeconds"),
        max_retries=resp.get("MaximumRetryAttempts"),
    )


def _provisioned(c, name: str) -> int | None:
    try:
        configs = list(paginate(c, "ListProvisionedConcurrencyConfigs", "ProvisionedConcurrencyConfigs", FunctionName=name))
    except AwsError as err:
        if err.status == 404 or err.code == "ResourceNotFoundException":
            return None
        raise
    if not configs:
        return None
    return sum(int(cfg.get("AllocatedProvisionedConcurrentExecutions") or cfg.get("RequestedProvisionedConcurrentExecutions") or 0) for cfg in configs)


def event_sources_all(scope: Scope) -> dict[str, tuple[EventSourceInfo, ...]]:
    """Every event source mapping in the region, by unqualified function ARN (one listing)."""
    c = client("lambda", scope)
    out: dict[str, list[EventSourceInfo]] = {}
    for item in paginate(c, "ListEventSourceMappings", "EventSourceMappings"):
        fn_arn = ":".join(item.get("FunctionArn", "").split(":")[:7])
        dest = (item.get("DestinationConfig") or {}).get("OnFailure") or {}
        out.setdefault(fn_arn, []).append(
            EventSourceInfo(
                uuid=item["UUID"],
                source_arn=item.get("EventSourceArn", ""),
                state=item.get("State", ""),
                batch_size=item.get("BatchSize"),
                on_failure_arn=dest.get("Destination", "") or "",
            )
        )
    return {arn: tuple(items) for arn, items in out.items()}


def aliases_list(scope: Scope, fn: FunctionInfo) -> tuple[AliasInfo, ...]:
    return _aliases(client("lambda", scope), fn.name)


def function_detail(scope: Scope, fn: FunctionInfo) -> FunctionDetail:
    """Tags, concurrency, versions and async config of one function (five calls)."""
    c = client("lambda", scope)
    tags = (call(c, "ListTags", Resource=fn.arn).get("Tags")) or {}
    concurrency = _optional(c, "GetFunctionConcurrency", FunctionName=fn.name) or {}
    return FunctionDetail(
        tags=dict(tags),
        reserved_concurrency=concurrency.get("ReservedConcurrentExecutions"),
        provisioned_concurrency=_provisioned(c, fn.name),
        versions=_versions(c, fn.name),
        async_config=_async_config(c, fn.name),
    )


def function_get(scope: Scope, name: str) -> FunctionInfo | None:
    """One function's configuration (GetFunctionConfiguration), or None if it no longer exists."""
    resp = _optional(client("lambda", scope), "GetFunctionConfiguration", FunctionName=name)
    return _function(resp) if resp else None


def reserved_concurrency(scope: Scope, name: str) -> int | None:
    """GetFunctionConcurrency: the function's reserved concurrency, None when it has none."""
    resp = _optional(client("lambda", scope), "GetFunctionConcurrency", FunctionName=name) or {}
    return resp.get("ReservedConcurrentExecutions")


def provisioned_concurrency(scope: Scope, name: str) -> int | None:
    """The function's provisioned concurrency summed over its qualifiers (one listing)."""
    return _provisioned(client("lambda", scope), name)


def unreserved_concurrency(scope: Scope) -> int | None:
    """GetAccountSettings' UnreservedConcurrentExecutions: the account limit minus every
    function's reserved concurrency in the region, so it moves whenever one of them does."""
    resp = call(client("lambda", scope), "GetAccountSettings")
    value = (resp.get("AccountLimit") or {}).get("UnreservedConcurrentExecutions")
    return int(value) if value is not None else None
