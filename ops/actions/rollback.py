"""Alias moves: rollback, canary finish and canary abort — one guarded UpdateAlias each.

The job's parameters (written at request time by ops.services.actions) say where the alias was
when the operator saw the confirm page (``revision_id``, ``from_version``, ``from_weights``)
and where it should go (``to_version``, ``to_weights`` — {} clears weighted routing).

A run:
1. GetAlias. Gone → fail ("deleted meanwhile"). Already at the target with a RevisionId other
   than the page's → if an earlier attempt of this job sent the UpdateAlias (its log says so:
   step 2's marker), that attempt moved it: verified below, never sent twice. Otherwise someone
   else did (a deploy pipeline, another operator): fail, naming who and when, and record nothing,
   so their move is never shown or audited as this operator's rollback. A RevisionId other than
   the page's and not at the target → refuse, naming who moved it and when if the history knows.
2. A log entry marking that the update is about to be sent (committed first, so a resumed attempt
   knows), then one UpdateAlias carrying the page's RevisionId, so Lambda itself refuses (412) if
   the alias moved between our read and our write.
3. A timeout or connection error after the request may have been sent: read back first; moved
   to the target → it went through; still at the page's RevisionId → retry once (the RevisionId
   makes the retry safe); anything else → fail, saying what the alias is now.
4. GetAlias again to verify; record the move as an AliasChange (source rollback or canary,
   the operator, the job, dated by the action) and update the Alias row, under the alias's
   history lock — the inventory and CloudTrail later merge into this row (ops.pollers.changes.merge).

Resumable: step 1 reads back before anything is sent, so a resumed run never applies twice; the
marker of step 2 tells its own earlier move from someone else's.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ops.actions.runner import JobContext, JobFailed, job_kind_register
from ops.aws import lambda_actions
from ops.aws.errors import AwsError
from ops.aws.lambda_ import AliasInfo
from ops.models import (
    Alias,
    AliasChange,
    AliasChangeSource,
    Change,
    ChangeKind,
    DeployDating,
    JobKind,
    JobLogEntry,
    JobLogLevel,
)
from ops.pollers.base import account_scope
from ops.pollers.changes.merge import LAMBDA_OPS_TOOL, alias_lock, norm_weights
from ops.selectors.deploys import alias_last_move, routing_label

SOURCE = {
    JobKind.ALIAS_ROLLBACK: AliasChangeSource.ROLLBACK,
    JobKind.CANARY_FINISH: AliasChangeSource.CANARY,
    JobKind.CANARY_ABORT: AliasChangeSource.CANARY,
}


def _at_target(info: AliasInfo, version: str, weights: dict) -> bool:
    return info.version == version and norm_weights(info.weights) == norm_weights(weights)


def _moved_message(alias: Alias, info: AliasInfo) -> str:
    """"live moved to v10 at 14:41 by deploy-bot" when the history knows, else what it is now."""
    now_label = routing_label(info.version, info.weights)
    mover = _mover(alias, info)
    if mover:
        return f"{alias.name} moved to {now_label} {mover}"
    return f"{alias.name} is now {now_label} (moved since the page was rendered; who moved it is not known yet)"


def _mover(alias: Alias, info: AliasInfo) -> str:
    """"at 14:41:02 UTC by deploy-bot" for the alias's latest move when it led to what we read, else ""."""
    last = alias_last_move(alias=alias)
    if last is not None and last.to_version == info.version and norm_weights(last.to_weights) == norm_weights(info.weights):
        who = last.actor.get_username() if last.actor else last.actor_name or "someone outside Lambda Ops"
        return f"at {last.at:%H:%M:%S} UTC by {who}"
    event = (
        Change.objects.filter(function=alias.function, kind=ChangeKind.ALIAS, qualifier=alias.name)
        .order_by("-at")
        .first()
    )
    if event is not None and event.after.get("version") == info.version:
        return f"at {event.at:%H:%M:%S} UTC by {event.actor or 'an unknown principal'}"
    return ""


# The data key of the log entry written just before an UpdateAlias is sent.
_SENDING = "update_alias_sending"


def _sent_before(ctx: JobContext) -> bool:
    """Whether an earlier attempt of this job got as far as sending its UpdateAlias."""
    return ctx.attempt > 1 and JobLogEntry.objects.filter(job_id=ctx.job.pk, **{f"data__{_SENDING}": True}).exists()


def _read(ctx: JobContext, scope, p: dict) -> AliasInfo:
    try:
        info = lambda_actions.alias_get(scope, function=p["function"], alias=p["alias"])
    except AwsError as err:
        raise JobFailed(f"could not read the alias ({err.code}: {err.message}); nothing was changed") from err
    if info is None:
        raise JobFailed(f"alias {p['alias']} of {p['function']} no longer exists (deleted meanwhile); nothing was changed")
    return info


def alias_move_job(ctx: JobContext) -> dict:
    job, p = ctx.job, ctx.job.parameters
    scope = account_scope(job.account, job.region)
    alias = Alias.objects.select_related("function").filter(pk=p["alias_id"]).first()
    if alias is None:
        raise JobFailed("the alias is no longer in the inventory; nothing was changed")
    target, weights, expected = p["to_version"], p.get("to_weights") or {}, p["revision_id"]
    goal = routing_label(target, weights)

    # 1. read before acting (also what makes a resumed run safe)
    info = _read(ctx, scope, p)
    ctx.log(f"read {alias.name}: {routing_label(info.version, info.weights)} (revision {info.revision_id[:8]}…)")
    calls = 0
    if info.revision_id != expected:
        if _at_target(info, target, weights) and _sent_before(ctx):
            ctx.log(f"{alias.name} is already at {goal}: an earlier attempt's update went through; not sent again",
                    level=JobLogLevel.WARNING)
        elif _at_target(info, target, weights):
            # someone else's move: taking it as ours would show and audit it as this operator's rollback
            mover = _mover(alias, info) or "since the page was rendered, by someone not known yet"
            raise JobFailed(f"{alias.name} is already on {goal} (moved {mover}); nothing was changed")
        else:
            raise JobFailed(f"refused: {_moved_message(alias, info)}; nothing was changed — reload the confirm page")
    else:
        # the page's RevisionId is the live one: what we read is exactly what the operator saw
        p = {**p, "from_version": info.version, "from_weights": info.weights}
        if job.kind == JobKind.CANARY_FINISH and target not in info.weights:
            raise JobFailed(f"v{target} is not {alias.name}'s canary (weighted: {routing_label(info.version, info.weights)}); nothing was changed")
        if job.kind == JobKind.CANARY_ABORT and (target != info.version or not info.weights):
            raise JobFailed(f"aborting {alias.name}'s canary means all traffic to its primary v{info.version}, not v{target}; nothing was changed")
        ctx.check()  # the last moment a cancel stops it cleanly
        info, calls = _update(ctx, scope, alias, p, info)

    # 4. verify and record
    verified = _read(ctx, scope, p)
    if not _at_target(verified, target, weights):
        raise JobFailed(f"read-back shows {alias.name} at {routing_label(verified.version, verified.weights)}, not {goal}")
    ctx.log(f"verified: {alias.name} → {goal} (revision {verified.revision_id[:8]}…)")
    change = _record(job, alias, p, verified)
    ctx.progress(done=1, total=1)
    return {
        "alias": alias.name,
        "from": routing_label(p.get("from_version", ""), p.get("from_weights")),
        "to": goal,
        "revision_id": verified.revision_id,
        "alias_change": change.pk,
        "update_calls": calls,
    }


def _update(ctx: JobContext, scope, alias: Alias, p: dict, info: AliasInfo) -> tuple[AliasInfo, int]:
    """Steps 2 and 3: one UpdateAlias, and at most one retry after a read-back."""
    target, weights, expected = p["to_version"], p.get("to_weights") or {}, p["revision_id"]
    goal = routing_label(target, weights)
    for attempt in (1, 2):
        ctx.log(f"sending UpdateAlias {alias.name} → {goal}", **{_SENDING: True})
        try:
            moved = lambda_actions.alias_update(
                scope, function=p["function"], alias=p["alias"], version=target, weights=weights, revision_id=expected
            )
            ctx.log(f"UpdateAlias {alias.name} → {goal} accepted")
            return moved, attempt
        except AwsError as err:
            if err.code == "PreconditionFailedException":
                now = _read(ctx, scope, p)
                raise JobFailed(f"refused by Lambda (the alias changed since the page): {_moved_message(alias, now)}; "
                                "nothing was changed — reload the confirm page") from err
            if err.code == "ResourceNotFoundException":
                now = lambda_actions.alias_get(scope, function=p["function"], alias=p["alias"])
                what = (f"alias {p['alias']} was deleted meanwhile" if now is None
                        else f"version {target} (or a version in its routing) does not exist — deleted?")
                raise JobFailed(f"{what}; the alias was not changed") from err
            if err.permanent:
                raise JobFailed(f"AWS refused UpdateAlias ({err.code}: {err.message}); the alias was not changed") from err
            # transient: throttled, a timeout or a dropped connection — it may have been applied
            ctx.log(f"UpdateAlias attempt {attempt} failed ({err.code}); reading back before anything else",
                    level=JobLogLevel.WARNING)
            now = _read(ctx, scope, p)
            if _at_target(now, target, weights) and now.revision_id != expected:
                ctx.log("read-back: the update went through")
                return now, attempt
            if now.revision_id != expected:
                raise JobFailed(f"after a failed UpdateAlias: {_moved_message(alias, now)}; not retried") from err
            if attempt == 2:
                raise JobFailed(f"UpdateAlias failed twice ({err.code}: {err.message}); "
                                f"read-back shows {alias.name} unchanged at {routing_label(now.version, now.weights)}") from err
    raise AssertionError("unreachable")


def _record(job, alias: Alias, p: dict, verified: AliasInfo) -> AliasChange:
    """The move as one AliasChange row with its job and actor (merged into a CloudTrail row if
    the event got here first), and the Alias row as the read-back says — one transaction under
    the alias's history lock, so the inventory's next sighting finds nothing new."""
    now = timezone.now()
    source = SOURCE[job.kind]
    with transaction.atomic():
        alias_lock(alias.pk)
        existing = AliasChange.objects.filter(job=job).first()  # a resumed run that recorded already
        if existing is None:
            # CloudTrail (dated by the event) may have reported our own call first: take it over.
            existing = next(
                (
                    r
                    for r in AliasChange.objects.filter(
                        alias=alias, job=None, to_version=verified.version, tool=LAMBDA_OPS_TOOL,
                        at__gte=(job.started_at or job.created_at) - timedelta(minutes=1),
                    )
                    if norm_weights(r.to_weights) == norm_weights(verified.weights)
                ),
                None,
            )
        fields = dict(
            source=source, actor=job.actor, job=job, from_version=p.get("from_version", ""),
            from_weights=p.get("from_weights") or {},
        )
        if existing is not None:
            for k, v in fields.items():
                setattr(existing, k, v)
            existing.save(update_fields=list(fields))
            change = existing
        else:
            change = AliasChange.objects.create(
                alias=alias, function_id=alias.function_id, at=now, to_version=verified.version,
                to_weights=verified.weights, actor_name=job.actor_name, tool=LAMBDA_OPS_TOOL,
                dated_by=DeployDating.ACTION, **fields,
            )
        Alias.objects.filter(pk=alias.pk).update(
            version=verified.version, weights=verified.weights, revision_id=verified.revision_id, last_seen=now, gone_at=None
        )
    return change


for _kind, _label in (
    (JobKind.ALIAS_ROLLBACK, "Alias rollback"),
    (JobKind.CANARY_FINISH, "Finish canary"),
    (JobKind.CANARY_ABORT, "Abort canary"),
):
    job_kind_register(kind=_kind, work=alias_move_job, resumable=True, label=_label)
