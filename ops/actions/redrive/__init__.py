"""DLQ actions as jobs: redrive (the product's loop, or SQS's move task for a whole event-source
DLQ), delete chosen messages, purge. Each job's target is the DLQ's ARN, so at most one of them
runs per queue at a time (the runner's one-active-per-target constraint).

Parameters every kind carries (written by ops.services.redrive): ``queue`` (the Queue's id);
the loop kinds add ``selection`` (ops.selectors.redrive.RedriveSelection.as_params, frozen by
its ``upto`` at the highest stored message id the confirm page saw, so later arrivals are left),
``target`` (``{"kind": "queue", "url", "fifo"}``, ``{"kind": "invoke", "function"}`` or
``{"kind": "delete"}``) and ``rate``; the move kind adds ``velocity``.
"""

from __future__ import annotations

from django.conf import settings

from ops.actions.redrive.delivery import Target
from ops.actions.redrive.items import items_prepare
from ops.actions.redrive.loop import RedriveLoop
from ops.actions.redrive.move import move_run, purge_run
from ops.actions.runner import JobContext, JobFailed, job_kind_register
from ops.aws import sqs
from ops.aws.errors import AwsError
from ops.models import JobKind, Queue
from ops.pollers.base import account_scope
from ops.selectors.dlq import dlq_queue
from ops.selectors.redrive import RedriveSelection


def _queue(ctx: JobContext) -> Queue:
    queue = Queue.objects.filter(pk=ctx.job.parameters.get("queue")).first()
    if queue is None:
        raise JobFailed("the queue is no longer known to Lambda Ops; nothing was touched")
    # Checked again when the job runs: the queue's role may have changed since the request (or
    # the job was made some other way), and a live event source queue is never acted on.
    if dlq_queue(pk=queue.pk) is None:
        raise JobFailed(f"{queue.name} is not a dead-letter queue of any known function; nothing was touched")
    return queue


def _url(ctx: JobContext, queue: Queue) -> str:
    try:
        return sqs.queue_url(account_scope(ctx.job.account, ctx.job.region), queue.arn)
    except AwsError as err:
        if err.code in sqs.QUEUE_GONE_CODES:
            raise JobFailed(f"the DLQ {queue.name} no longer exists ({err.code}); nothing was touched") from err
        raise JobFailed(f"could not find {queue.name}: {err}") from err


def _loop_job(ctx: JobContext, *, delete: bool) -> dict:
    params = ctx.job.parameters
    queue = _queue(ctx)
    selection = RedriveSelection.from_params(params.get("selection") or {})
    target = Target(kind="delete") if delete else Target.from_params(params["target"])
    url = _url(ctx, queue)  # before any item is written: a missing queue touches nothing
    if target.kind == "queue" and not target.url:
        source = Queue(name=params["target"]["arn"].rsplit(":", 1)[-1], arn=params["target"]["arn"])
        target = Target(kind="queue", url=_url(ctx, source), fifo=target.fifo)
    items_prepare(ctx, queue=queue, selection=selection, delete=delete)
    rate = float(params.get("rate") or settings.REDRIVE_RATE_PER_SECOND)
    loop = RedriveLoop(ctx, scope=account_scope(ctx.job.account, ctx.job.region), queue=queue, url=url, target=target, rate=rate)
    return loop.run()


def dlq_redrive_job(ctx: JobContext) -> dict:
    return _loop_job(ctx, delete=False)


def dlq_delete_job(ctx: JobContext) -> dict:
    return _loop_job(ctx, delete=True)


def dlq_move_job(ctx: JobContext) -> dict:
    queue = _queue(ctx)
    velocity = ctx.job.parameters.get("velocity")
    return move_run(ctx, scope=account_scope(ctx.job.account, ctx.job.region), source_arn=queue.arn, velocity=int(velocity) if velocity else None)


def dlq_purge_job(ctx: JobContext) -> dict:
    queue = _queue(ctx)
    return purge_run(ctx, scope=account_scope(ctx.job.account, ctx.job.region), url=_url(ctx, queue))


# The loop kinds resume from their items (delivered ones are deleted, never sent again); the
# move kind adopts the task SQS is still running. A purge is one call: run again, it is harmless
# but for SQS's 60 s rule, so it is not resumed.
job_kind_register(kind=JobKind.DLQ_REDRIVE, work=dlq_redrive_job, resumable=True, label="DLQ redrive")
job_kind_register(kind=JobKind.DLQ_DELETE, work=dlq_delete_job, resumable=True, label="Delete DLQ messages")
job_kind_register(kind=JobKind.DLQ_MOVE, work=dlq_move_job, resumable=True, label="DLQ redrive (SQS move task)")
job_kind_register(kind=JobKind.DLQ_PURGE, work=dlq_purge_job, resumable=False, label="Purge DLQ")
