"""Inventory: what functions, versions, aliases and queues exist in one account×region.

A run:
1. lists the functions (paginated) and, per function, reads tags, concurrency, versions,
   aliases, async invoke config and event source mappings;
2. upserts them on their natural keys (ARN; function+version; function+alias name);
3. records every alias move it sees as an AliasChange (deploy markers, rollback targets);
4. links the function to its queues (Lambda DLQ, on-failure destination, event source queue and
   that queue's own DLQ) and reads each queue's attributes;
5. marks functions and aliases that AWS no longer lists as gone (history is kept).
A function that vanishes between steps 1 and 2 is skipped with a warning and marked gone on
the next run; it never fails the run.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from ops.aws import lambda_ as aws_lambda
from ops.aws import sqs as aws_sqs
from ops.aws.errors import AwsError
from ops.models import (
    Alias,
    AliasChange,
    AliasChangeSource,
    EventSourceMapping,
    Function,
    FunctionQueue,
    FunctionVersion,
    Queue,
    QueueRole,
)
from ops.pollers.base import PollContext

_FUNCTION_FIELDS = [
    "name",
    "runtime",
    "package_type",
    "handler",
    "description",
    "memory_mb",
    "timeout_s",
    "architecture",
    "ephemeral_storage_mb",
    "last_modified",
    "code_size",
    "code_sha256",
    "dlq_target_arn",
]


def inventory_poll(ctx: PollContext) -> None:
    now = timezone.now()
    listed = aws_lambda.functions_list(ctx.scope)
    seen_arns: set[str] = set()
    for info in listed:
        try:
            detail = aws_lambda.function_detail(ctx.scope, info)
        except AwsError as err:
            if err.code == "ResourceNotFoundException":
                ctx.warn(f"{info.name} disappeared while being read; it will be marked gone next run")
                continue
            raise
        seen_arns.add(info.arn)
        with transaction.atomic():
            fn = _function_upsert(ctx, info, detail, now)
            _versions_upsert(fn, detail.versions)
            _aliases_upsert(fn, detail.aliases, now)
            _event_sources_upsert(fn, detail.event_sources, now)
        _queues_link(ctx, fn, detail, now)
        ctx.items += 1
    gone = (
        Function.objects.filter(account=ctx.account, region=ctx.region, gone_at=None)
        .exclude(arn__in=seen_arns)
        .update(gone_at=now)
    )
    if gone:
        ctx.warn(f"{gone} function(s) no longer exist in AWS; marked gone")


def _function_upsert(ctx: PollContext, info, detail, now) -> Function:
    values = {f: getattr(info, f) for f in _FUNCTION_FIELDS}
    values.update(
        tags=detail.tags,
        reserved_concurrency=detail.reserved_concurrency,
        provisioned_concurrency=detail.provisioned_concurrency,
        on_failure_arn=detail.async_config.on_failure_arn,
        on_success_arn=detail.async_config.on_success_arn,
        async_max_event_age_s=detail.async_config.max_event_age_s,
        async_max_retries=detail.async_config.max_retries,
        last_seen=now,
        gone_at=None,
        account=ctx.account,
        region=ctx.region,
    )
    fn, _ = Function.objects.update_or_create(arn=info.arn, defaults=values)
    return fn


def _versions_upsert(fn: Function, versions) -> None:
    rows = [
        FunctionVersion(
            function=fn,
            version=v.version,
            description=v.description,
            code_sha256=v.code_sha256,
            runtime=v.runtime,
            memory_mb=v.memory_mb,
            last_modified=v.last_modified,
        )
        for v in versions
    ]
    FunctionVersion.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["function", "version"],
        update_fields=["description", "code_sha256", "runtime", "memory_mb", "last_modified"],
    )
    listed = [v.version for v in versions]
    FunctionVersion.objects.filter(function=fn, gone_at=None).exclude(version__in=listed).update(gone_at=timezone.now())


def _aliases_upsert(fn: Function, aliases, now) -> None:
    existing = {a.name: a for a in Alias.objects.filter(function=fn)}
    for info in aliases:
        old = existing.get(info.name)
        if old is None:
            alias = Alias.objects.create(
                function=fn,
                name=info.name,
                arn=info.arn,
                version=info.version,
                weights=info.weights,
                description=info.description,
                revision_id=info.revision_id,
                last_seen=now,
            )
            AliasChange.objects.create(
                alias=alias,
                function=fn,
                at=now,
                to_version=info.version,
                to_weights=info.weights,
                source=AliasChangeSource.CREATED,
            )
            continue
        moved = old.version != info.version or _norm(old.weights) != _norm(info.weights)
        if moved:
            AliasChange.objects.create(
                alias=old,
                function=fn,
                at=now,
                from_version=old.version,
                from_weights=old.weights,
                to_version=info.version,
                to_weights=info.weights,
                source=AliasChangeSource.OBSERVED,
            )
        old.version = info.version
        old.weights = info.weights
        old.description = info.description
        old.revision_id = info.revision_id
        old.last_seen = now
        old.gone_at = None
        old.save(update_fields=["version", "weights", "description", "revision_id", "last_seen", "gone_at"])
    listed = {a.name for a in aliases}
    Alias.objects.filter(function=fn, gone_at=None).exclude(name__in=listed).update(gone_at=now)


def _norm(weights: dict) -> dict[str, float]:
    return {str(k): round(float(v), 6) for k, v in (weights or {}).items()}


def _event_sources_upsert(fn: Function, sources, now) -> None:
    for esm in sources:
        EventSourceMapping.objects.update_or_create(
            uuid=esm.uuid,
            defaults={
                "function": fn,
                "source_arn": esm.source_arn,
                "state": esm.state,
                "batch_size": esm.batch_size,
                "on_failure_arn": esm.on_failure_arn,
                "last_seen": now,
                "gone_at": None,
            },
        )
    listed = [e.uuid for e in sources]
    EventSourceMapping.objects.filter(function=fn, gone_at=None).exclude(uuid__in=listed).update(gone_at=now)


def _queue_roles(fn: Function, detail) -> list[tuple[str, str]]:
    roles = []
    if fn.dlq_target_arn.startswith("arn:aws:sqs:"):
        roles.append((fn.dlq_target_arn, QueueRole.LAMBDA_DLQ))
    if fn.on_failure_arn.startswith("arn:aws:sqs:"):
        roles.append((fn.on_failure_arn, QueueRole.ON_FAILURE))
    for esm in detail.event_sources:
        if esm.source_arn.startswith("arn:aws:sqs:"):
            roles.append((esm.source_arn, QueueRole.EVENT_SOURCE))
        if esm.on_failure_arn.startswith("arn:aws:sqs:"):
            roles.append((esm.on_failure_arn, QueueRole.ON_FAILURE))
    return roles


def _queues_link(ctx: PollContext, fn: Function, detail, now) -> None:
    roles = _queue_roles(fn, detail)
    seen: set[tuple[int, str]] = set()
    for arn, role in roles:
        queue = _queue_upsert(ctx, arn, now)
        if queue is None:
            continue
        FunctionQueue.objects.get_or_create(function=fn, queue=queue, role=role)
        seen.add((queue.pk, role))
        if role == QueueRole.EVENT_SOURCE and queue.dlq_arn:
            dlq = _queue_upsert(ctx, queue.dlq_arn, now)
            if dlq is not None:
                FunctionQueue.objects.get_or_create(function=fn, queue=dlq, role=QueueRole.SOURCE_DLQ)
                seen.add((dlq.pk, QueueRole.SOURCE_DLQ))
    for link in FunctionQueue.objects.filter(function=fn):
        if (link.queue_id, link.role) not in seen:
            link.delete()


def _queue_upsert(ctx: PollContext, arn: str, now) -> Queue | None:
    try:
        region, account_id, name = aws_sqs.arn_parts(arn)
    except ValueError as exc:
        ctx.warn(str(exc))
        return None
    defaults = {"account": ctx.account, "region": region, "name": name, "fifo": name.endswith(".fifo"), "last_seen": now}
    try:
        info = aws_sqs.queue_info(ctx.scope, arn)
    except AwsError as err:
        if err.transient:
            raise
        # A queue we may not read (another account, deleted): keep the link, say why.
        ctx.warn(f"queue {name}: {err.code}")
        defaults.update(attributes_error=f"{err.code}: {err.message}"[:256])
        if err.code in {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}:
            defaults["gone_at"] = now
    else:
        defaults.update(
            url=info.url,
            dlq_arn=info.dlq_arn,
            max_receive_count=info.max_receive_count,
            retention_s=info.retention_s,
            visibility_timeout_s=info.visibility_timeout_s,
            attributes_error="",
            gone_at=None,
        )
    queue, _ = Queue.objects.update_or_create(arn=arn, defaults=defaults)
    return queue
