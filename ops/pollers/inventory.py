"""Inventory: what functions, versions, aliases and queues exist in one account×region.

A run:
1. lists the functions (paginated) and every event source mapping of the region (one listing);
2. per function, lists its aliases (every run: alias moves are deploy markers) and — only when
   the function is new, changed (LastModified/CodeSha256), points an alias at a version we do
   not know, or was last read over INVENTORY_DETAIL_REFRESH_SECONDS ago — its tags,
   concurrency, versions and async config. Lambda's control plane allows ~15 calls/s, so an
   unchanged function costs one call per run instead of seven;
3. upserts everything on natural keys (ARN; function+version; function+alias name) and records
   every alias move it sees as an AliasChange (deploy markers, rollback targets);
4. links the function to its queues (Lambda DLQ, on-failure destination, event source queue and
   that queue's own DLQ), reading each queue's attributes at most once per run;
5. marks functions, versions and aliases that AWS no longer lists as gone (history is kept);
6. checks what neither LastModified nor CloudTrail-less polling would show: reserved and
   provisioned concurrency (``ops.pollers.changes.drift``).
A function that vanishes during the run is skipped with a warning and marked gone on the next
run; it never fails the run. Nor does one AWS would not have returned (a name it rejects, a
value the database refuses): it is quarantined (ops.pollers.quarantine) and the rest is stored.
The changes poller re-reads one function at once after a CloudTrail event
(:func:`function_reread`); an alias move it already recorded is merged, never recorded twice
(``ops.pollers.changes.merge``).
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.conf import settings
from django.db import DataError, transaction
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
    QuarantineReason,
    Queue,
    QueueRole,
)
from ops.pollers.base import PollContext
from ops.pollers.changes.drift import concurrency_drift
from ops.pollers.changes.merge import alias_lock, cloudtrail_row
from ops.pollers.quarantine import Item, quarantine_add

# What AWS accepts as a function name (CreateFunction's FunctionName, name form): anything else
# came from an emulator or a corrupt answer, and is set aside instead of failing the scope.
FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")

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
    event_sources = aws_lambda.event_sources_all(ctx.scope)
    known = {f.arn: f for f in Function.objects.filter(account=ctx.account, region=ctx.region)}
    known_versions: dict[int, set[str]] = {}
    for fn_id, version in FunctionVersion.objects.filter(
        function__account=ctx.account, function__region=ctx.region, gone_at=None
    ).values_list("function_id", "version"):
        known_versions.setdefault(fn_id, set()).add(version)
    stale_before = now - timedelta(seconds=settings.INVENTORY_DETAIL_REFRESH_SECONDS)
    queues_read: dict[str, Queue | None] = {}
    seen_arns: set[str] = set()
    detailed: set[int] = set()
    for info in listed:
        if not FUNCTION_NAME.fullmatch(info.name or ""):
            why = "function name AWS would reject (A-Z a-z 0-9 - _, at most 64)"
            quarantine_add(ctx, [Item(QuarantineReason.BAD_NAME, key=info.arn, where=info.arn, detail=why, raw=info.name or "")])
            continue
        old = known.get(info.arn)
        try:
            aliases = aws_lambda.aliases_list(ctx.scope, info)
            detail = None
            if _needs_detail(old, info, aliases, known_versions, stale_before):
                detail = aws_lambda.function_detail(ctx.scope, info)
        except AwsError as err:
            if err.code == "ResourceNotFoundException":
                ctx.warn(f"{info.name} disappeared while being read; it will be marked gone next run")
                continue
            raise
        seen_arns.add(info.arn)
        esms = event_sources.get(info.arn, ())
        try:
            fn = _function_store(ctx, info, aliases=aliases, detail=detail, esms=esms, now=now)
        except DataError as exc:  # a value AWS would not have returned (too long, out of range)
            why = f"the database refused it: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            quarantine_add(ctx, [Item(QuarantineReason.DB_REFUSED, key=info.arn, where=info.arn, detail=why, raw=info.name)])
            continue
        if detail is not None:
            detailed.add(fn.pk)
        _queues_link(ctx, fn, esms, now, queues_read, stale_before)
        ctx.items += 1
    gone = (
        Function.objects.filter(account=ctx.account, region=ctx.region, gone_at=None)
        .exclude(arn__in=seen_arns)
        .update(gone_at=now)
    )
    if gone:
        ctx.warn(f"{gone} function(s) no longer exist in AWS; marked gone")
    concurrency_drift(ctx, skip=detailed)


def function_reread(ctx: PollContext, name: str) -> Function | None:
    """Inventory for one function, details included (after a CloudTrail event named it).
    Event sources and queues are left to the next full run (one listing covers the region)."""
    now = timezone.now()
    info = aws_lambda.function_get(ctx.scope, name)
    if info is None:
        Function.objects.filter(account=ctx.account, region=ctx.region, name=name, gone_at=None).update(gone_at=now)
        return None
    aliases = aws_lambda.aliases_list(ctx.scope, info)
    detail = aws_lambda.function_detail(ctx.scope, info)
    return _function_store(ctx, info, aliases=aliases, detail=detail, esms=None, now=now)


def _function_store(ctx: PollContext, info, *, aliases, detail, esms, now) -> Function:
    with transaction.atomic():
        fn = _function_upsert(ctx, info, detail, now)
        if detail is not None:
            _versions_upsert(fn, detail.versions, now)
        _aliases_upsert(fn, aliases, now)
        if esms is not None:
            _event_sources_upsert(fn, esms, now)
    return fn


def _needs_detail(old: Function | None, info, aliases, known_versions, stale_before) -> bool:
    if old is None or old.gone_at is not None or old.detail_refreshed_at is None:
        return True
    if old.detail_refreshed_at < stale_before:
        return True
    if old.last_modified != info.last_modified or old.code_sha256 != info.code_sha256:
        return True
    versions = known_versions.get(old.pk, set())
    wanted = {a.version for a in aliases} | {v for a in aliases for v in a.weights}
    return not wanted <= versions


def _function_upsert(ctx: PollContext, info, detail, now) -> Function:
    values = {f: getattr(info, f) for f in _FUNCTION_FIELDS}
    values.update(last_seen=now, gone_at=None, account=ctx.account, region=ctx.region)
    if detail is not None:
        values.update(
            tags=detail.tags,
            reserved_concurrency=detail.reserved_concurrency,
            provisioned_concurrency=detail.provisioned_concurrency,
            on_failure_arn=detail.async_config.on_failure_arn,
            on_success_arn=detail.async_config.on_success_arn,
            async_max_event_age_s=detail.async_config.max_event_age_s,
            async_max_retries=detail.async_config.max_retries,
            detail_refreshed_at=now,
        )
    fn, _ = Function.objects.update_or_create(arn=info.arn, defaults=values)
    return fn


def _versions_upsert(fn: Function, versions, now) -> None:
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
    FunctionVersion.objects.filter(function=fn, gone_at=None).exclude(version__in=listed).update(gone_at=now)


def _aliases_upsert(fn: Function, aliases, now) -> None:
    """Upsert the function's aliases; every first sighting and every move becomes an AliasChange,
    unless CloudTrail already recorded that move (then the sighting is noted on its row)."""
    existing = {a.name: a for a in Alias.objects.filter(function=fn)}
    for info in aliases:
        old = existing.get(info.name)
        before = (old.version, _norm(old.weights)) if old else None
        fields = {
            "arn": info.arn,
            "version": info.version,
            "weights": info.weights,
            "description": info.description,
            "revision_id": info.revision_id,
            "last_seen": now,
            "gone_at": None,
        }
        if old is None:
            # The changes poller's re-read and an inventory run hold different run locks and may
            # both meet a new alias: get_or_create's INSERT waits for the other's and then finds
            # its row, instead of failing on the natural key.
            alias, created = Alias.objects.get_or_create(function=fn, name=info.name, defaults=fields)
            if not created:
                old, before = alias, (alias.version, _norm(alias.weights))
        if old is not None and before == (info.version, _norm(info.weights)):
            # The row is already loaded: one UPDATE, no second read. Conditional, so a move a
            # Lambda Ops action wrote since the row was loaded is not overwritten by this older read.
            Alias.objects.filter(pk=old.pk, version=old.version, weights=old.weights).update(**fields)
            continue
        if old is not None:
            alias = old
            alias_lock(old.pk)
            # A Lambda Ops action moved the alias after this run began reading Lambda: its row
            # (from its own read-back) is newer than this sighting, which is not a move.
            if AliasChange.objects.filter(alias=old, job__isnull=False, at__gte=now).exists():
                continue
            # Claimed by a conditional UPDATE: a concurrent re-read that saw the same move first
            # has already recorded it.
            if not Alias.objects.filter(pk=old.pk, version=old.version, weights=old.weights).update(**fields):
                Alias.objects.filter(pk=old.pk).update(**fields)
                continue
        since = old.last_seen if old else None
        merged = cloudtrail_row(alias=alias, version=info.version, weights=info.weights, since=since)
        if merged is not None:
            merged.observed_at, merged.observed_after = now, since
            merged.save(update_fields=["observed_at", "observed_after"])
            continue
        AliasChange.objects.create(
            alias=alias,
            function=fn,
            at=now,
            from_version=old.version if old else "",
            from_weights=old.weights if old else {},
            to_version=info.version,
            to_weights=info.weights,
            source=AliasChangeSource.OBSERVED if old else AliasChangeSource.CREATED,
            observed_at=now,
            observed_after=since,
        )
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


def _queue_roles(fn: Function, esms) -> list[tuple[str, str]]:
    roles = []
    if fn.dlq_target_arn.startswith("arn:aws:sqs:"):
        roles.append((fn.dlq_target_arn, QueueRole.LAMBDA_DLQ))
    if fn.on_failure_arn.startswith("arn:aws:sqs:"):
        roles.append((fn.on_failure_arn, QueueRole.ON_FAILURE))
    for esm in esms:
        if esm.source_arn.startswith("arn:aws:sqs:"):
            roles.append((esm.source_arn, QueueRole.EVENT_SOURCE))
        if esm.on_failure_arn.startswith("arn:aws:sqs:"):
            roles.append((esm.on_failure_arn, QueueRole.ON_FAILURE))
    return roles


def _queues_link(ctx: PollContext, fn: Function, esms, now, queues_read: dict, stale_before) -> None:
    roles = _queue_roles(fn, esms)
    seen: set[tuple[int, str]] = set()

    def read(arn: str) -> Queue | None:
        if arn not in queues_read:
            fresh = Queue.objects.filter(arn=arn, last_seen__gte=stale_before, attributes_error="", gone_at=None).first()
            queues_read[arn] = fresh or _queue_upsert(ctx, arn, now)
        return queues_read[arn]

    for arn, role in roles:
        queue = read(arn)
        if queue is None:
            continue
        FunctionQueue.objects.get_or_create(function=fn, queue=queue, role=role)
        seen.add((queue.pk, role))
        if role == QueueRole.EVENT_SOURCE and queue.dlq_arn:
            dlq = read(queue.dlq_arn)
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
